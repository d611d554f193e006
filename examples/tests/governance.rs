//! Client governance end to end, against real servers on loopback: load balancing over
//! several instances, retries around a dead one and its ejection, circuit breaking,
//! deadline propagation down a call chain, gray routing by tag and by weight, backup
//! requests, fault injection, live policy updates (in memory and from a watched file),
//! discovery from a watched file, and user layers.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringrpc::client::discovery::{Discovery, Instance};
use ringrpc::client::{Args, ClientCx};
use ringrpc::codec::frame::Frame;
use ringrpc::codec::{ApplicationErrorKind, ApplicationException, BytesStr};
use ringrpc::metainfo::{self, MetaInfo};
use ringrpc::policy::LivePolicy;
use ringrpc::rt::block_on;
use ringrpc::server::{Next, ServerCx, ServerError};
use ringrpc::service::{Service, layer_fn};
use ringrpc::{CallError, Client, Driver, RunningServer, Server};
use ringrpc_examples::echo::echo::{base, echo};

#[path = "support/named_server.rs"]
mod named_server;
use named_server::{Named, start, wait_for};

fn instance(server: &RunningServer) -> Instance {
    Instance::new(&server.address().to_string()).unwrap()
}

/// A loopback address nothing listens on.
fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Which server answered each of `calls` echo calls.
async fn tally<C: ringrpc::Channel>(
    client: &echo::Client<C>,
    calls: usize,
) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..calls {
        let name = client.echo("x".into()).await.unwrap();
        *seen.entry(name.to_string()).or_default() += 1;
    }
    seen
}

#[test]
fn weighted_round_robin_spreads_calls_by_weight() {
    let servers: Vec<_> = ["a", "b", "c"].into_iter().map(start).collect();
    let instances = servers
        .iter()
        .zip([1, 2, 3])
        .map(|((s, _), w)| instance(s).weight(w))
        .collect();
    let channel = Client::discover(Discovery::fixed(instances).unwrap())
        .build()
        .unwrap();
    let seen = block_on(Driver::Auto, async {
        tally(&echo::Client::new(channel), 600).await
    })
    .unwrap();
    let expected: BTreeMap<String, usize> =
        [("a".into(), 100), ("b".into(), 200), ("c".into(), 300)].into();
    assert_eq!(seen, expected);
    for (server, _) in servers {
        server.shutdown().unwrap();
    }
}

#[test]
fn a_dead_instance_is_retried_around_and_ejected() {
    let (server, live) = start("alive");
    let instances = vec![instance(&server), Instance::new(&dead_address()).unwrap()];
    let channel = Client::discover(Discovery::fixed(instances).unwrap())
        .policy("*", "load_balance", "round_robin")
        .build()
        .unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel.clone());
        // Every call succeeds: a call sent to the dead instance is never sent, so it is
        // retried on the other (`retry.max_attempts = 2` in the IDL).
        for _ in 0..200 {
            assert_eq!(client.echo("x".into()).await.unwrap(), "alive");
        }
        // The dead instance was tried a few times, backed off and ejected: not 100 times.
        let stats = channel.stats();
        assert!(stats.connect_failures <= 5, "{stats:?}");
    })
    .unwrap();
    assert_eq!(live.calls.load(Ordering::Relaxed), 200);
    server.shutdown().unwrap();
}

