//! ringrpc-etcd against a real etcd on loopback (`testing::EtcdServer`): snapshots and their
//! latency, reconnection across an etcd restart, registrations, connect failures, and prompt
//! shutdown. Each test starts its own etcd; without the binary they skip (and fail under CI).

use std::net::{Ipv4Addr, TcpListener};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ringrpc_etcd::testing::EtcdServer;
use ringrpc_etcd::{EtcdError, EtcdWriter, PrefixWatch, Registration, Snapshot, WatchConfig};

/// A watch whose snapshots arrive on a channel.
fn watch(endpoint: &str, prefix: &str) -> (PrefixWatch, mpsc::Receiver<Snapshot>) {
    let (tx, rx) = mpsc::channel();
    let config = WatchConfig::new([endpoint], prefix)
        .connect_timeout(Duration::from_secs(2))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(500));
    let watch = PrefixWatch::start(config, move |snapshot| {
        let _ = tx.send(snapshot);
    })
    .expect("watch starts");
    (watch, rx)
}

/// The first snapshot from `rx` satisfying `ok`, within `within`.
fn wait_for(
    rx: &mpsc::Receiver<Snapshot>,
    within: Duration,
    ok: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(snapshot) if ok(&snapshot) => return snapshot,
            Ok(_) => continue,
            Err(e) => panic!("no matching snapshot within {within:?}: {e}"),
        }
    }
}

fn value(snapshot: &Snapshot, key: &str) -> Option<String> {
    snapshot
        .entries
        .get(key)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Runs `write` and waits (at most 1 s) for the snapshot where `seen` holds; prints and
/// checks the latency and that the snapshot is at the write's revision.
fn timed_change(
    rx: &mpsc::Receiver<Snapshot>,
    what: &str,
    write: impl FnOnce() -> i64,
    seen: impl Fn(&Snapshot) -> bool,
) {
    let t0 = Instant::now();
    let revision = write();
    let snapshot = wait_for(rx, Duration::from_secs(1), seen);
    let latency = t0.elapsed();
    println!("{what}: write -> callback {latency:?} (revision {revision})");
    assert!(latency < Duration::from_secs(1), "{what} took {latency:?}");
    assert_eq!(
        snapshot.revision, revision,
        "{what}: snapshot at the write's revision"
    );
}

#[test]
fn watch_delivers_the_initial_snapshot_then_each_change_within_a_second() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let writer = EtcdWriter::connect([etcd.endpoint()]).expect("writer connects");
    writer.put("/t/a", "1").unwrap();
    writer.put("/t/b", "2").unwrap();
    writer.put("/other", "not watched").unwrap();

    let (watch, rx) = watch(&etcd.endpoint(), "/t/");
    // The first snapshot has been delivered by the time `start` returns.
    let first = rx
        .try_recv()
        .expect("initial snapshot delivered before start returned");
    assert_eq!(first.entries.len(), 2, "{first:?}");
    assert_eq!(value(&first, "/t/a").as_deref(), Some("1"));
    assert_eq!(value(&first, "/t/b").as_deref(), Some("2"));
    // ... and the watch is established.
    let status = watch.status();
    assert!(status.connected, "{status:?}");
    assert_eq!(status.revision, first.revision);

    timed_change(
        &rx,
        "put (new key)",
        || writer.put("/t/c", "3").unwrap(),
        |s| value(s, "/t/c").as_deref() == Some("3"),
    );
    timed_change(
        &rx,
        "update",
        || writer.put("/t/a", "10").unwrap(),
        |s| value(s, "/t/a").as_deref() == Some("10"),
    );
    timed_change(
        &rx,
        "delete",
        || writer.delete("/t/b").unwrap(),
        |s| !s.entries.contains_key("/t/b"),
    );
    // One callback per watch response: each write above gave exactly one snapshot.
    assert_eq!(
        rx.try_recv().map(|s| s.revision),
        Err(mpsc::TryRecvError::Empty)
    );

    // Many writes: latency distribution, and one snapshot per response.
    let mut latencies = Vec::new();
    for i in 0..100 {
        let t0 = Instant::now();
        writer.put("/t/n", i.to_string()).unwrap();
        let want = i.to_string();
        wait_for(&rx, Duration::from_secs(1), |s| {
            value(s, "/t/n").as_deref() == Some(want.as_str())
        });
        latencies.push(t0.elapsed());
    }
    latencies.sort();
    println!(
        "100 put -> callback latencies: p50 {:?}, p90 {:?}, max {:?}",
        latencies[50], latencies[90], latencies[99]
    );
    let status = watch.status();
    assert!(status.connected, "{status:?}");
    assert_eq!(
        rx.try_recv().map(|s| s.revision),
        Err(mpsc::TryRecvError::Empty)
    );
    writer.put("/t/final", "x").unwrap();
    let end = wait_for(&rx, Duration::from_secs(1), |s| {
        s.entries.contains_key("/t/final")
    });
    let keys: Vec<&str> = end.entries.keys().map(String::as_str).collect();
    assert_eq!(keys, ["/t/a", "/t/c", "/t/final", "/t/n"]);
    assert_eq!(value(&end, "/t/a").as_deref(), Some("10"));
}

