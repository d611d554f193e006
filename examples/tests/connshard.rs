//! ConnShard end to end: one `Client` shared by workers keeps connections per core, pools
//! grow only when connections are deep in calls, ping-pong pools carry one call per
//! connection, idle connections are evicted, and a dead server gets backoff (no connection
//! storm) until it comes back.

use std::time::{Duration, Instant};

use ringrpc::codec::BytesStr;
use ringrpc::rt::{WorkerConfig, block_on, spawn, spawn_workers};
use ringrpc::{CallError, Client, Driver, PoolMode, RunningServer, Server};
use ringrpc_examples::echo::echo::echo;
use ringrpc_examples::echo_service::EchoHandler;

#[path = "support/patient_client.rs"]
mod patient_client;
use patient_client::patient;

fn serve(address: &str) -> RunningServer {
    Server::builder()
        .workers(1)
        .serve(address, || echo::Server::new(EchoHandler::default()))
        .expect("the server starts")
}

/// A client builder for `server`, with room for calls that queue on a loaded machine.
fn client(server: &RunningServer) -> ringrpc::client::ClientBuilder {
    patient(&server.address().to_string())
}

#[test]
fn one_client_keeps_its_own_connections_on_each_core() {
    let server = serve("127.0.0.1:0");
    let shared = echo::Client::new(client(&server).build().unwrap());
    let workers = WorkerConfig {
        workers: 2,
        cores: vec![0, 1],
        ..WorkerConfig::default()
    };
    let threads = spawn_workers(&workers, move |_| {
        let client = shared.clone();
        async move {
            for i in 0..50 {
                let msg = format!("call {i}");
                assert_eq!(
                    client
                        .echo(BytesStr::from(msg.clone()))
                        .await
                        .unwrap()
                        .as_str(),
                    msg
                );
            }
            client.channel().stats()
        }
    })
    .unwrap();
    let mut cores = Vec::new();
    for thread in threads {
        let stats = thread.join().unwrap().unwrap();
        assert_eq!(stats.connections.len(), 1, "{stats:?}");
        let conn = &stats.connections[0];
        assert_eq!((conn.calls, conn.errors, conn.in_flight), (50, 0, 0));
        assert!(conn.rtt.is_some() && conn.bytes_sent > 0 && conn.bytes_received > 0);
        assert_eq!(conn.peer, server.address().to_string());
        cores.push(conn.core);
    }
    cores.sort();
    assert_eq!(cores, [Some(0), Some(1)], "one connection per core");
}

#[test]
fn a_pool_grows_only_when_its_connection_is_deep_in_calls() {
    let server = serve("127.0.0.1:0");
    block_on(Driver::Auto, async {
        let channel = client(&server)
            .pool_mode(PoolMode::Multiplexed {
                max_connections: 2,
                grow_at_in_flight: 100,
            })
            .build()
            .unwrap();
        let client = echo::Client::new(channel.clone());
        // 50 slow calls fit on one connection.
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let client = client.clone();
                spawn(async move { client.echo("sleep:50".into()).await })
            })
            .collect();
        for call in calls {
            call.await.unwrap();
        }
        assert_eq!(channel.stats().connections.len(), 1);
        // 300 slow calls: a second connection, and never a third (no storm while the
        // server is slow).
        let calls: Vec<_> = (0..300)
            .map(|_| {
                let client = client.clone();
                spawn(async move { client.echo("sleep:100".into()).await })
            })
            .collect();
        for call in calls {
            call.await.unwrap();
        }
        let stats = channel.stats();
        assert_eq!(stats.connections.len(), 2, "{stats:?}");
        assert_eq!(stats.connects, 2);
        assert!(stats.connections.iter().all(|c| c.max_in_flight <= 300));
    })
    .unwrap();
}

#[test]
fn ping_pong_pools_carry_one_call_per_connection() {
    let server = serve("127.0.0.1:0");
    block_on(Driver::Auto, async {
        let channel = client(&server)
            .pool_mode(PoolMode::PingPong { max_connections: 4 })
            .build()
            .unwrap();
        let client = echo::Client::new(channel.clone());
        let started = Instant::now();
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let client = client.clone();
                spawn(async move { client.echo("sleep:20".into()).await })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap(), "sleep:20");
        }
        let stats = channel.stats();
        assert_eq!(stats.connections.len(), 4, "{stats:?}");
        assert!(stats.connections.iter().all(|c| c.max_in_flight == 1));
        assert_eq!(stats.connections.iter().map(|c| c.calls).sum::<u64>(), 20);
        // 20 calls of 20 ms over 4 connections take five rounds, not one.
        assert!(started.elapsed() >= Duration::from_millis(100));
    })
    .unwrap();
}

