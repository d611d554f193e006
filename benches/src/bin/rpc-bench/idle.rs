//! `rpc-bench idle`: what idle client connections cost a server. Starts a ringrpc server
//! process, opens `--conns` connections to it from this process (each makes `--calls`
//! calls first, then idles), and reports the growth of the server's resident memory per
//! connection.

use std::time::{Duration, Instant};

use clap::Args;
use ringrpc::codec::BytesStr;
use ringrpc::rt::block_on;
use ringrpc_bench::procstat::rss_kib;
use ringrpc_bench::service::bench::{Echo, bench_service};

use super::{BenchResult, Common, Kind, driver, ours_server_args, start_server, stop_server};

#[derive(Args, Clone)]
pub(crate) struct IdleArgs {
    #[command(flatten)]
    common: Common,
    /// Connections to open and leave idle.
    #[arg(long, default_value_t = 10_000)]
    conns: usize,
    /// Calls each connection makes before it idles (0: connect only).
    #[arg(long, default_value_t = 1)]
    calls: usize,
    /// Cores to pin the server's workers to.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    server_cores: Vec<usize>,
}

pub(crate) fn idle(a: IdleArgs) -> BenchResult<()> {
    let (mut child, address) = start_server(
        std::process::Command::new(std::env::current_exe()?).args(ours_server_args(
            Kind::Ringrpc,
            a.common.runtime,
            "tcp://127.0.0.1:0",
            &a.server_cores,
        )),
    )?;
    let pid = child.id();
    let measured = (|| -> BenchResult<(u64, u64)> {
        settle(pid);
        let before = rss_kib(pid)?;
        let after = block_on(driver(a.common.runtime), async {
            let mut clients = Vec::with_capacity(a.conns);
            let request = Echo {
                action: BytesStr::from_static("echo"),
                msg: BytesStr::from_static("idle"),
            };
            for n in 0..a.conns {
                let channel = ringrpc::Client::builder(&address)
                    .connect()
                    .await
                    .map_err(|e| format!("connection {n} of {}: {e}", a.conns))?;
                let client = bench_service::Client::new(channel);
                for _ in 0..a.calls {
                    client
                        .echo(request.clone())
                        .await
                        .map_err(|e| format!("a call on connection {n}: {e}"))?;
                }
                clients.push(client);
            }
            // Every connection is accepted and served by now (each made its calls, or
            // the server had this long to accept it); let the server's memory settle.
            ringrpc::rt::sleep(Duration::from_millis(500)).await;
            let after = rss_kib(pid)?;
            drop(clients);
            BenchResult::Ok(after)
        })??;
        Ok((before, after))
    })();
    stop_server(&mut child)?;
    let (before, after) = measured?;
    let per_connection = after.saturating_sub(before) as f64 / a.conns.max(1) as f64;
    println!(
        "| server | connections | calls each | server RSS before KiB | after KiB | KiB per connection |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| ringrpc | {} | {} | {before} | {after} | {per_connection:.2} |",
        a.conns, a.calls
    );
    println!(
        "{{\"server\":\"ringrpc\",\"connections\":{},\"calls_each\":{},\"server_rss_before_kib\":{before},\"server_rss_after_kib\":{after},\"kib_per_connection\":{per_connection:.3}}}",
        a.conns, a.calls
    );
    Ok(())
}

/// Waits (at most 2 s) until the server's resident memory stops changing.
fn settle(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut last = rss_kib(pid).unwrap_or(0);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = rss_kib(pid).unwrap_or(0);
        if now == last {
            return;
        }
        last = now;
    }
}
