//! Heap allocations on the steady-state echo path, counted by a global allocator: a server
//! and a client in this process, warmed up, then many calls.

use ringrpc::codec::BytesStr;
use ringrpc::codec::frame::Framing;
use ringrpc::rt::{block_on, spawn};
use ringrpc::{Client, Driver, Server};
use ringrpc_examples::echo::echo::echo;
use ringrpc_examples::echo_service::EchoHandler;

#[path = "../../codec/tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The count is process-wide: tests measure one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_steady_state_echo_path_allocates_nothing_per_call() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .unwrap();
    for framing in [Framing::Framed, Framing::TTHeader] {
        let address = server.address().to_string();
        // Calls come from a task, as in servers and load generators (the runtime's main
        // future is polled only after every ready task).
        let allocations = block_on(Driver::Auto, async move {
            spawn(async move {
                let client = echo::Client::new(
                    Client::builder(&address)
                        .framing(framing)
                        .policy("*", "timeout_ms", 5_000u64)
                        .connect()
                        .await
                        .unwrap(),
                );
                let msg = BytesStr::from_static("steady state");
                for _ in 0..2_000 {
                    client.echo(msg.clone()).await.unwrap();
                }
                let calls = 20_000;
                let before = allocations();
                for _ in 0..calls {
                    client.echo(msg.clone()).await.unwrap();
                }
                let allocations = allocations() - before;
                eprintln!("{framing:?}: {allocations} allocations in {calls} calls");
                allocations
            })
            .await
        })
        .unwrap();
        // Requests and replies are read into pooled slots and decoded as views of them;
        // nothing on either side allocates once the connection is warm.
        assert_eq!(allocations, 0, "{framing:?}: allocations in 20,000 calls");
    }
    server.shutdown().unwrap();
}

#[test]
fn pipelined_callers_on_one_connection_allocate_almost_nothing_per_call() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .unwrap();
    let address = server.address().to_string();
    let (allocations, calls) = block_on(Driver::Auto, async move {
        let client = echo::Client::new(
            Client::builder(&address)
                .framing(Framing::TTHeader)
                .policy("*", "timeout_ms", 5_000u64)
                .connect()
                .await
                .unwrap(),
        );
        let before = std::rc::Rc::new(std::cell::Cell::new(0));
        let callers: Vec<_> = (0..16)
            .map(|caller| {
                let (client, before) = (client.clone(), before.clone());
                spawn(async move {
                    let msg = BytesStr::from_static("pipelined");
                    for call in 0..3_000 {
                        if call == 500 && caller == 0 {
                            // Every caller is past its warm-up by now.
                            before.set(allocations());
                        }
                        client.echo(msg.clone()).await.unwrap();
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await;
        }
        (allocations() - before.get(), 16 * 2_500)
    })
    .unwrap();
    eprintln!("16 pipelined callers: {allocations} allocations in about {calls} calls");
    // A reply whose caller has not run yet keeps its part of the read buffer alive; when
    // the buffer fills meanwhile it is replaced: about 2 allocations per thousand calls in
    // a release build, about 30 in a debug build (slower code, other interleavings).
    assert!(
        (allocations as f64) < calls as f64 * 0.05,
        "{allocations} allocations in {calls} calls"
    );
    server.shutdown().unwrap();
}
