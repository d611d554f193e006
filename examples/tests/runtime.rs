//! The runtime end to end over real sockets: a generated echo service served on two
//! workers, called by the generated client through ringrpc's multiplexed `Client`, in every
//! dialect, over TCP and Unix sockets, on io_uring and on epoll.

use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ringrpc::codec::frame::Framing;
use ringrpc::codec::{ApplicationErrorKind, BytesStr, ProtocolId};
use ringrpc::rt::{block_on, spawn};
use ringrpc::{CallError, Client, Driver, RunningServer, Server};
use ringrpc_examples::echo::echo::echo;
use ringrpc_examples::echo_service::EchoHandler;

#[path = "support/patient_client.rs"]
mod patient_client;
use patient_client::patient;

fn serve(address: &str, driver: Driver, handler: EchoHandler) -> RunningServer {
    Server::builder()
        .workers(2)
        .driver(driver)
        .serve(address, move || echo::Server::new(handler.clone()))
        .expect("the server starts")
}

async fn client(
    server: &RunningServer,
    framing: Framing,
    protocol: ProtocolId,
) -> echo::Client<Client> {
    let channel = patient(&server.address().to_string())
        .framing(framing)
        .protocol(protocol)
        .connect()
        .await
        .expect("the client connects");
    echo::Client::new(channel)
}

/// Every kind of outcome, through one connection.
async fn exercise(client: &echo::Client<Client>) {
    assert_eq!(client.ping().await.unwrap(), "pong");
    assert_eq!(client.echo("hello".into()).await.unwrap(), "hello");
    match client.echo("fail".into()).await {
        Err(echo::EchoError::Err(e)) => {
            assert_eq!((e.code, e.message.as_str()), (7, "asked to fail"))
        }
        other => panic!("expected the declared exception, got {other:?}"),
    }
    match client.echo("undeclared".into()).await {
        Err(echo::EchoError::Call(CallError::Application(e))) => {
            assert_eq!(e.kind, ApplicationErrorKind::INTERNAL_ERROR)
        }
        other => panic!("expected an application exception, got {other:?}"),
    }
    client.reset().await.unwrap();
}

#[test]
fn every_dialect_over_tcp_and_unix_sockets_on_both_drivers() {
    let dialects = [
        (Framing::TTHeader, ProtocolId::Binary),
        (Framing::Framed, ProtocolId::Binary),
        (Framing::Framed, ProtocolId::Compact),
        (Framing::THeader, ProtocolId::Binary),
        (Framing::THeader, ProtocolId::Compact),
        (Framing::Unframed, ProtocolId::Binary),
        (Framing::Unframed, ProtocolId::Compact),
    ];
    let socket = std::env::temp_dir().join(format!("ringrpc-test-{}.sock", std::process::id()));
    for driver in [Driver::IoUring, Driver::Epoll] {
        for address in [
            "127.0.0.1:0".to_string(),
            format!("unix://{}", socket.display()),
        ] {
            let server = serve(&address, driver, EchoHandler::default());
            block_on(driver, async {
                for (framing, protocol) in dialects {
                    let client = client(&server, framing, protocol).await;
                    exercise(&client).await;
                }
            })
            .unwrap();
            server.shutdown().unwrap();
        }
    }
}

#[test]
fn pipelined_calls_run_concurrently_and_come_back_to_their_callers() {
    let server = serve("127.0.0.1:0", Driver::Auto, EchoHandler::default());
    for framing in [Framing::TTHeader, Framing::Framed] {
        block_on(Driver::Auto, async {
            let client = client(&server, framing, ProtocolId::Binary).await;
            // 100 calls that each sleep 50 ms finish together if they run concurrently;
            // earlier calls sleep longer, so replies complete out of call order.
            let started = Instant::now();
            let calls: Vec<_> = (0..100)
                .map(|i| {
                    let client = client.clone();
                    spawn(async move {
                        let msg = format!("sleep:{}", 50 + (100 - i) / 10);
                        (client.echo(BytesStr::from(msg.clone())).await, msg)
                    })
                })
                .collect();
            for call in calls {
                let (reply, sent) = call.await;
                assert_eq!(reply.unwrap().as_str(), sent);
            }
            let took = started.elapsed();
            // One after another they would take 5.5 s.
            assert!(
                took < Duration::from_millis(2_500),
                "{framing:?}: took {took:?}"
            );
            assert_eq!(client.channel().in_flight(), 0);
        })
        .unwrap();
    }
}