#[test]
fn a_circuit_breaker_opens_on_failures_and_closes_after_probes() {
    let (server, handler) = start("flaky");
    let channel = Client::builder(&server.address().to_string())
        .policy("*", "retry.max_attempts", 1u64)
        .policy("*", "circuit_breaker.min_requests", 5u64)
        .policy("*", "circuit_breaker.failure_rate", 0.5)
        .policy("*", "circuit_breaker.open_ms", 1_000u64)
        .policy("*", "circuit_breaker.half_open_probes", 2u64)
        .build()
        .unwrap();
    handler.failing.store(true, Ordering::Relaxed);
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        for _ in 0..5 {
            match client.echo("x".into()).await {
                Err(echo::EchoError::Call(CallError::Application(e))) => {
                    assert_eq!(e.kind, ApplicationErrorKind::INTERNAL_ERROR)
                }
                other => panic!("expected the server's failure, got {other:?}"),
            }
        }
        // Open: calls fail at once without reaching the server.
        let reached = handler.calls.load(Ordering::Relaxed);
        for _ in 0..20 {
            match client.echo("x".into()).await {
                Err(echo::EchoError::Call(CallError::Unavailable(why))) => {
                    assert!(why.contains("circuit breaker open"), "{why}")
                }
                other => panic!("expected an open breaker, got {other:?}"),
            }
        }
        assert_eq!(handler.calls.load(Ordering::Relaxed), reached);
        // The server recovers; after the open period, probes close the breaker.
        handler.failing.store(false, Ordering::Relaxed);
        ringrpc::rt::sleep(Duration::from_millis(1_050)).await;
        for _ in 0..10 {
            assert_eq!(client.echo("x".into()).await.unwrap(), "flaky");
        }
    })
    .unwrap();
    server.shutdown().unwrap();
}

/// Relays `echo` to a downstream server, recording how the downstream call ended.
#[derive(Clone)]
struct Relay {
    downstream: echo::Client<Client>,
    outcome: Arc<Mutex<Option<(Duration, String)>>>,
}

impl base::Base for Relay {
    async fn ping(&self) -> Result<BytesStr, base::PingError> {
        Ok(BytesStr::from_static("relay"))
    }
}

impl echo::Echo for Relay {
    async fn echo(&self, msg: BytesStr) -> Result<BytesStr, echo::EchoError> {
        let started = Instant::now();
        let result = self.downstream.echo(msg).await;
        *self.outcome.lock().unwrap() = Some((started.elapsed(), format!("{result:?}")));
        result
    }

    async fn notify(&self, _event: BytesStr) -> Result<(), echo::NotifyError> {
        Ok(())
    }

    async fn reset(&self) -> Result<(), echo::ResetError> {
        Ok(())
    }
}

