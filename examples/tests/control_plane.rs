//! The control plane against a real etcd (Debian's `etcd-server`, started on loopback by
//! `ringrpc_etcd::testing`): live policy overrides reach calls, invalid ones are refused
//! while the last good policy stays, servers register themselves and clients discover
//! them; and the run-time policy key table matches the one codegen checks IDL against.

use std::sync::atomic::Ordering;
use std::time::Duration;

use ringrpc::client::discovery::{Discovery, Instance};
use ringrpc::policy::LivePolicy;
use ringrpc::rt::block_on;
use ringrpc::{CallError, Client, Driver};
use ringrpc_etcd::testing::EtcdServer;
use ringrpc_etcd::{EtcdWriter, WatchConfig};
use ringrpc_examples::echo::echo::echo;

#[path = "support/named_server.rs"]
mod named_server;
use named_server::{start, wait_for};

/// Waits (at most 3 s) until `ready`.
async fn wait_3s(what: &str, ready: impl Fn() -> bool) {
    wait_for(what, Duration::from_secs(3), ready).await
}

#[test]
fn policy_in_etcd_reaches_calls_and_bad_updates_are_refused() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let endpoint = etcd.endpoint();
    let writer = EtcdWriter::connect([endpoint.clone()]).unwrap();
    let prefix = "/ringrpc/policy/echo/";
    writer
        .put(format!("{prefix}*"), r#"{"timeout_ms": 500}"#)
        .unwrap();
    let live = LivePolicy::new();
    let _watch = ringrpc_etcd::watch_policy(&live, WatchConfig::new([endpoint], prefix)).unwrap();
    assert_eq!(live.version(), 1);
    let (server, handler) = start("server");
    let calls = handler.calls.clone();
    let channel = Client::builder(&server.address().to_string())
        .live_policy(live.clone())
        .build()
        .unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        assert_eq!(client.echo("x".into()).await.unwrap(), "server");
        // Abort every echo call: the next call sees it.
        writer
            .put(
                format!("{prefix}Echo.echo"),
                r#"{"fault.abort_percent": 100}"#,
            )
            .unwrap();
        wait_3s("the abort policy", || live.version() == 2).await;
        match client.echo("x".into()).await {
            Err(echo::EchoError::Call(CallError::Transport(why))) => {
                assert!(why.contains("fault injected"), "{why}")
            }
            other => panic!("expected an injected fault, got {other:?}"),
        }
        // An invalid value is refused, whole: the abort stays in force.
        writer
            .put(format!("{prefix}Echo"), r#"{"retry.max_attempts": 99}"#)
            .unwrap();
        wait_3s("the refusal", || live.rejected() == 1).await;
        assert_eq!(live.version(), 2);
        assert!(client.echo("x".into()).await.is_err());
        // Fixed and the abort removed: calls flow again.
        writer
            .put(format!("{prefix}Echo"), r#"{"retry.max_attempts": 3}"#)
            .unwrap();
        writer.delete(format!("{prefix}Echo.echo")).unwrap();
        wait_3s("the fix", || {
            live.current()
                .lookup("Echo", "echo", "fault.abort_percent")
                .is_none()
                && live
                    .current()
                    .lookup("Echo", "echo", "retry.max_attempts")
                    .is_some()
        })
        .await;
        assert_eq!(client.echo("x".into()).await.unwrap(), "server");
    })
    .unwrap();
    assert!(calls.load(Ordering::Relaxed) >= 2);
    server.shutdown().unwrap();
}

#[test]
fn registered_servers_are_discovered_and_leave_when_they_deregister() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let endpoint = etcd.endpoint();
    let prefix = "/ringrpc/instances/echo/";
    let (a, a_handler) = start("a");
    let a_calls = a_handler.calls.clone();
    let (b, b_handler) = start("b");
    let b_calls = b_handler.calls.clone();
    let ttl = Duration::from_secs(5);
    let a_reg = ringrpc_etcd::register(
        [endpoint.clone()],
        prefix,
        &Instance::new(&a.address().to_string()).unwrap(),
        ttl,
    )
    .unwrap();
    let discovery = Discovery::empty();
    let _watch =
        ringrpc_etcd::watch_instances(&discovery, WatchConfig::new([endpoint.clone()], prefix))
            .unwrap();
    assert_eq!(discovery.instances().len(), 1);
    let channel = Client::discover(discovery.clone()).build().unwrap();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(channel);
        assert_eq!(client.echo("x".into()).await.unwrap(), "a");
        // b joins (tagged): untagged calls stay on the stable set, a.
        let b_reg = ringrpc_etcd::register(
            [endpoint.clone()],
            prefix,
            &Instance::new(&b.address().to_string())
                .unwrap()
                .tag("canary"),
            ttl,
        )
        .unwrap();
        wait_3s("b's registration", || discovery.instances().len() == 2).await;
        for _ in 0..20 {
            assert_eq!(client.echo("x".into()).await.unwrap(), "a");
        }
        // a leaves: calls go to b, the only instance left.
        drop(a_reg);
        wait_3s("a's departure", || discovery.instances().len() == 1).await;
        for _ in 0..20 {
            assert_eq!(client.echo("x".into()).await.unwrap(), "b");
        }
        drop(b_reg);
        wait_3s("b's departure", || discovery.instances().is_empty()).await;
        match client.echo("x".into()).await {
            Err(echo::EchoError::Call(CallError::Unavailable(why))) => {
                assert!(why.contains("no instance"), "{why}")
            }
            other => panic!("expected no instance, got {other:?}"),
        }
    })
    .unwrap();
    assert_eq!(a_calls.load(Ordering::Relaxed), 21);
    assert_eq!(b_calls.load(Ordering::Relaxed), 20);
    a.shutdown().unwrap();
    b.shutdown().unwrap();
}
