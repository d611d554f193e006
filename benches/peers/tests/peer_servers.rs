//! `peer-echo`'s servers answer the callers `rpc-bench compare` points at them: volo-thrift
//! (ping-pong, framed) and volo-thrift multiplexed (TTHeader) under ringrpc's own load
//! generator, and tonic under `peer-echo client tonic`; each server exits cleanly once its
//! standard input closes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ringrpc::Driver;
use ringrpc::codec::ProtocolId;
use ringrpc::codec::frame::Framing;
use ringrpc_bench::load::{LoadSpec, Wire, run_load};
use ringrpc_bench::report::Row;

const PEER_ECHO: &str = env!("CARGO_BIN_EXE_peer-echo");

/// A running `peer-echo server`, stopped (and checked) by [`Server::stop`], killed if the
/// test fails first.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(kind: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(PEER_ECHO)
            .args(["server", kind, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("peer-echo starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("peer-echo prints its address");
        let address = match line.trim().strip_prefix("listening ") {
            Some(address) if address.starts_with("tcp://127.0.0.1:") => address.to_string(),
            _ => {
                let _ = child.kill();
                panic!("peer-echo server {kind}: unexpected first line {line:?}");
            }
        };
        Server { child, address }
    }

    /// Closes standard input and expects a clean exit soon after.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().expect("wait for peer-echo") {
                assert!(status.success(), "peer-echo exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("peer-echo did not exit within 5 s of its standard input closing");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Half a second of ringrpc's load generator against `server`.
fn ringrpc_load(server: &Server, framing: Framing, conns: usize, concurrency: usize) {
    let spec = LoadSpec {
        wire: Wire::Ringrpc,
        address: server.address.clone(),
        framing,
        protocol: ProtocolId::Binary,
        payload: 64,
        concurrency,
        conns,
        warmup: Duration::from_millis(100),
        duration: Duration::from_millis(500),
        threads: 1,
        cores: vec![],
        driver: Driver::Auto,
        client_work: Duration::ZERO,
    };
    let result = run_load(&spec, |_edge| {}).expect("the load runs");
    assert_eq!(result.errors, 0, "{framing:?} calls failed");
    assert!(
        !result.latencies.is_empty(),
        "no {framing:?} call completed"
    );
}

#[test]
fn volo_serves_framed_calls_on_many_connections() {
    let server = Server::start("volo", &[]);
    ringrpc_load(&server, Framing::Framed, 8, 64);
    server.stop();
}

#[test]
fn volo_mux_serves_ttheader_calls_multiplexed_on_one_connection() {
    let server = Server::start("volo-mux", &[]);
    ringrpc_load(&server, Framing::TTHeader, 1, 16);
    server.stop();
}

#[test]
fn tonic_serves_its_own_client() {
    let server = Server::start("tonic", &[]);
    let pid = server.child.id().to_string();
    let out = Command::new(PEER_ECHO)
        .args(["client", "tonic", "--connect", &server.address])
        .args(["--server-pid", &pid])
        .args(["--conns", "2", "--concurrency", "8", "--payload", "64"])
        .args(["--duration", "0.5", "--warmup", "0.1"])
        .output()
        .expect("peer-echo client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "peer-echo client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = Row::from_json(stdout.trim()).expect("one result line");
    assert_eq!(row.server, "tonic");
    assert_eq!(row.mode, "mux");
    assert_eq!(row.errors, 0);
    assert!(row.qps > 100.0, "{row:?}");
    assert!(
        row.server_cpu_us_per_req.is_some_and(|c| c > 0.0),
        "{row:?}"
    );
    assert!(row.server_rss_kib.is_some(), "{row:?}");
    server.stop();
}