#[test]
fn the_callers_deadline_bounds_downstream_calls() {
    let (slow, handler) = start("slow");
    handler.delay_ms.store(2_000, Ordering::Relaxed);
    // The relay's own policy would wait 5 s for the slow server…
    let downstream = Client::builder(&slow.address().to_string())
        .policy("*", "timeout_ms", 5_000u64)
        .policy("*", "retry.max_attempts", 1u64)
        .build()
        .unwrap();
    let relay = Relay {
        downstream: echo::Client::new(downstream),
        outcome: Arc::default(),
    };
    let outcome = relay.outcome.clone();
    let relay_server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", move || echo::Server::new(relay.clone()))
        .unwrap();
    // …but its caller gives the whole chain 150 ms (TTHeader carries it).
    let caller = Client::builder(&relay_server.address().to_string())
        .policy("*", "timeout_ms", 150u64)
        .policy("*", "retry.max_attempts", 1u64)
        .build()
        .unwrap();
    let started = Instant::now();
    let result = block_on(Driver::Auto, async move {
        echo::Client::new(caller).echo("x".into()).await
    })
    .unwrap();
    // The caller times out, or (a hair sooner) gets the relay's report of its own
    // downstream timeout.
    match &result {
        Err(echo::EchoError::Call(CallError::Timeout(_))) => {}
        Err(echo::EchoError::Call(CallError::Application(e)))
            if e.message.starts_with("no reply within") => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    // Far sooner than the relay's own 5 s (with room for a loaded machine).
    assert!(started.elapsed() < Duration::from_millis(2_500));
    // The relay's downstream call gave up with the caller, not after its own 5 s.
    let until = Instant::now() + Duration::from_secs(3);
    let (elapsed, what) = loop {
        if let Some(found) = outcome.lock().unwrap().clone() {
            break found;
        }
        assert!(Instant::now() < until, "the relay's call never ended");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(what.contains("Timeout"), "{what}");
    assert!(
        elapsed < Duration::from_millis(2_500),
        "the downstream call took {elapsed:?}"
    );
    relay_server.shutdown().unwrap();
    slow.shutdown().unwrap();
}

#[test]
fn gray_tags_and_weights_route_calls() {
    let (s1, _) = start("stable-1");
    let (s2, _) = start("stable-2");
    let (canary, _) = start("canary");
    let instances = vec![
        instance(&s1),
        instance(&s2),
        instance(&canary).tag("canary"),
    ];
    let live = LivePolicy::new();
    let channel = Client::discover(Discovery::fixed(instances).unwrap())
        .live_policy(live.clone())
        .build()
        .unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        // Tagged calls (the tag is persistent metainfo, so it follows the whole chain)
        // all reach the canary; untagged ones never do.
        let mut tagged = MetaInfo::new();
        tagged.set_persistent("route_tag", "canary");
        let seen = metainfo::scope(tagged, tally(&client, 100)).await;
        assert_eq!(seen, [("canary".to_string(), 100)].into());
        let seen = tally(&client, 100).await;
        assert_eq!(seen.get("canary"), None, "{seen:?}");
        assert_eq!(seen.values().sum::<usize>(), 100);
        // A tag no instance carries falls back to the stable set.
        let mut unknown = MetaInfo::new();
        unknown.set_persistent("route_tag", "blue");
        let seen = metainfo::scope(unknown, tally(&client, 50)).await;
        assert_eq!(seen.get("canary"), None, "{seen:?}");
        // A live `weight.canary = 30` sends about 30 % of untagged calls there.
        live.publish_json("test", r#"{"Echo": {"weight.canary": 30}}"#)
            .unwrap();
        let seen = tally(&client, 1_000).await;
        let to_canary = seen.get("canary").copied().unwrap_or(0);
        assert!((200..=400).contains(&to_canary), "{seen:?}");
    })
    .unwrap();
    for server in [s1, s2, canary] {
        server.shutdown().unwrap();
    }
}

#[test]
fn a_backup_request_beats_a_slow_instance() {
    let (slow, slow_handler) = start("slow");
    slow_handler.delay_ms.store(1_000, Ordering::Relaxed);
    let (fast, _) = start("fast");
    let channel =
        Client::discover(Discovery::fixed(vec![instance(&slow), instance(&fast)]).unwrap())
            .policy("*", "load_balance", "round_robin")
            .policy("*", "timeout_ms", 2_000u64)
            .policy("Echo", "backup_request_ms", 30u64)
            .build()
            .unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        for _ in 0..6 {
            let started = Instant::now();
            assert_eq!(client.echo("x".into()).await.unwrap(), "fast");
            assert!(
                started.elapsed() < Duration::from_millis(700),
                "{:?}",
                started.elapsed()
            );
        }
    })
    .unwrap();
    // Calls went to the slow instance first and were answered by their backups.
    assert!(slow_handler.calls.load(Ordering::Relaxed) >= 3);
    slow.shutdown().unwrap();
    fast.shutdown().unwrap();
}

