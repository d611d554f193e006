//! Metrics, health and the admin endpoint end to end: a real server and client on
//! loopback, calls that succeed and fail in every way the echo handler can, then the
//! counts read back in process and over the admin endpoint (OpenMetrics text and JSON).

use std::time::Duration;

use ringrpc::admin::{Admin, fetch};
use ringrpc::health::{Health, ServingStatus};
use ringrpc::metrics::{CallMetrics, ErrorKind, Family, Snapshot, global};
use ringrpc::rt::block_on;
use ringrpc::transport::Address;
use ringrpc::{CallError, Client, Driver, Server};
use ringrpc_examples::echo::echo::echo;
use ringrpc_examples::echo_service::EchoHandler;

/// The tests share the process's metrics: they take turns, so each sees its own calls.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

fn series(snapshot: &Snapshot, family: Family, method: &str) -> CallMetrics {
    snapshot
        .call(
            family,
            if method == "<unknown>" { "" } else { "Echo" },
            method,
        )
        .unwrap_or_else(|| panic!("no {family:?} series for {method}"))
}

/// What changed in a series between two snapshots.
fn delta(before: &Snapshot, after: &Snapshot, family: Family, method: &str) -> CallMetrics {
    let mut d = series(after, family, method);
    if let Some(b) = before.call(
        family,
        if method == "<unknown>" { "" } else { "Echo" },
        method,
    ) {
        d.requests -= b.requests;
        d.latency_count -= b.latency_count;
        d.latency_sum_seconds -= b.latency_sum_seconds;
        for (a, b) in d.errors.iter_mut().zip(b.errors) {
            *a -= b;
        }
    }
    d
}