#[test]
fn idle_connections_are_evicted_and_reopened_on_demand() {
    let server = serve("127.0.0.1:0");
    block_on(Driver::Auto, async {
        let channel = client(&server)
            .idle_timeout(Some(Duration::from_millis(100)))
            .build()
            .unwrap();
        let client = echo::Client::new(channel.clone());
        assert_eq!(client.ping().await.unwrap(), "pong");
        assert_eq!(channel.stats().connections.len(), 1);
        ringrpc::rt::sleep(Duration::from_millis(400)).await;
        let stats = channel.stats();
        assert_eq!(
            (stats.connections.len(), stats.evicted),
            (0, 1),
            "{stats:?}"
        );
        assert_eq!(client.ping().await.unwrap(), "pong");
        assert_eq!(channel.stats().connects, 2);
    })
    .unwrap();
}

/// The reader of a connection with no call in flight keeps a read posted (it waits for the
/// next write only while a call is in flight): a server that closes the connection between
/// calls is noticed then, and the next call opens a fresh connection instead of being sent
/// on the dead one. Both pool modes, both drivers.
#[test]
fn a_connection_the_server_closes_between_calls_is_not_used_again() {
    for driver in [Driver::IoUring, Driver::Epoll] {
        for mode in [
            PoolMode::default(),
            PoolMode::PingPong { max_connections: 4 },
        ] {
            let server = serve("127.0.0.1:0");
            let address = server.address().to_string();
            block_on(driver, async {
                let channel = Client::builder(&address).pool_mode(mode).build().unwrap();
                let client = echo::Client::new(channel.clone());
                for _ in 0..3 {
                    assert_eq!(client.ping().await.unwrap(), "pong");
                }
                server.shutdown().unwrap();
                let server = serve(&address);
                // Bounded: the close reaches the client's reader within a few ms.
                let deadline = Instant::now() + Duration::from_secs(2);
                while !channel.stats().connections.is_empty() && Instant::now() < deadline {
                    ringrpc::rt::sleep(Duration::from_millis(5)).await;
                }
                let stats = channel.stats();
                assert!(
                    stats.connections.is_empty(),
                    "{driver:?} {mode:?}: {stats:?}"
                );
                assert_eq!(client.ping().await.unwrap(), "pong", "{driver:?} {mode:?}");
                assert_eq!(channel.stats().connects, 2, "{driver:?} {mode:?}");
                server.shutdown().unwrap();
            })
            .unwrap();
        }
    }
}

#[test]
fn a_dead_server_gets_backoff_not_a_storm_and_calls_recover_when_it_returns() {
    let server = serve("127.0.0.1:0");
    let address = server.address().to_string();
    block_on(Driver::Auto, async {
        let channel = Client::builder(&address)
            .reconnect_backoff(Duration::from_millis(40), Duration::from_millis(160))
            .connect_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let client = echo::Client::new(channel.clone());
        assert_eq!(client.ping().await.unwrap(), "pong");
        server.shutdown().unwrap();

        // The server is gone: 200 concurrent calls share one connection attempt.
        let calls: Vec<_> = (0..200)
            .map(|_| {
                let client = client.clone();
                spawn(async move { client.ping().await })
            })
            .collect();
        for call in calls {
            assert!(call.await.is_err());
        }
        ringrpc::rt::sleep(Duration::from_millis(30)).await;
        let stats = channel.stats();
        assert!(stats.connect_failures >= 1, "{stats:?}");
        let after_burst = stats.connects;
        assert!(after_burst <= 3, "one attempt, not a storm: {stats:?}");

        // Calls keep failing fast while the endpoint backs off; attempts stay few.
        let until = Instant::now() + Duration::from_millis(600);
        let mut backing_off = None;
        while Instant::now() < until {
            if let Err(CallError::Unavailable(why)) = client.ping().await {
                if why.contains("the next attempt is in") {
                    backing_off = Some(why);
                }
            }
            ringrpc::rt::sleep(Duration::from_millis(2)).await;
        }
        let why = backing_off.expect("calls were refused while backing off");
        assert!(why.contains(&address), "{why}");
        let stats = channel.stats();
        // 600 ms with delays of 20–160 ms: about ten attempts at most, not hundreds.
        assert!(stats.connects - after_burst <= 12, "{stats:?}");

        // The server returns on the same address: calls recover.
        let server = serve(&address);
        let deadline = Instant::now() + Duration::from_secs(3);
        let recovered = loop {
            match client.ping().await {
                Ok(pong) => break pong,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    ringrpc::rt::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => panic!("the client did not reconnect: {e:?}"),
            }
        };
        assert_eq!(recovered, "pong");
        assert_eq!(channel.stats().connections.len(), 1);
        server.shutdown().unwrap();
    })
    .unwrap();
}