#[test]
fn live_policy_and_faults_apply_to_the_next_call() {
    let (server, handler) = start("server");
    let dir = tempdir("live-policy");
    let file = dir.join("policy.json");
    std::fs::write(&file, r#"{"Echo.echo": {"fault.abort_percent": 100}}"#).unwrap();
    let live = LivePolicy::new();
    let watch = live.watch_file(&file, Duration::from_millis(10)).unwrap();
    let channel = Client::builder(&server.address().to_string())
        .policy("*", "timeout_ms", 5_000u64)
        .live_policy(live.clone())
        .build()
        .unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        match client.echo("x".into()).await {
            Err(echo::EchoError::Call(CallError::Transport(why))) => {
                assert!(why.contains("fault injected"), "{why}")
            }
            other => panic!("expected an injected fault, got {other:?}"),
        }
        assert_eq!(handler.calls.load(Ordering::Relaxed), 0);
        // Other methods are not affected.
        assert_eq!(client.ping().await.unwrap(), "server");
        // The file changes: a delay instead of aborts.
        std::fs::write(&file, r#"{"*": {"fault.delay_ms": 400}}"#).unwrap();
        wait_for("the change", Duration::from_secs(2), || live.version() == 2).await;
        let started = Instant::now();
        assert_eq!(client.echo("x".into()).await.unwrap(), "server");
        assert!(started.elapsed() >= Duration::from_millis(400));
        // A bad file is refused; the last good policy stays. (Count refusals from here: a
        // loaded machine may have let the watch see a rewrite's empty file and refuse it.)
        let refused_before = live.rejected();
        std::fs::write(&file, r#"{"*": {"fault.delay_ms": "soon"}}"#).unwrap();
        wait_for("the refusal", Duration::from_secs(2), || {
            live.rejected() > refused_before
        })
        .await;
        assert_eq!(live.version(), 2);
        let started = Instant::now();
        client.echo("x".into()).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(400));
        std::fs::write(&file, "{}").unwrap();
        wait_for("the change", Duration::from_secs(2), || live.version() == 3).await;
        let started = Instant::now();
        client.echo("x".into()).await.unwrap();
        // Without the delay (a margin for a loaded machine).
        assert!(started.elapsed() < Duration::from_millis(300));
    })
    .unwrap();
    drop(watch);
    server.shutdown().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_watched_instance_file_moves_calls() {
    let (a, _) = start("a");
    let (b, _) = start("b");
    let dir = tempdir("instances");
    let file = dir.join("instances.json");
    let list = |s: &RunningServer| format!(r#"[{{"address": "{}"}}]"#, s.address());
    std::fs::write(&file, list(&a)).unwrap();
    let discovery = Discovery::empty();
    let watch = discovery
        .watch_file(&file, Duration::from_millis(10))
        .unwrap();
    let channel = Client::discover(discovery.clone()).build().unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        assert_eq!(tally(&client, 10).await, [("a".to_string(), 10)].into());
        std::fs::write(&file, list(&b)).unwrap();
        wait_for("the change", Duration::from_secs(2), || {
            discovery.version() == 2
        })
        .await;
        assert_eq!(tally(&client, 10).await, [("b".to_string(), 10)].into());
        // A broken file is refused; calls keep going to b.
        std::fs::write(&file, "[{\"weight\": 1}]").unwrap();
        ringrpc::rt::sleep(Duration::from_millis(50)).await;
        assert_eq!(discovery.version(), 2);
        assert_eq!(tally(&client, 5).await, [("b".to_string(), 5)].into());
    })
    .unwrap();
    drop(watch);
    a.shutdown().unwrap();
    b.shutdown().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// Counts the calls and attempts that pass through.
struct Counting<S> {
    inner: S,
    calls: Rc<Cell<u32>>,
}

impl<'a, S> Service<ClientCx, Args<'a>> for Counting<S>
where
    S: Service<ClientCx, Args<'a>, Response = Frame, Error = CallError>,
{
    type Response = Frame;
    type Error = CallError;
    async fn call(&self, cx: &mut ClientCx, args: Args<'a>) -> Result<Frame, CallError> {
        self.calls.set(self.calls.get() + 1);
        assert!(cx.deadline() > Instant::now());
        assert_eq!(
            cx.method().service,
            cx.policy()
                .sources
                .get("timeout_ms")
                .map_or("Base", |_| "Echo")
        );
        self.inner.call(cx, args).await
    }
}

#[test]
fn user_layers_see_every_call() {
    let (server, _) = start("server");
    thread_local! {
        static CALLS: Rc<Cell<u32>> = Rc::default();
    }
    let channel = Client::builder(&server.address().to_string())
        .layer(layer_fn(|inner| Counting {
            inner,
            calls: CALLS.with(Rc::clone),
        }))
        .build()
        .unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        client.echo("x".into()).await.unwrap();
        client.ping().await.unwrap();
        assert_eq!(CALLS.with(|c| c.get()), 2);
    })
    .unwrap();
    server.shutdown().unwrap();
}

#[test]
fn bad_policy_options_fail_the_build_naming_the_key() {
    let e = Client::builder("127.0.0.1:1")
        .policy("Echo.echo", "retry.max_attempt", 3u64)
        .build()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "client policy option: in `Echo.echo`: unknown policy key `retry.max_attempt`; did you mean `retry.max_attempts`?"
    );
    let e = Client::builder("127.0.0.1:1")
        .policy("*", "circuit_breaker.failure_rate", 1.5)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("between 0 and 1"), "{e}");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ringrpc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Records the methods called and refuses `reset` (a server-side user layer).
#[derive(Clone)]
struct Guard<S> {
    inner: S,
    seen: Arc<Mutex<Vec<String>>>,
}