#[test]
fn writer_puts_cost_milliseconds() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let writer = EtcdWriter::connect([etcd.endpoint()]).expect("writer connects");
    let t0 = Instant::now();
    for i in 0..100 {
        writer.put(format!("/w/{i}"), "v").unwrap();
    }
    let per_put = t0.elapsed() / 100;
    println!("EtcdWriter::put: {per_put:?} per put (100 sequential)");
    assert!(per_put < Duration::from_millis(50), "{per_put:?} per put");
    writer.delete_prefix("/w/").unwrap();
}

#[test]
fn watch_reconnects_after_etcd_restarts_and_delivers_later_writes() {
    let Some(mut etcd) = EtcdServer::start() else {
        return;
    };
    let writer = EtcdWriter::connect([etcd.endpoint()]).expect("writer connects");
    writer.put("/r/before", "1").unwrap();
    let (watch, rx) = watch(&etcd.endpoint(), "/r/");
    wait_for(&rx, Duration::from_secs(1), |s| {
        s.entries.contains_key("/r/before")
    });

    etcd.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while watch.status().connected {
        assert!(
            Instant::now() < deadline,
            "the watch did not notice etcd stopping"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let down = watch.status();
    println!("while etcd is down: {down:?}");
    assert!(down.last_error.is_some(), "{down:?}");

    let t_restart = Instant::now();
    etcd.restart();
    println!("etcd restarted in {:?}", t_restart.elapsed());
    // The same writer reconnects too (its first write may fail while it notices).
    let t0 = Instant::now();
    let mut written = None;
    for _ in 0..20 {
        match writer.put("/r/after", "2") {
            Ok(revision) => {
                written = Some(revision);
                break;
            }
            Err(e) => {
                println!("write after restart failed, retrying: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    let revision = written.expect("a write succeeds after the restart");
    let snapshot = wait_for(&rx, Duration::from_secs(10), |s| {
        s.entries.contains_key("/r/after")
    });
    println!("write after restart -> callback: {:?}", t0.elapsed());
    assert!(snapshot.revision >= revision);
    assert_eq!(value(&snapshot, "/r/before").as_deref(), Some("1"));
    let status = watch.status();
    assert!(status.connected, "{status:?}");
    assert!(status.resyncs >= 1, "{status:?}");
}

#[test]
fn registration_key_lives_while_held_and_goes_on_drop() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let (_watch, rx) = watch(&etcd.endpoint(), "/services/");
    let ttl = Duration::from_secs(2);
    let registration = Registration::register(
        [etcd.endpoint()],
        "/services/echo/127.0.0.1:9000",
        "up",
        ttl,
    )
    .expect("registers");
    assert_eq!(registration.key(), "/services/echo/127.0.0.1:9000");
    wait_for(&rx, Duration::from_secs(1), |s| {
        value(s, "/services/echo/127.0.0.1:9000").as_deref() == Some("up")
    });
    // Past the TTL, kept alive: no snapshot (the key would only change by expiring).
    match rx.recv_timeout(ttl + Duration::from_millis(1500)) {
        Err(mpsc::RecvTimeoutError::Timeout) => {}
        other => panic!("the registration changed while held: {other:?}"),
    }
    assert!(registration.is_running());
    let t0 = Instant::now();
    drop(registration);
    let dropped = t0.elapsed();
    wait_for(&rx, Duration::from_secs(1), |s| s.entries.is_empty());
    println!(
        "registration drop took {dropped:?}; deletion seen after {:?}",
        t0.elapsed()
    );
    assert!(t0.elapsed() < Duration::from_secs(1));
}

#[test]
fn registration_is_kept_alive_across_an_etcd_restart() {
    let Some(mut etcd) = EtcdServer::start() else {
        return;
    };
    let ttl = Duration::from_secs(2);
    let key = "/services/echo/127.0.0.1:9001";
    let registration =
        Registration::register([etcd.endpoint()], key, "up", ttl).expect("registers");
    etcd.restart();
    let (_watch, rx) = watch(&etcd.endpoint(), "/services/");
    // etcd renews surviving leases for one TTL on restart; past that, only our keep-alive
    // (re-registering after the lost connection) keeps the key.
    let deadline = Instant::now() + ttl * 2 + Duration::from_millis(500);
    let mut snapshots = 0;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            // The initial snapshot, then possibly the re-put under a new lease.
            Ok(snapshot) if snapshot.entries.contains_key(key) => snapshots += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => break,
            other => panic!("the registration was lost across the restart: {other:?}"),
        }
    }
    println!("registration across a restart: {snapshots} snapshots, key always present");
    let writer = EtcdWriter::connect([etcd.endpoint()]).expect("writer connects");
    writer.put("/services/marker", "m").unwrap();
    let now = wait_for(&rx, Duration::from_secs(1), |s| {
        s.entries.contains_key("/services/marker")
    });
    assert_eq!(value(&now, key).as_deref(), Some("up"), "{now:?}");
    drop(registration);
    wait_for(&rx, Duration::from_secs(1), |s| {
        !s.entries.contains_key(key)
    });
}

#[test]
fn a_panicking_callback_stops_the_watch_and_says_so() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let writer = EtcdWriter::connect([etcd.endpoint()]).expect("writer connects");
    let mut calls = 0;
    let watch = PrefixWatch::start(WatchConfig::new([etcd.endpoint()], "/p/"), move |_| {
        calls += 1;
        assert!(
            calls < 2,
            "on_change fails on its second call (as this test intends)"
        );
    })
    .expect("watch starts");
    writer.put("/p/a", "1").unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while watch.is_running() {
        assert!(Instant::now() < deadline, "the watch kept running");
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = watch.status();
    assert!(!status.connected, "{status:?}");
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("panicked"),
        "{status:?}"
    );
}

#[test]
fn handles_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<PrefixWatch>();
    send_sync::<Registration>();
    send_sync::<EtcdWriter>();
    send_sync::<EtcdError>();
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn unreachable_endpoint_fails_within_the_connect_timeout_naming_it() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let timeout = Duration::from_millis(800);
    let t0 = Instant::now();
    let err = PrefixWatch::start(
        WatchConfig::new([endpoint.as_str()], "/x/").connect_timeout(timeout),
        |_| panic!("no snapshot without etcd"),
    )
    .expect_err("no etcd there");
    let took = t0.elapsed();
    println!("PrefixWatch::start failed after {took:?}: {err}");
    assert!(
        took >= timeout && took < timeout + Duration::from_millis(700),
        "{took:?}"
    );
    assert!(err.is_timeout(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&endpoint), "{text}");
    assert!(text.contains("\"/x/\""), "{text}");

    let t0 = Instant::now();
    let err = EtcdWriter::connect_timeout([endpoint.as_str()], timeout).expect_err("no etcd there");
    assert!(
        t0.elapsed() < timeout + Duration::from_millis(700),
        "{:?}",
        t0.elapsed()
    );
    assert!(err.to_string().contains(&endpoint), "{err}");

    let err = PrefixWatch::start(WatchConfig::new(["not a url"], "/x/"), |_| {})
        .expect_err("bad endpoint");
    println!("bad endpoint: {err}");
    assert!(err.to_string().contains("not a url"), "{err}");
    assert!(matches!(
        Registration::register(Vec::<String>::new(), "k", "v", Duration::from_secs(1)),
        Err(EtcdError::Config(_))
    ));
}

#[test]
fn dropping_a_watch_joins_its_thread_promptly_even_while_etcd_is_down() {
    let Some(mut etcd) = EtcdServer::start() else {
        return;
    };
    for etcd_down in [false, true] {
        let (watch, rx) = watch(&etcd.endpoint(), "/d/");
        rx.recv_timeout(Duration::from_secs(1))
            .expect("initial snapshot");
        if etcd_down {
            etcd.stop();
            std::thread::sleep(Duration::from_millis(300)); // reconnecting now
        }
        let t0 = Instant::now();
        drop(watch);
        let took = t0.elapsed();
        println!("drop (etcd down: {etcd_down}) took {took:?}");
        assert!(took < Duration::from_secs(1), "{took:?}");
        // The callback (and its sender) went with the thread.
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
    }
}