#[test]
fn large_pipelined_calls_straddle_reads_on_both_sides() {
    // 64 distinct 16 KiB messages in flight on one connection: frames cross read
    // boundaries on the server and on the client, and any lost or shifted byte shows.
    for driver in [Driver::IoUring, Driver::Epoll] {
        let server = serve("127.0.0.1:0", driver, EchoHandler::default());
        for framing in [Framing::TTHeader, Framing::Framed] {
            block_on(driver, async {
                let client = client(&server, framing, ProtocolId::Binary).await;
                let calls: Vec<_> = (0..64u8)
                    .map(|i| {
                        let client = client.clone();
                        let msg: String = (0..16 * 1024)
                            .map(|j| char::from(b'a' + (i as usize + j) as u8 % 26))
                            .collect();
                        spawn(async move { (client.echo(BytesStr::from(msg.clone())).await, msg) })
                    })
                    .collect();
                for call in calls {
                    let (reply, sent) = call.await;
                    assert!(reply.unwrap().as_str() == sent, "{driver:?} {framing:?}");
                }
            })
            .unwrap();
        }
        server.shutdown().unwrap();
    }
}

#[test]
fn a_panicking_handler_gets_an_exception_and_the_connection_keeps_serving() {
    let server = serve("127.0.0.1:0", Driver::Auto, EchoHandler::default());
    block_on(Driver::Auto, async {
        let client = client(&server, Framing::TTHeader, ProtocolId::Binary).await;
        match client.echo("panic".into()).await {
            Err(echo::EchoError::Call(CallError::Application(e))) => {
                assert_eq!(e.kind, ApplicationErrorKind::INTERNAL_ERROR);
                assert!(
                    e.message.contains("panicked: asked to panic"),
                    "{}",
                    e.message
                );
            }
            other => panic!("expected an application exception, got {other:?}"),
        }
        assert_eq!(
            client.echo("still here".into()).await.unwrap(),
            "still here"
        );
    })
    .unwrap();
}

#[test]
fn oneway_calls_reach_the_handler_without_a_reply() {
    let handler = EchoHandler::default();
    let server = serve("127.0.0.1:0", Driver::Auto, handler.clone());
    block_on(Driver::Auto, async {
        let client = client(&server, Framing::Framed, ProtocolId::Compact).await;
        for _ in 0..10 {
            client.notify("e".into()).await.unwrap();
        }
        // A two-way call on the same connection is answered after the oneway calls before it.
        assert_eq!(client.ping().await.unwrap(), "pong");
    })
    .unwrap();
    assert_eq!(handler.events.load(Ordering::Relaxed), 10);
}