impl<'a, S> Service<ServerCx<'a>, Next<'a>> for Guard<S>
where
    S: Service<ServerCx<'a>, Next<'a>, Response = (), Error = ServerError>,
{
    type Response = ();
    type Error = ServerError;
    async fn call(&self, cx: &mut ServerCx<'a>, next: Next<'a>) -> Result<(), ServerError> {
        self.seen.lock().unwrap().push(cx.method_name().to_owned());
        if cx.method().is_some_and(|m| m.name == "reset") {
            return Err(ServerError::Reject(ApplicationException::new(
                ApplicationErrorKind::UNKNOWN,
                "reset is not allowed here",
            )));
        }
        self.inner.call(cx, next).await
    }
}

#[derive(Clone)]
struct GuardLayer(Arc<Mutex<Vec<String>>>);

impl<S> ringrpc::service::Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(self, inner: S) -> Guard<S> {
        Guard {
            inner,
            seen: self.0,
        }
    }
}

#[test]
fn servers_rate_limit_by_policy_and_run_user_layers() {
    let handler = Named {
        name: "limited",
        ..Named::default()
    };
    let h = handler.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = Server::builder()
        .workers(1)
        .policy("Echo.echo", "rate_limit.qps", 20u64)
        .policy("Echo.echo", "rate_limit.burst", 5u64)
        .layer(GuardLayer(seen.clone()))
        .serve("127.0.0.1:0", move || echo::Server::new(h.clone()))
        .unwrap();
    let channel = Client::builder(&server.address().to_string())
        .policy("*", "retry.max_attempts", 1u64)
        .build()
        .unwrap();
    let ok = block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        let (mut ok, mut limited) = (0, 0);
        let started = Instant::now();
        for _ in 0..40 {
            match client.echo("x".into()).await {
                Ok(_) => ok += 1,
                Err(echo::EchoError::Call(CallError::Application(e)))
                    if e.message.starts_with("rate limited") =>
                {
                    limited += 1
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        // The burst (5) and whatever refilled at 20/s while the calls ran (a loaded
        // machine runs them slower, and more refills).
        let refilled = (started.elapsed().as_secs_f64() * 20.0).ceil() as usize;
        assert!(
            (5..=5 + refilled + 1).contains(&ok),
            "{ok} passed, {limited} limited, {refilled} refilled"
        );
        assert!(ok < 40, "nothing was limited");
        assert_eq!(ok + limited, 40);
        // Other methods are not limited; the user layer refuses reset.
        for _ in 0..20 {
            assert_eq!(client.ping().await.unwrap(), "limited");
        }
        match client.reset().await {
            Err(CallError::Application(e)) => {
                assert_eq!(e.message, "reset is not allowed here")
            }
            other => panic!("expected the layer's refusal, got {other:?}"),
        }
        // The bucket refills.
        ringrpc::rt::sleep(Duration::from_millis(300)).await;
        assert!(client.echo("x".into()).await.is_ok());
        ok
    })
    .unwrap();
    // Every call crossed the layer; only the ones within the rate reached the handler.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|m| *m == "echo").count(), 41);
    assert_eq!(seen.iter().filter(|m| *m == "ping").count(), 20);
    assert_eq!(seen.iter().filter(|m| *m == "reset").count(), 1);
    // The calls that passed, and the one after the refill.
    assert_eq!(handler.calls.load(Ordering::Relaxed), ok + 1);
    server.shutdown().unwrap();
}

/// A "server" that reads whatever arrives on a connection, counts the framed calls in it
/// and closes the connection without answering: every call fails after reaching it.
fn closing_server() -> (String, Arc<AtomicUsize>, Arc<AtomicBool>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    let (frames, stop) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let (f, s) = (frames.clone(), stop.clone());
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut buf = vec![0u8; 65536];
            let mut have = 0;
            // One whole frame (4-byte length + body), then close.
            while have < 4 || have < 4 + u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize {
                match stream.read(&mut buf[have..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => have += n,
                }
            }
            if have >= 4 {
                f.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    (address, frames, stop)
}

#[test]
fn the_retry_budget_stops_retries_from_multiplying_an_outage() {
    let (address, attempts, stop) = closing_server();
    let channel = Client::builder(&address)
        .framing(ringrpc::codec::frame::Framing::Framed)
        .policy("*", "idempotent", true)
        .policy("*", "retry.max_attempts", 3u64)
        .policy("*", "retry.backoff_base_ms", 0u64)
        .policy("*", "retry.backoff_max_ms", 0u64)
        .policy("*", "retry.budget_percent", 20.0)
        .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(1))
        .build()
        .unwrap();
    let calls = 400;
    let failed = block_on(Driver::Auto, async move {
        let client = echo::Client::new(channel);
        let mut failed = 0;
        for _ in 0..calls {
            failed += usize::from(client.echo("x".into()).await.is_err());
        }
        failed
    })
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(failed, calls);
    // Unbudgeted, every call would be tried 3 times (1,200 attempts). The budget allows
    // 20 % of calls plus a floor of 10 retries a second over its 10 s window.
    let attempts = attempts.load(Ordering::Relaxed);
    eprintln!("{attempts} attempts for {calls} calls");
    assert!(
        (calls..=calls + calls / 5 + 100 + 10).contains(&attempts),
        "{attempts} attempts for {calls} calls"
    );
}

#[test]
fn power_of_two_choices_prefers_the_faster_instance() {
    let (slow, slow_handler) = start("slow");
    slow_handler.delay_ms.store(50, Ordering::Relaxed);
    let (fast, _) = start("fast");
    let channel =
        Client::discover(Discovery::fixed(vec![instance(&slow), instance(&fast)]).unwrap())
            .policy("*", "load_balance", "p2c")
            .build()
            .unwrap();
    let seen = block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let client = client.clone();
                ringrpc::rt::spawn(async move { tally(&client, 40).await })
            })
            .collect();
        let mut seen = BTreeMap::<String, usize>::new();
        for task in tasks {
            for (name, n) in task.await {
                *seen.entry(name).or_default() += n;
            }
        }
        seen
    })
    .unwrap();
    // Latency × in-flight steers calls away from the slow instance once it is observed.
    let to_fast = seen.get("fast").copied().unwrap_or(0);
    eprintln!("{seen:?}");
    assert!(to_fast * 10 >= 320 * 8, "{seen:?}");
    slow.shutdown().unwrap();
    fast.shutdown().unwrap();
}