#[test]
fn calls_are_counted_by_method_endpoint_and_error_kind_and_scraped() {
    let _turn = turn();
    let health = Health::new();
    let server = Server::builder()
        .workers(1)
        .health(health.clone())
        .admin("127.0.0.1:0")
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .unwrap();
    let admin = server.admin_address().unwrap().clone();
    assert_eq!(health.status(""), Some(ServingStatus::Serving));
    let up = fetch(&admin, "/health").unwrap();
    assert_eq!(up.status, 200, "{}", up.body);
    assert!(up.body.contains("\"SERVING\""), "{}", up.body);

    let address = server.address().to_string();
    let before = global().snapshot();
    let listed = block_on(Driver::Auto, async {
        // 1 s rather than the IDL's 200 ms: a handler's panic message (and backtrace, when
        // asked for) takes its time on a busy machine, and must not time the call out.
        let client = echo::Client::new(
            Client::builder(&address)
                .policy("Echo.echo", "timeout_ms", 1000u64)
                .build()
                .unwrap(),
        );
        for _ in 0..10 {
            assert_eq!(client.echo("hi".into()).await.unwrap(), "hi");
        }
        for _ in 0..3 {
            assert!(matches!(
                client.echo("fail".into()).await,
                Err(echo::EchoError::Err(_))
            ));
        }
        for word in ["undeclared", "undeclared", "panic"] {
            let failed = client.echo(word.into()).await;
            assert!(
                matches!(
                    failed,
                    Err(echo::EchoError::Call(CallError::Application(_)))
                ),
                "{failed:?}"
            );
        }
        // The caller gives up after its 1 s, the server still answers.
        let late = client.echo("sleep:1200".into()).await;
        assert!(
            matches!(late, Err(echo::EchoError::Call(CallError::Timeout(_)))),
            "{late:?}"
        );
        // A method the server does not have.
        let stranger = echo::Client::new(
            Client::builder(&address)
                .multiplexed_as("Nope")
                .build()
                .unwrap(),
        );
        assert!(stranger.echo("hi".into()).await.is_err());
        // The server finishes the late call after its caller gave up: wait for it
        // (bounded), so every call has ended when the figures are read.
        for _ in 0..500 {
            let now = global().snapshot();
            if series(&now, Family::Server, "echo").in_flight == 0 {
                break;
            }
            ringrpc::rt::sleep(Duration::from_millis(10)).await;
        }
        // Client connections live as long as the runtime they were opened on.
        fetch(&admin, "/connections").unwrap()
    })
    .unwrap();
    let after = global().snapshot();

    let handled = delta(&before, &after, Family::Server, "echo");
    assert_eq!(handled.requests, 17);
    assert_eq!(handled.latency_count, 17, "every call ended");
    assert!(
        handled.latency_sum_seconds >= 1.2,
        "{}",
        handled.latency_sum_seconds
    );
    assert_eq!(handled.errors(ErrorKind::Exception), 3);
    assert_eq!(handled.errors(ErrorKind::Application), 2);
    assert_eq!(handled.errors(ErrorKind::Panic), 1);
    assert_eq!(handled.in_flight, 0);
    let unknown = delta(&before, &after, Family::Server, "<unknown>");
    assert_eq!(
        (unknown.requests, unknown.errors(ErrorKind::UnknownMethod)),
        (1, 1)
    );

    let calls = delta(&before, &after, Family::ClientCall, "echo");
    assert_eq!(calls.requests, 18);
    // A declared exception is an answer: the call succeeded.
    assert_eq!(calls.errors(ErrorKind::Application), 4);
    assert_eq!(calls.errors(ErrorKind::Timeout), 1);
    let attempts = delta(&before, &after, Family::ClientAttempt, "echo");
    assert_eq!(attempts.requests, 18, "nothing was retried");
    // Every call and attempt was timed; the call that timed out took its whole second.
    assert_eq!((calls.latency_count, attempts.latency_count), (18, 18));
    assert!(
        calls.latency_sum_seconds >= 1.0,
        "{}",
        calls.latency_sum_seconds
    );
    assert!(calls.latency_sum_seconds >= attempts.latency_sum_seconds);
    let endpoint = &after
        .calls
        .iter()
        .find(|c| c.family == Family::ClientAttempt && c.endpoint.ends_with(&address))
        .unwrap_or_else(|| panic!("no attempt series for {address}"))
        .endpoint;

    let core = after.cores.iter().map(|c| c.server_accepted).sum::<u64>();
    assert!(core >= 2, "two client connections were accepted");

    // Both ends of the connection, as `rpcctl connections` lists them.
    assert_eq!(listed.status, 200);
    let listed: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    let ends: Vec<&serde_json::Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["calls"].as_u64() == Some(17)
                && (c["side"] == "server" || c["peer"].as_str() == Some(endpoint))
        })
        .collect();
    assert_eq!(ends.len(), 2, "{listed:#}");
    for end in ends {
        assert_eq!(end["dialect"], "TTHeader/Binary", "{end}");
        assert_eq!(end["calls"], 17, "{end}");
        assert!(end["bytes_sent"].as_u64().unwrap() > 17 * 20, "{end}");
        assert!(end["bytes_received"].as_u64().unwrap() > 17 * 20, "{end}");
    }

    // The same figures over the admin endpoint, as Prometheus reads them.
    let scraped = fetch(&admin, "/metrics").unwrap();
    assert_eq!(scraped.status, 200);
    assert!(
        scraped
            .content_type
            .starts_with("application/openmetrics-text")
    );
    let text = scraped.body;
    let all_ended = format!(
        "ringrpc_server_request_duration_seconds_bucket{{le=\"+Inf\",service=\"Echo\",method=\"echo\"}} {}",
        series(&after, Family::Server, "echo").latency_count
    );
    for line in [
        "# TYPE ringrpc_server_requests counter",
        "# TYPE ringrpc_server_request_duration_seconds histogram",
        "ringrpc_server_errors_total{service=\"Echo\",method=\"echo\",kind=\"panic\"}",
        all_ended.as_str(),
        "ringrpc_client_call_errors_total{service=\"Echo\",method=\"echo\",kind=\"timeout\"}",
        "ringrpc_server_connections_open{core=",
        "# EOF",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    let line = format!(
        "ringrpc_client_requests_total{{service=\"Echo\",method=\"echo\",endpoint=\"{endpoint}\"}} "
    );
    let scraped_attempts: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or_else(|| panic!("missing {line} in\n{text}"))
        .parse()
        .unwrap();
    assert!(scraped_attempts >= 18);
    let json = fetch(&admin, "/metrics?format=json").unwrap();
    let json: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    let server_echo = json["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["family"] == "server" && c["method"] == "echo")
        .unwrap();
    assert!(server_echo["errors"]["exception"].as_u64().unwrap() >= 3);

    server.shutdown().unwrap();
    assert_eq!(health.status(""), Some(ServingStatus::NotServing));
    assert!(
        fetch(&admin, "/health").is_err(),
        "the admin endpoint stopped with the server"
    );
}

#[test]
fn the_admin_endpoint_refuses_what_it_cannot_serve_and_keeps_serving() {
    let dir = std::env::temp_dir().join(format!("ringrpc-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("admin.sock");
    let health = Health::new();
    let admin = Admin::builder()
        .health(health.clone())
        .serve(&format!("unix://{}", socket.display()))
        .unwrap();
    let at = admin.address().clone();
    assert!(matches!(at, Address::Unix(_)));
    assert_eq!(fetch(&at, "/").unwrap().status, 200);
    let missing = fetch(&at, "/nope").unwrap();
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("/metrics"), "{}", missing.body);
    assert_eq!(fetch(&at, "/metrics?format=xml").unwrap().status, 400);
    assert_eq!(
        fetch(&at, "/health").unwrap().status,
        503,
        "not serving yet"
    );
    health.set("Echo", ServingStatus::Serving);
    health.set("", ServingStatus::Serving);
    let one = fetch(&at, "/health?service=Echo").unwrap();
    assert_eq!((one.status, one.body.contains("SERVING")), (200, true));
    let other = fetch(&at, "/health?service=Other").unwrap();
    assert_eq!(other.status, 404);
    assert!(other.body.contains("SERVICE_UNKNOWN"));

    // Garbage, then a client that says nothing: each gets an answer or is cut off, and
    // the endpoint goes on serving.
    {
        use std::io::{Read, Write};
        let mut raw = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        raw.write_all(b"\x16\x03\x01 not http\r\n\r\n").unwrap();
        let mut answer = String::new();
        raw.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let _silent = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    }
    assert_eq!(fetch(&at, "/health").unwrap().status, 200);

    assert!(Admin::builder().serve("nonsense:://").is_err());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = Admin::builder()
        .serve(&taken.local_addr().unwrap().to_string())
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot serve the admin endpoint"),
        "{err}"
    );
    drop(admin);
    assert!(!socket.exists(), "the socket file is removed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn policies_and_breakers_are_reported_with_where_they_came_from() {
    let _turn = turn();
    let server = Server::builder()
        .workers(1)
        .policy("Echo.echo", "rate_limit.qps", 100_000u64)
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .unwrap();
    let address = server.address().to_string();
    let live = ringrpc::policy::LivePolicy::new();
    live.publish_json(
        "etcd /app/policy/",
        r#"{"Echo.echo": {"retry.max_attempts": 1}}"#,
    )
    .unwrap();
    let client = Client::builder(&address)
        .policy("Echo.echo", "timeout_ms", 50u64)
        .policy("Echo.echo", "circuit_breaker.failure_rate", 0.5)
        .policy("Echo.echo", "circuit_breaker.min_requests", 4u64)
        .policy("Echo.echo", "circuit_breaker.open_ms", 60_000u64)
        .live_policy(live.clone())
        .build()
        .unwrap();
    let admin = Admin::builder().serve("127.0.0.1:0").unwrap();
    let (breakers, text) = block_on(Driver::Auto, async {
        let client = echo::Client::new(client.clone());
        // Each call outlives its 50 ms: after 4 the breaker opens and calls are refused
        // without being sent.
        for _ in 0..6 {
            assert!(client.echo("sleep:80".into()).await.is_err());
        }
        let refused = client.echo("hi".into()).await;
        assert!(
            matches!(
                refused,
                Err(echo::EchoError::Call(CallError::Unavailable(_)))
            ),
            "{refused:?}"
        );
        // Breakers live with the client's per-core state, that is, while this runtime runs.
        let breakers = fetch(admin.address(), "/breakers").unwrap().body;
        let text = fetch(admin.address(), "/metrics").unwrap().body;
        (breakers, text)
    })
    .unwrap();

    let policies: serde_json::Value =
        serde_json::from_str(&fetch(admin.address(), "/policies").unwrap().body).unwrap();
    let find = |side: &str, target: &str| {
        policies
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["side"] == side && p["target"].as_str().unwrap().ends_with(target))
            .unwrap_or_else(|| panic!("no {side} report for {target}: {policies:#}"))
            .clone()
    };
    let source = |report: &serde_json::Value, key: &str| {
        let entry = report["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["key"] == key)
            .unwrap_or_else(|| panic!("no {key} in {report:#}"));
        (
            entry["value"].as_str().unwrap().to_owned(),
            entry["source"].as_str().unwrap().to_owned(),
        )
    };
    // Every method the server answers is listed, called or not (inherited ones too).
    let served_methods: Vec<&str> = policies
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["side"] == "server" && p["target"].as_str().unwrap().ends_with(&address))
        .map(|p| p["method"].as_str().unwrap())
        .collect();
    assert_eq!(served_methods, ["echo", "notify", "reset", "ping"]);
    let served = find("server", &address);
    assert_eq!(served["method"], "echo");
    assert_eq!(
        source(&served, "rate_limit.qps"),
        ("100000".into(), "builder".into())
    );
    assert_eq!(source(&served, "timeout_ms"), ("200".into(), "idl".into()));
    let called = find("client", &address);
    assert_eq!(
        source(&called, "timeout_ms"),
        ("50".into(), "builder".into())
    );
    assert_eq!(source(&called, "idempotent"), ("true".into(), "idl".into()));
    assert_eq!(
        source(&called, "retry.max_attempts"),
        ("1".into(), "etcd /app/policy/".into())
    );

    let breakers: serde_json::Value = serde_json::from_str(&breakers).unwrap();
    let breaker = breakers
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["target"].as_str().unwrap().ends_with(&address))
        .unwrap_or_else(|| panic!("no breaker for {address}: {breakers:#}"));
    assert_eq!(breaker["state"], "open", "{breaker}");
    assert_eq!(breaker["times_opened"], 1);
    assert!(
        breaker["probes_in_ms"].as_u64().unwrap() > 50_000,
        "{breaker}"
    );
    let state = format!(
        "ringrpc_client_breaker_state{{service=\"Echo\",method=\"echo\",endpoint=\"{}\"",
        breaker["endpoint"].as_str().unwrap()
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&state))
        .unwrap_or_else(|| panic!("no {state} in\n{text}"));
    assert!(line.ends_with(" 1"), "{line}");
    drop(client);
    drop(server);
}

