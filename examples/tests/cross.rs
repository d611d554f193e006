//! ThriftTest cross tests against independent implementations, both directions: Apache
//! Thrift's Python library and thriftpy2 (`examples/interop/*_peer.py`, run from the venv
//! `scripts/python-peers.sh` builds) call `thrift-test-server`, and `thrift-test-client`
//! calls their servers; binary and compact × framed and buffered, Apache THeader, and
//! ringrpc to ringrpc over every dialect. A run passes when the client exits 0 having
//! passed at least the expected number of checks.
//!
//! The Python venv is `.venv` at the workspace root (override: `RINGRPC_PYTHON`). Without
//! it these tests fail under `CI=true` and are skipped, loudly, elsewhere.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OUR_SERVER: &str = env!("CARGO_BIN_EXE_thrift-test-server");
const OUR_CLIENT: &str = env!("CARGO_BIN_EXE_thrift-test-client");

/// The wire options of one run, as both sides' command lines take them.
#[derive(Debug, Clone, Copy)]
struct Wire {
    protocol: &'static str,
    transport: &'static str,
    ttheader: bool,
}

impl Wire {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--protocol={}", self.protocol),
            format!("--transport={}", self.transport),
        ];
        if self.ttheader {
            args.push("--ttheader".into());
        }
        args
    }
}

/// Who runs a side of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Ringrpc,
    Apache,
    Thriftpy2,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ sits in the workspace")
        .to_path_buf()
}

/// The venv's python, or `None` (with a note) when the peers are not installed here.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("RINGRPC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    if python.exists() {
        return Some(python);
    }
    let why = format!(
        "{} is missing: run scripts/python-peers.sh (scripts/test.sh does) to install the peers",
        python.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("SKIPPED: {why}");
    None
}

fn thrift_test_idl() -> PathBuf {
    std::env::var_os("RINGRPC_THRIFTTEST_IDL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/idl/ThriftTest.thrift"))
}

/// The command that runs `peer`'s `role` (`server` or `client`).
fn command(peer: Peer, role: &str, python: &Path) -> Command {
    let mut cmd = match peer {
        Peer::Ringrpc => Command::new(if role == "server" {
            OUR_SERVER
        } else {
            OUR_CLIENT
        }),
        Peer::Apache | Peer::Thriftpy2 => {
            let script = match peer {
                Peer::Apache => "apache_peer.py",
                _ => "thriftpy2_peer.py",
            };
            let mut cmd = Command::new(python);
            cmd.arg(workspace().join("examples/interop").join(script))
                .arg(role)
                .env("RINGRPC_THRIFTTEST_IDL", thrift_test_idl());
            cmd
        }
    };
    if peer == Peer::Ringrpc && role == "server" {
        cmd.arg("--workers=1");
    }
    cmd
}