#[test]
fn consistent_hashing_keeps_each_key_on_one_instance() {
    let servers: Vec<_> = ["a", "b", "c"].into_iter().map(start).collect();
    let instances = servers.iter().map(|(s, _)| instance(s)).collect();
    let channel = Client::discover(Discovery::fixed(instances).unwrap())
        .policy("Echo", "load_balance", "consistent_hash")
        .policy("Echo", "load_balance.hash_key", "user")
        .build()
        .unwrap();
    let owners = block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        let mut owners = BTreeMap::new();
        for user in 0..30 {
            let mut info = MetaInfo::new();
            info.set_persistent("user", format!("user-{user}"));
            let seen = metainfo::scope(info, tally(&client, 10)).await;
            assert_eq!(seen.len(), 1, "user-{user} went to {seen:?}");
            owners.insert(user, seen.into_keys().next().unwrap());
        }
        owners
    })
    .unwrap();
    let used: std::collections::BTreeSet<_> = owners.values().collect();
    assert_eq!(used.len(), 3, "30 keys over 3 instances: {owners:?}");
    for (server, _) in servers {
        server.shutdown().unwrap();
    }
}

#[test]
fn options_that_do_not_combine_fail_the_build_and_serve() {
    // A backoff maximum below the default base (10 ms).
    let e = Client::builder("127.0.0.1:1")
        .policy("Echo", "retry.backoff_max_ms", 5u64)
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("in `Echo`: `retry.backoff_max_ms` (5) is below"),
        "{e}"
    );
    let e = Server::builder()
        .workers(1)
        .policy("*", "weight.a", 60u64)
        .policy("*", "weight.b", 60u64)
        .serve("127.0.0.1:0", || echo::Server::new(Named::default()))
        .unwrap_err();
    assert!(e.to_string().contains("add up to 120"), "{e}");
    // A huge default timeout is taken as the longest one, not an overflow.
    let channel = Client::builder("127.0.0.1:1")
        .timeout(Duration::MAX)
        .build()
        .unwrap();
    let policy = channel.effective_policy(&base::PING);
    assert_eq!(policy.timeout, Duration::from_secs(3600));
}

