//! `rpc-bench scrape`: what scraping the admin endpoint's metrics costs the calls. One
//! server (with its admin endpoint) is loaded in short back-to-back windows that
//! alternate between no scraping and a scraper fetching `/metrics` every `--every-ms`
//! (which goes first alternates by pair); the table gives the medians of both kinds of
//! window and their ratio (issue #7: p99 within 5 %). Adjacent windows see the same
//! machine, so this machine's slow spells (±15 % between runs) hit both alike.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use ringrpc::transport::Address;
use ringrpc_bench::report::Row;

use super::{
    BenchResult, Common, Kind, LoadArgs, load_spec, measure, ours_server_args, setup_name,
    start_server, stop_server,
};
use ringrpc_bench::report::median;

#[derive(Args, Clone)]
pub(crate) struct ScrapeArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    load: LoadArgs,
    /// Cores to pin the server's workers to.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    server_cores: Vec<usize>,
    /// Milliseconds between scrapes (Prometheus scrapes every 15 s by default; this is
    /// far harsher).
    #[arg(long, default_value_t = 100)]
    every_ms: u64,
    /// Pairs of windows, one scraped and one not (medians are over them); each window is
    /// `--warmup` then `--duration` seconds of load on the same server.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
}

/// What the scraper did.
#[derive(Debug, Default, Clone, Copy)]
struct Scraped {
    scrapes: u64,
    failures: u64,
    total: Duration,
    bytes: usize,
}

/// Fetches `/metrics` from `admin` every `every` while `active`, until `stop`; counts
/// into `tally`.
fn scraper(
    admin: Address,
    every: Duration,
    active: &AtomicBool,
    stop: &AtomicBool,
    tally: &std::sync::Mutex<Scraped>,
) {
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        if active.load(Ordering::Relaxed) {
            let answer = ringrpc::admin::fetch(&admin, "/metrics");
            let took = started.elapsed();
            let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
            match answer {
                Ok(answer) if answer.status == 200 => {
                    tally.scrapes += 1;
                    tally.bytes = answer.body.len();
                    tally.total += took;
                }
                _ => tally.failures += 1,
            }
        }
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}

/// A free loopback port for the server's admin endpoint.
fn free_admin_address() -> BenchResult<String> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?.to_string())
}

/// Reads one figure of a run.
type Figure = fn(&Row) -> f64;

pub(crate) fn scrape(a: ScrapeArgs) -> BenchResult<()> {
    let every = Duration::from_millis(a.every_ms.max(1));
    let admin = free_admin_address()?;
    let mut args = ours_server_args(
        Kind::Ringrpc,
        a.common.runtime,
        "tcp://127.0.0.1:0",
        &a.server_cores,
    );
    args.extend(["--admin".to_owned(), admin.clone()]);
    let (mut child, address) = start_server(Command::new(std::env::current_exe()?).args(args))?;
    let admin: Address = admin.parse()?;
    let (active, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let tally = Arc::new(std::sync::Mutex::new(Scraped::default()));
    let scraping = {
        let (active, stop, tally) = (active.clone(), stop.clone(), tally.clone());
        std::thread::spawn(move || {
            // Prometheus would run on another machine: here the scraper takes only the
            // time the load generator leaves, so what is measured is the server's cost.
            ringrpc::rt::lower_thread_priority();
            scraper(admin, every, &active, &stop, &tally)
        })
    };
    let windows = (|| -> BenchResult<(Vec<Row>, Vec<Row>)> {
        let spec = load_spec(&a.common, &a.load, address.clone(), Kind::Ringrpc)?;
        let setup = setup_name(&a.common, "tcp", &a.load);
        let (mut plain, mut scraped) = (Vec::new(), Vec::new());
        for pair in 0..a.rounds.max(1) {
            for with_scraper in [pair % 2 == 1, pair % 2 == 0] {
                active.store(with_scraper, Ordering::Relaxed);
                let row = measure(&spec, Some(child.id()), setup.clone(), Kind::Ringrpc)?;
                let mut json: serde_json::Value = serde_json::from_str(&row.json())?;
                json["scrape_every_ms"] = with_scraper.then_some(a.every_ms).into();
                println!("{json}");
                if with_scraper {
                    scraped.push(row);
                } else {
                    plain.push(row);
                }
            }
        }
        Ok((plain, scraped))
    })();
    stop.store(true, Ordering::Relaxed);
    scraping.join().map_err(|_| "the scraper panicked")?;
    stop_server(&mut child)?;
    let (plain, scraped) = windows?;
    let tally = *tally.lock().unwrap_or_else(|p| p.into_inner());

    let stat = |rows: &[Row], f: Figure| median(rows.iter().map(f).collect());
    let figures: [(&str, Figure); 5] = [
        ("QPS", |r| r.qps),
        ("p50 µs", |r| r.p50_us as f64),
        ("p99 µs", |r| r.p99_us as f64),
        ("p999 µs", |r| r.p999_us as f64),
        ("server CPU µs/req", |r| {
            r.server_cpu_us_per_req.unwrap_or(f64::NAN)
        }),
    ];
    println!();
    println!(
        "| median of {} windows | no scraping | scraped every {} ms | ratio |",
        plain.len(),
        a.every_ms
    );
    println!("|---|---|---|---|");
    for (name, f) in figures {
        let (x, y) = (stat(&plain, f), stat(&scraped, f));
        println!("| {name} | {x:.2} | {y:.2} | {:.3} |", y / x);
    }
    let mean_ms = tally.total.as_secs_f64() * 1000.0 / tally.scrapes.max(1) as f64;
    println!(
        "\n{} scrapes ({} failed), {mean_ms:.2} ms each on average, {} bytes of metrics",
        tally.scrapes, tally.failures, tally.bytes
    );
    if tally.failures > 0 {
        return Err(format!("{} scrapes failed", tally.failures).into());
    }
    Ok(())
}