#[test]
fn a_call_without_a_reply_in_time_times_out_and_the_connection_stays_usable() {
    let server = serve("127.0.0.1:0", Driver::Auto, EchoHandler::default());
    block_on(Driver::Auto, async {
        // echo's IDL timeout is 200 ms (the `client` helper lengthens it).
        let channel = Client::builder(&server.address().to_string())
            .connect()
            .await
            .unwrap();
        let client = echo::Client::new(channel);
        match client.echo("sleep:400".into()).await {
            Err(echo::EchoError::Call(CallError::Timeout(t))) => {
                assert_eq!(t, Duration::from_millis(200))
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert_eq!(client.echo("after".into()).await.unwrap(), "after");
        assert_eq!(client.channel().in_flight(), 0);
    })
    .unwrap();
}

#[test]
fn garbage_closes_only_that_connection() {
    let server = serve("127.0.0.1:0", Driver::Auto, EchoHandler::default());
    let ringrpc::transport::Address::Tcp(addr) = server.address().clone() else {
        unreachable!()
    };
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A framed length far over the 16 MiB limit.
    raw.write_all(&[0x7f, 0xff, 0xff, 0xff, 0x80, 0x01, 0, 1])
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        raw.read_to_end(&mut rest).unwrap(),
        0,
        "the server closes the connection"
    );
    block_on(Driver::Auto, async {
        let client = client(&server, Framing::Framed, ProtocolId::Binary).await;
        assert_eq!(client.ping().await.unwrap(), "pong");
    })
    .unwrap();
}

#[test]
fn connecting_to_nothing_is_a_clear_error() {
    let err = block_on(Driver::Auto, async {
        Client::builder("unix:///nonexistent/ringrpc.sock")
            .connect()
            .await
            .unwrap_err()
    })
    .unwrap();
    assert!(
        err.to_string()
            .contains("cannot connect to unix:///nonexistent/ringrpc.sock"),
        "{err}"
    );
    let err = block_on(Driver::Auto, async {
        Client::builder("ftp://x:1").connect().await.unwrap_err()
    })
    .unwrap();
    assert!(err.to_string().contains("unknown scheme `ftp`"), "{err}");
}

#[test]
fn graceful_shutdown_answers_calls_in_flight_then_closes() {
    let server = serve("127.0.0.1:0", Driver::Auto, EchoHandler::default());
    let address = server.address().to_string();
    block_on(Driver::Auto, async {
        let client = echo::Client::new(patient(&address).connect().await.unwrap());
        // Ten calls of 150 ms each are running when shutdown starts.
        let calls: Vec<_> = (0..10)
            .map(|_| {
                let client = client.clone();
                spawn(async move { client.echo("sleep:150".into()).await })
            })
            .collect();
        ringrpc::rt::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let stopper = std::thread::spawn(move || server.shutdown_within(Duration::from_secs(3)));
        for call in calls {
            assert_eq!(
                call.await.unwrap().as_str(),
                "sleep:150",
                "a call in flight was answered"
            );
        }
        // The connection then closes: later calls fail instead of hanging.
        let stopped = stopper.join().unwrap();
        assert!(stopped.is_ok(), "{stopped:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "drained in {:?}",
            started.elapsed()
        );
        match client.ping().await {
            Err(CallError::Transport(_)) => {}
            other => panic!("expected a closed connection, got {other:?}"),
        }
        assert!(
            Client::builder(&address).connect().await.is_err(),
            "no longer accepting"
        );
    })
    .unwrap();
}

#[test]
fn shutdown_past_its_deadline_closes_connections_and_callers_see_it() {
    let server = serve("127.0.0.1:0", Driver::Auto, EchoHandler::default());
    let address = server.address().to_string();
    block_on(Driver::Auto, async {
        let channel = Client::builder(&address)
            .policy("*", "timeout_ms", 10_000u64)
            .connect()
            .await
            .unwrap();
        let client = echo::Client::new(channel);
        // Runs 2 s, far longer than the 20 ms grace.
        let slow = {
            let client = client.clone();
            spawn(async move { client.echo("sleep:2000".into()).await })
        };
        ringrpc::rt::sleep(Duration::from_millis(30)).await;
        let started = Instant::now();
        server.shutdown_within(Duration::from_millis(20)).unwrap();
        // Well before the slow call would have finished on its own.
        assert!(started.elapsed() < Duration::from_secs(1));
        // echo is idempotent with two attempts: the retry finds the server gone.
        match slow.await {
            Err(echo::EchoError::Call(CallError::Transport(_) | CallError::Unavailable(_))) => {}
            other => panic!("expected the abandoned call to fail, got {other:?}"),
        }
    })
    .unwrap();
}