#[test]
fn a_live_update_that_does_not_combine_keeps_the_last_good_policy() {
    let (server, _) = start("server");
    let live = LivePolicy::new();
    let channel = Client::builder(&server.address().to_string())
        .live_policy(live.clone())
        .build()
        .unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel.clone());
        live.publish_json("test", r#"{"Echo.echo": {"timeout_ms": 50}}"#)
            .unwrap();
        client.echo("x".into()).await.unwrap();
        assert_eq!(
            channel.effective_policy(&echo::ECHO).timeout,
            Duration::from_millis(50)
        );
        // Valid key by key, but its backoff maximum is below the default base for echo.
        live.publish_json(
            "test",
            r#"{"Echo.echo": {"timeout_ms": 70, "retry.backoff_max_ms": 5}}"#,
        )
        .unwrap();
        client.echo("x".into()).await.unwrap();
        assert_eq!(
            channel.effective_policy(&echo::ECHO).timeout,
            Duration::from_millis(50)
        );
    })
    .unwrap();
    server.shutdown().unwrap();
}

/// Gives each call 50 ms, whatever its policy says.
struct Hurry<S> {
    inner: S,
}

impl<'a, S> Service<ClientCx, Args<'a>> for Hurry<S>
where
    S: Service<ClientCx, Args<'a>, Response = Frame, Error = CallError>,
{
    type Response = Frame;
    type Error = CallError;
    async fn call(&self, cx: &mut ClientCx, args: Args<'a>) -> Result<Frame, CallError> {
        cx.shorten_deadline(Instant::now() + Duration::from_millis(50));
        self.inner.call(cx, args).await
    }
}

#[test]
fn a_user_layer_can_shorten_the_deadline() {
    let (server, handler) = start("slow");
    handler.delay_ms.store(1_000, Ordering::Relaxed);
    let channel = Client::builder(&server.address().to_string())
        .policy("*", "timeout_ms", 5_000u64)
        .policy("*", "retry.max_attempts", 1u64)
        .layer(layer_fn(|inner| Hurry { inner }))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = block_on(Driver::Auto, async move {
        echo::Client::new(channel).echo("x".into()).await
    })
    .unwrap();
    assert!(
        matches!(result, Err(echo::EchoError::Call(CallError::Timeout(_)))),
        "{result:?}"
    );
    // The layer's 50 ms, not the handler's 1 s (with room for a loaded machine).
    assert!(started.elapsed() < Duration::from_millis(600));
    server.shutdown().unwrap();
}

#[test]
fn a_backup_request_goes_to_another_instance_than_the_first_attempt() {
    let (a, a_handler) = start("a");
    let (b, b_handler) = start("b");
    // Long enough that the backup (after 20 ms) reaches `b` before `a` answers, even on a
    // loaded machine.
    a_handler.delay_ms.store(300, Ordering::Relaxed);
    b_handler.delay_ms.store(300, Ordering::Relaxed);
    // Consistent hashing would send both attempts of a key to one instance.
    let channel = Client::discover(Discovery::fixed(vec![instance(&a), instance(&b)]).unwrap())
        .policy("Echo", "load_balance", "consistent_hash")
        .policy("Echo", "load_balance.hash_key", "user")
        .policy("Echo", "backup_request_ms", 20u64)
        .policy("*", "timeout_ms", 5_000u64)
        .build()
        .unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        let mut info = MetaInfo::new();
        info.set_persistent("user", "u-1");
        metainfo::scope(info, client.echo("x".into()))
            .await
            .unwrap();
        // The loser is still sleeping on its server; let it finish.
        ringrpc::rt::sleep(Duration::from_millis(400)).await;
    })
    .unwrap();
    let calls = (
        a_handler.calls.load(Ordering::Relaxed),
        b_handler.calls.load(Ordering::Relaxed),
    );
    assert_eq!(calls, (1, 1));
    a.shutdown().unwrap();
    b.shutdown().unwrap();
}