/// Kills the child when dropped, so a failing test leaves no server behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `peer`'s server on a free port and returns it with the port.
fn start_server(peer: Peer, wire: Wire, python: &Path, dir: &Path) -> (Running, u16) {
    let port_file = dir.join("port");
    let child = command(peer, "server", python)
        .args(wire.args())
        .arg("--port=0")
        .arg(format!("--port-file={}", port_file.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {peer:?} server: {e}"));
    let mut server = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return (server, port);
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            let mut stderr = String::new();
            let _ = server
                .0
                .stderr
                .take()
                .map(|mut e| e.read_to_string(&mut stderr));
            panic!("the {peer:?} server exited ({status}) before listening:\n{stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "the {peer:?} server wrote no port file within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `client` against `server` and checks it passed at least `min_passed` checks and
/// failed none.
fn cross(server: Peer, client: Peer, wire: Wire, skip: &[&str], min_passed: usize) {
    let python = if server == Peer::Ringrpc && client == Peer::Ringrpc {
        PathBuf::new()
    } else {
        match python() {
            Some(python) => python,
            None => return,
        }
    };
    let dir = tempdir(&format!("{server:?}-{client:?}"));
    let (mut running, port) = start_server(server, wire, &python, &dir);
    let mut cmd = command(client, "client", &python);
    cmd.args(wire.args())
        .arg("--host=127.0.0.1")
        .arg(format!("--port={port}"));
    if !skip.is_empty() {
        cmd.arg(format!("--skip={}", skip.join(",")));
    }
    let output = run_bounded(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!(
        "{client:?} client → {server:?} server, {wire:?}\n--- client stdout\n{stdout}\n--- client stderr\n{stderr}"
    );
    if let Ok(Some(status)) = running.0.try_wait() {
        panic!("the server died during the run ({status})\n{context}");
    }
    assert!(
        output.status.success(),
        "the client failed ({})\n{context}",
        output.status
    );
    let summary = stdout.lines().last().unwrap_or_default();
    let passed: usize = summary
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `N passed, 0 failed` line\n{context}"));
    assert!(
        passed >= min_passed,
        "only {passed} checks passed, expected at least {min_passed}\n{context}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `cmd` to completion, killing it after `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> std::process::Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client starts");
    let pid = child.id();
    let (done, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match waited.recv_timeout(limit) {
        Ok(output) => output.expect("the client's output"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("the client did not finish within {} s", limit.as_secs());
        }
    }
}

fn tempdir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ringrpc-cross-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

const fn wire(protocol: &'static str, transport: &'static str) -> Wire {
    Wire {
        protocol,
        transport,
        ttheader: false,
    }
}

/// Checks `thrift-test-client` runs (one more over TTHeader, `metainfo.roundtrip`, and one
/// more multiplexed, `SecondService.secondtestString`).
const OUR_CHECKS: usize = 73;
/// Checks the Apache Python client runs (`examples/interop/thrifttest_common.py`).
const APACHE_CHECKS: usize = 73;
/// The thriftpy2 client skips, by itself, what its `TClient` cannot do: `uuid`, an unknown
/// method, chosen sequence ids.
const THRIFTPY2_CHECKS: usize = 65;
/// thriftpy2 has no `uuid` type.
const THRIFTPY2_NO_UUID: &[&str] = &["testUuid.apache", "testUuid.nil", "testUuid.ff"];
/// Nor does its multiplexed server answer an unknown method: it closes the connection
/// (it looks up `<method>_args` without checking the method exists).
const THRIFTPY2_MULTI_SERVER: &[&str] = &[
    "testUuid.apache",
    "testUuid.nil",
    "testUuid.ff",
    "unknownMethod",
];

macro_rules! cross_tests {
    ($($name:ident: $server:ident <- $client:ident, $protocol:literal, $transport:literal, $skip:expr, $min:expr;)*) => {
        $(
            #[test]
            fn $name() {
                cross(Peer::$server, Peer::$client, wire($protocol, $transport), $skip, $min);
            }
        )*
    };
}

cross_tests! {
    apache_client_binary_framed: Ringrpc <- Apache, "binary", "framed", &[], APACHE_CHECKS;
    apache_client_binary_buffered: Ringrpc <- Apache, "binary", "buffered", &[], APACHE_CHECKS;
    apache_client_compact_framed: Ringrpc <- Apache, "compact", "framed", &[], APACHE_CHECKS;
    apache_client_compact_buffered: Ringrpc <- Apache, "compact", "buffered", &[], APACHE_CHECKS;
    apache_client_header: Ringrpc <- Apache, "header", "buffered", &[], APACHE_CHECKS;
    thriftpy2_client_binary_framed: Ringrpc <- Thriftpy2, "binary", "framed", &[], THRIFTPY2_CHECKS;
    thriftpy2_client_binary_buffered: Ringrpc <- Thriftpy2, "binary", "buffered", &[], THRIFTPY2_CHECKS;
    thriftpy2_client_compact_framed: Ringrpc <- Thriftpy2, "compact", "framed", &[], THRIFTPY2_CHECKS;
    thriftpy2_client_compact_buffered: Ringrpc <- Thriftpy2, "compact", "buffered", &[], THRIFTPY2_CHECKS;
    apache_server_binary_framed: Apache <- Ringrpc, "binary", "framed", &[], OUR_CHECKS;
    apache_server_binary_buffered: Apache <- Ringrpc, "binary", "buffered", &[], OUR_CHECKS;
    apache_server_compact_framed: Apache <- Ringrpc, "compact", "framed", &[], OUR_CHECKS;
    apache_server_compact_buffered: Apache <- Ringrpc, "compact", "buffered", &[], OUR_CHECKS;
    apache_server_header: Apache <- Ringrpc, "header", "buffered", &[], OUR_CHECKS;
    thriftpy2_server_binary_framed: Thriftpy2 <- Ringrpc, "binary", "framed", THRIFTPY2_NO_UUID, OUR_CHECKS - 3;
    thriftpy2_server_binary_buffered: Thriftpy2 <- Ringrpc, "binary", "buffered", THRIFTPY2_NO_UUID, OUR_CHECKS - 3;
    thriftpy2_server_compact_framed: Thriftpy2 <- Ringrpc, "compact", "framed", THRIFTPY2_NO_UUID, OUR_CHECKS - 3;
    thriftpy2_server_compact_buffered: Thriftpy2 <- Ringrpc, "compact", "buffered", THRIFTPY2_NO_UUID, OUR_CHECKS - 3;
    apache_client_multi_framed: Ringrpc <- Apache, "multi", "framed", &[], APACHE_CHECKS + 1;
    apache_client_multic_buffered: Ringrpc <- Apache, "multic", "buffered", &[], APACHE_CHECKS + 1;
    apache_client_multih: Ringrpc <- Apache, "multih", "buffered", &[], APACHE_CHECKS + 1;
    thriftpy2_client_multi_buffered: Ringrpc <- Thriftpy2, "multi", "buffered", &[], THRIFTPY2_CHECKS + 1;
    thriftpy2_client_multic_framed: Ringrpc <- Thriftpy2, "multic", "framed", &[], THRIFTPY2_CHECKS + 1;
    apache_server_multi_buffered: Apache <- Ringrpc, "multi", "buffered", &[], OUR_CHECKS + 1;
    apache_server_multic_framed: Apache <- Ringrpc, "multic", "framed", &[], OUR_CHECKS + 1;
    apache_server_multih: Apache <- Ringrpc, "multih", "buffered", &[], OUR_CHECKS + 1;
    thriftpy2_server_multi_framed: Thriftpy2 <- Ringrpc, "multi", "framed", THRIFTPY2_MULTI_SERVER, OUR_CHECKS + 1 - 4;
    thriftpy2_server_multic_buffered: Thriftpy2 <- Ringrpc, "multic", "buffered", THRIFTPY2_MULTI_SERVER, OUR_CHECKS + 1 - 4;
    ringrpc_binary_framed: Ringrpc <- Ringrpc, "binary", "framed", &[], OUR_CHECKS;
    ringrpc_binary_buffered: Ringrpc <- Ringrpc, "binary", "buffered", &[], OUR_CHECKS;
    ringrpc_compact_framed: Ringrpc <- Ringrpc, "compact", "framed", &[], OUR_CHECKS;
    ringrpc_compact_buffered: Ringrpc <- Ringrpc, "compact", "buffered", &[], OUR_CHECKS;
    ringrpc_header: Ringrpc <- Ringrpc, "header", "buffered", &[], OUR_CHECKS;
    ringrpc_multi_framed: Ringrpc <- Ringrpc, "multi", "framed", &[], OUR_CHECKS + 1;
    ringrpc_multic_buffered: Ringrpc <- Ringrpc, "multic", "buffered", &[], OUR_CHECKS + 1;
    ringrpc_multih: Ringrpc <- Ringrpc, "multih", "buffered", &[], OUR_CHECKS + 1;
}

#[test]
fn ringrpc_ttheader() {
    let wire = Wire {
        protocol: "binary",
        transport: "framed",
        ttheader: true,
    };
    cross(Peer::Ringrpc, Peer::Ringrpc, wire, &[], OUR_CHECKS + 1);
}

/// The client's exit status is Apache's bitmask: against a server that is not ThriftTest
/// every group fails (1 | 2 | 4 | 8 | 64); bad options are a setup error (64).
#[test]
fn the_client_exits_non_zero_when_checks_fail() {
    use ringrpc::Server;
    use ringrpc_examples::echo::echo::echo;
    use ringrpc_examples::echo_service::EchoHandler;

    let echo_server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .expect("the echo server starts");
    let port = echo_server
        .address()
        .to_string()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let output = run_bounded(
        {
            let mut cmd = Command::new(OUR_CLIENT);
            cmd.arg(format!("--port={port}")).arg("--timeout-ms=2000");
            cmd
        },
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1 | 2 | 4 | 8 | 64), "{stdout}");
    assert!(stdout.contains("FAIL testString.empty: "), "{stdout}");
    let summary = stdout.lines().last().unwrap_or_default();
    let failed: usize = summary
        .split(", ")
        .nth(1)
        .and_then(|s| s.strip_suffix(" failed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line in\n{stdout}"));
    assert!(failed > 60, "{stdout}");
    echo_server.shutdown().unwrap();

    let bad = Command::new(OUR_CLIENT)
        .args(["--ttheader", "--protocol=compact"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--ttheader carries `--protocol binary` or `multi` only")
    );
}

/// Apache's `limit_string_length` and `limit_container_length` feature tests: with
/// `--string-limit=50 --container-limit=50` the limit passes and one more fails with a
/// protocol error, on a connection that keeps serving.
#[test]
fn string_and_container_limits_hold_at_the_limit_and_fail_one_past_it() {
    use ringrpc::codec::ApplicationErrorKind;
    use ringrpc::rt::block_on;
    use ringrpc::{CallError, Client, Driver, PoolMode};
    use ringrpc_examples::thrift_test::thrift_test::thrift_test;

    let dir = tempdir("limits");
    let port_file = dir.join("port");
    let mut server = Running(
        Command::new(OUR_SERVER)
            .args([
                "--port=0",
                "--workers=1",
                "--string-limit=50",
                "--container-limit=50",
            ])
            .arg(format!("--port-file={}", port_file.display()))
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let port: u16 = loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|s| s.parse().ok())
        {
            break port;
        }
        assert!(Instant::now() < deadline && server.0.try_wait().unwrap().is_none());
        std::thread::sleep(Duration::from_millis(20));
    };
    block_on(Driver::Auto, async move {
        let client = thrift_test::Client::new(
            Client::builder(&format!("127.0.0.1:{port}"))
                .framing(ringrpc::codec::frame::Framing::Framed)
                .pool_mode(PoolMode::PingPong { max_connections: 1 })
                .build()
                .unwrap(),
        );
        let is_protocol_error = |e: &CallError| {
            matches!(e, CallError::Application(a) if a.kind == ApplicationErrorKind::PROTOCOL_ERROR)
        };
        let at_limit = "x".repeat(50);
        assert_eq!(client.test_string(at_limit.clone().into()).await.unwrap(), at_limit.as_str());
        let over = client.test_string("x".repeat(51).into()).await.unwrap_err();
        assert!(is_protocol_error(&over), "{over:?}");
        let list: Vec<i32> = (0..50).collect();
        assert_eq!(client.test_list(list.clone()).await.unwrap(), list);
        let over = client.test_list((0..51).collect()).await.unwrap_err();
        assert!(is_protocol_error(&over), "{over:?}");
        // The connection still serves.
        assert_eq!(client.test_i32(5).await.unwrap(), 5);
        assert_eq!(client.channel().stats().connects, 1);
    })
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
