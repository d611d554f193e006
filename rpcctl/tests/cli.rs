//! `rpcctl` against a live server's admin endpoint: every command as a table and as JSON,
//! health exit codes, and clear errors for an endpoint that is not there.

use std::process::{Command, Output};

use ringrpc::rt::block_on;
use ringrpc::{Client, Driver, Server};
use ringrpc_examples::echo::echo::echo;
use ringrpc_examples::echo_service::EchoHandler;

fn rpcctl(admin: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rpcctl"))
        .arg("--admin")
        .arg(admin)
        .args(args)
        .env_remove("RINGRPC_ADMIN")
        .output()
        .expect("rpcctl runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_command_answers_from_a_live_process() {
    let server = Server::builder()
        .workers(1)
        .admin("127.0.0.1:0")
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .unwrap();
    let admin = server.admin_address().unwrap().to_string();
    let address = server.address().to_string();
    let client = Client::builder(&address)
        .policy("Echo.echo", "circuit_breaker.min_requests", 100u64)
        .build()
        .unwrap();
    // The client's connections and breakers live as long as its runtime: ask meanwhile.
    let (out, breakers) = block_on(Driver::Auto, async {
        let client = echo::Client::new(client.clone());
        for _ in 0..5 {
            client.echo("hi".into()).await.unwrap();
        }
        assert!(client.echo("undeclared".into()).await.is_err());
        (
            rpcctl(&admin, &["connections"]),
            rpcctl(&admin, &["breakers"]),
        )
    })
    .unwrap();

    assert!(out.status.success(), "{out:?}");
    let table = stdout(&out);
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("SIDE") && header.contains("PEER") && header.contains("RTT"));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("client") && l.contains(&address)),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("server") && l.contains("TTHeader/Binary")),
        "{table}"
    );

    let table = stdout(&rpcctl(&admin, &["policies"]));
    let timeout = table
        .lines()
        .find(|l| l.starts_with("client") && l.contains("Echo.echo") && l.contains("timeout_ms"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        timeout.contains("200") && timeout.ends_with("idl"),
        "{timeout}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("circuit_breaker.min_requests") && l.ends_with("builder")),
        "{table}"
    );

    let table = stdout(&rpcctl(&admin, &["metrics"]));
    let server_row = table
        .lines()
        .find(|l| l.starts_with("server ") && l.contains("Echo.echo"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(server_row.contains("application=1"), "{server_row}");
    assert!(table.contains("CLIENT-OPEN"), "{table}");
    assert!(
        table.contains("client requests per connection opened: "),
        "{table}"
    );
    let json = stdout(&rpcctl(&admin, &["--format", "json", "metrics"]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(json["calls"].as_array().unwrap().len() >= 3);
    // The server's worker read the calls into its buffer pool.
    assert!(
        table.contains("BUF-SLOTS") && table.contains("HEAP-FALLBACKS"),
        "{table}"
    );
    let resident: u64 = json["cores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["buffer_resident_bytes"].as_u64().unwrap())
        .sum();
    assert!(resident >= 1024, "{json}");

    let table = stdout(&breakers);
    assert!(
        table
            .lines()
            .any(|l| l.contains(&address) && l.contains("closed")),
        "{table}"
    );

    let health = rpcctl(&admin, &["health"]);
    assert!(health.status.success());
    assert!(stdout(&health).contains("SERVING"));
    let unknown = rpcctl(&admin, &["health", "--service", "Nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stdout(&unknown).contains("SERVICE_UNKNOWN"));
    drop(client);
    server.shutdown().unwrap();
}

#[test]
fn an_unreachable_or_bad_endpoint_is_a_clear_error() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = free.local_addr().unwrap().to_string();
    drop(free);
    let out = rpcctl(&dead, &["connections"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the admin endpoint at tcp://"),
        "{err}"
    );
    assert!(err.contains("--admin"), "{err}");
    let out = rpcctl("nonsense:://", &["health"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad --admin address"));
    let out = rpcctl("unix:///nonexistent/admin.sock", &["metrics"]);
    assert_eq!(out.status.code(), Some(2));
}
