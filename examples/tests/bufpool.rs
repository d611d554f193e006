//! The per-core buffer pool end to end: decoded strings point into the pool's arena on the
//! server and the client, strings kept past their call hold their slot (and free it from
//! any thread), large frames fall back to the heap, and the metrics say so.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ringrpc::codec::BytesStr;
use ringrpc::metrics::CoreMetrics;
use ringrpc::rt::block_on;
use ringrpc::{Driver, Server};
use ringrpc_examples::echo::echo::{base, echo};

#[path = "support/patient_client.rs"]
mod patient_client;
use patient_client::patient;

/// Echoes, noting where each message's bytes live; keeps the messages that ask for it.
#[derive(Clone, Default)]
struct PoolProbe {
    pooled: Arc<AtomicUsize>,
    elsewhere: Arc<AtomicUsize>,
    kept: Arc<Mutex<Vec<BytesStr>>>,
}

impl base::Base for PoolProbe {
    async fn ping(&self) -> Result<BytesStr, base::PingError> {
        Ok(BytesStr::from_static("pong"))
    }
}

impl echo::Echo for PoolProbe {
    async fn echo(&self, msg: BytesStr) -> Result<BytesStr, echo::EchoError> {
        let in_pool = ringrpc::bufpool::owns(msg.as_bytes()) && msg.as_blob().is_pooled();
        let counter = if in_pool {
            &self.pooled
        } else {
            &self.elsewhere
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if msg.starts_with("keep") {
            self.kept.lock().unwrap().push(msg.clone());
        }
        Ok(msg)
    }

    async fn notify(&self, _event: BytesStr) -> Result<(), echo::NotifyError> {
        Ok(())
    }

    async fn reset(&self) -> Result<(), echo::ResetError> {
        Ok(())
    }
}

/// The pool figures summed over every core.
fn buffers() -> CoreMetrics {
    let mut total = CoreMetrics::default();
    for core in ringrpc::metrics::global().snapshot().cores {
        total.buffer_leases += core.buffer_leases;
        total.buffer_in_use += core.buffer_in_use;
        total.buffer_resident_bytes += core.buffer_resident_bytes;
        total.buffer_heap_fallbacks += core.buffer_heap_fallbacks;
    }
    total
}

#[test]
fn decoded_strings_point_into_the_pool_and_slots_come_back_from_any_thread() {
    let probe = PoolProbe::default();
    let server = {
        let probe = probe.clone();
        Server::builder()
            .workers(1)
            .serve("127.0.0.1:0", move || echo::Server::new(probe.clone()))
            .unwrap()
    };
    let address = server.address().to_string();
    let (client_pooled, big_pooled) = block_on(Driver::Auto, async move {
        // A 1 MiB echo in a debug build may take longer than echo's 200 ms IDL timeout.
        let client = echo::Client::new(patient(&address).connect().await.unwrap());
        let mut client_pooled = 0;
        for i in 0..200 {
            let reply = client.echo(format!("message {i}").into()).await.unwrap();
            assert_eq!(reply, format!("message {i}").as_str());
            // The reply was read and decoded on this thread, into this thread's pool.
            if ringrpc::bufpool::owns(reply.as_bytes()) && reply.as_blob().is_pooled() {
                client_pooled += 1;
            }
        }
        for i in 0..50 {
            client.echo(format!("keep {i}").into()).await.unwrap();
        }
        // 1 MiB: larger than the largest slot, so both ends read it into the heap.
        let big: BytesStr = "x".repeat(1 << 20).into();
        let reply = client.echo(big.clone()).await.unwrap();
        assert_eq!(reply, big);
        (client_pooled, reply.as_blob().is_pooled())
    })
    .unwrap();
    assert_eq!(
        client_pooled, 200,
        "every reply's string is a view into the pool"
    );
    assert!(!big_pooled, "a 1 MiB frame does not fit a slot");
    assert_eq!(
        probe.pooled.load(Ordering::Relaxed),
        250,
        "every small request's string is a view into the server's pool"
    );
    assert_eq!(probe.elsewhere.load(Ordering::Relaxed), 1, "the 1 MiB one");

    let with_kept = buffers();
    assert!(with_kept.buffer_leases > 0);
    assert!(with_kept.buffer_resident_bytes >= 4096);
    assert!(
        with_kept.buffer_heap_fallbacks >= 2,
        "the 1 MiB request and its reply: {with_kept:?}"
    );
    // The kept strings hold their slot after the server's connection has closed; dropping
    // them on this (another) thread hands the slot back to the worker's pool.
    let kept = std::mem::take(&mut *probe.kept.lock().unwrap());
    assert_eq!(kept.len(), 50);
    assert!(
        kept.iter()
            .enumerate()
            .all(|(i, s)| *s == *format!("keep {i}"))
    );
    assert!(with_kept.buffer_in_use >= 1, "{with_kept:?}");
    drop(kept);
    let after = buffers();
    assert!(
        after.buffer_in_use < with_kept.buffer_in_use,
        "dropping the kept strings returned their slot: {with_kept:?} then {after:?}"
    );
    let text = ringrpc::metrics::encode_text(&ringrpc::metrics::global().snapshot());
    for name in [
        "ringrpc_buffer_slot_leases_total{core=",
        "ringrpc_buffer_slots_in_use{core=",
        "ringrpc_buffer_resident_bytes{core=",
        "ringrpc_buffer_heap_fallbacks_total{core=",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    server.shutdown().unwrap();
}