#[test]
fn a_runtime_that_stops_closes_its_client_connections() {
    let _turn = turn();
    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .unwrap();
    let address = server.address().to_string();
    let client = Client::builder(&address).build().unwrap();
    let ours = |side: ringrpc::metrics::Side| {
        global()
            .connections()
            .into_iter()
            .filter(|c| {
                c.side == side && (c.peer == address || side == ringrpc::metrics::Side::Server)
            })
            .filter(|c| c.calls == 3)
            .count()
    };
    block_on(Driver::Auto, async {
        let client = echo::Client::new(client.clone());
        for _ in 0..3 {
            client.echo("hi".into()).await.unwrap();
        }
        assert_eq!(
            ours(ringrpc::metrics::Side::Client),
            1,
            "open while the runtime runs"
        );
    })
    .unwrap();
    // The client handle is still alive, but its runtime is gone: so is its connection,
    // and the server sees it close.
    assert_eq!(ours(ringrpc::metrics::Side::Client), 0);
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while ours(ringrpc::metrics::Side::Server) > 0 {
        assert!(
            std::time::Instant::now() < until,
            "the server still has the connection"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The same client works again on a new runtime.
    block_on(Driver::Auto, async {
        let client = echo::Client::new(client.clone());
        assert_eq!(client.echo("again".into()).await.unwrap(), "again");
    })
    .unwrap();
    drop(client);
    server.shutdown().unwrap();
}
