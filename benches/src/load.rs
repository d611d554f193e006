//! The load generator of rpc-bench: client threads (pinned, one monoio runtime each) keep
//! `concurrency` echo calls in flight over `conns` multiplexed ringrpc connections, first
//! for a warm-up, then for the measured window, recording every call that starts and ends
//! inside the window. The caller is told when the window begins, ticks and ends (to sample
//! the server), and gets back the latencies and the client's connection counts.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringrpc::codec::frame::Framing;
use ringrpc::codec::{BytesStr, ProtocolId};
use ringrpc::rt::{Driver, WorkerConfig, spawn, spawn_workers};

use crate::service::bench::{Echo, bench_service};

/// What the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// The benchmark service through ringrpc's client.
    Ringrpc,
    /// Raw length-prefixed frames, echoed ([`crate::raw`]): replies matched by order.
    Raw,
    /// The benchmark service, sent pre-encoded framed Binary `echo` calls by the raw client
    /// (replies matched by order, not decoded): the server's cost under a client that does
    /// no RPC work, the floor's own load.
    RawThrift,
}

/// What load to generate.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// What the server speaks.
    pub wire: Wire,
    /// The server (`tcp://…`, `unix://…`).
    pub address: String,
    /// Framing of the calls.
    pub framing: Framing,
    /// Payload protocol.
    pub protocol: ProtocolId,
    /// Bytes in the echoed message.
    pub payload: usize,
    /// Calls in flight in all.
    pub concurrency: usize,
    /// Connections in all (calls are spread over them round-robin).
    pub conns: usize,
    /// Load before the measured window.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Client threads.
    pub threads: usize,
    /// Cores to pin client threads to (empty: no pinning).
    pub cores: Vec<usize>,
    /// The clients' I/O driver.
    pub driver: Driver,
    /// CPU time the raw client spends per reply (a busy wait) before it sends the next
    /// call, to load a server the way a heavier client does (raw client only).
    pub client_work: Duration,
}

/// The edges of the measured window, and ticks inside it, reported as they pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The window starts.
    Begin,
    /// A moment inside the window: every twentieth of it, at least 50 ms and at most 1 s
    /// apart (to sample the server's memory over a long run).
    Tick,
    /// The window ends.
    End,
}

/// What the window saw.
#[derive(Debug)]
pub struct LoadResult {
    /// Latencies of the calls completed in the window, in microseconds.
    pub latencies: Histogram<u64>,
    /// Calls that failed in the window.
    pub errors: u64,
    /// The window's length.
    pub window: Duration,
    /// Connections used.
    pub connections: usize,
    /// Connections ringrpc's client opened (`Client::stats().connects`; `None` for the raw
    /// floor's client, which opens `connections` and never reconnects).
    pub connects: Option<u64>,
    /// Calls ringrpc's client sent (warm-up included) over the connections open at the end.
    pub client_calls: Option<u64>,
}

/// What one client thread saw.
#[derive(Debug)]
struct Tally {
    latencies: Histogram<u64>,
    errors: u64,
    connects: Option<u64>,
    client_calls: Option<u64>,
}

/// Adds two optional counts (`None` if either is).
fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(a? + b?)
}

impl LoadResult {
    /// Calls per second completed in the window.
    pub fn qps(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }
}

/// Runs the load; `at_edge` is called on this thread when the window begins and ends (to
/// sample the server's CPU time).
pub fn run_load(spec: &LoadSpec, mut at_edge: impl FnMut(Edge)) -> io::Result<LoadResult> {
    let threads = spec.threads.clamp(1, spec.conns.max(1));
    let start = Instant::now() + Duration::from_millis(200);
    let begin = start + spec.warmup;
    let end = begin + spec.duration;
    let config = WorkerConfig {
        workers: threads,
        cores: spec.cores.clone(),
        no_pinning: spec.cores.is_empty(),
        driver: spec.driver,
    };
    let thread_spec = spec.clone();
    let handles = spawn_workers(&config, move |thread| {
        let spec = thread_spec.clone();
        async move {
            match spec.wire {
                Wire::Ringrpc => client_thread(spec, thread, threads, start, begin, end).await,
                Wire::Raw | Wire::RawThrift => {
                    raw_client_thread(spec, thread, threads, start, begin, end).await
                }
            }
        }
    })?;
    std::thread::sleep(begin.saturating_duration_since(Instant::now()));
    at_edge(Edge::Begin);
    let tick = (spec.duration / 20).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let ticks = spec.duration.as_nanos() / tick.as_nanos();
    for _ in 0..ticks {
        if Instant::now() + tick >= end {
            break;
        }
        std::thread::sleep(tick);
        at_edge(Edge::Tick);
    }
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    at_edge(Edge::End);
    let mut total = Tally {
        latencies: Histogram::<u64>::new(3).map_err(io::Error::other)?,
        errors: 0,
        connects: Some(0),
        client_calls: Some(0),
    };
    for handle in handles {
        let tally = handle
            .join()
            .map_err(|_| io::Error::other("a client thread panicked"))???;
        total
            .latencies
            .add(tally.latencies)
            .map_err(io::Error::other)?;
        total.errors += tally.errors;
        total.connects = add(total.connects, tally.connects);
        total.client_calls = add(total.client_calls, tally.client_calls);
    }
    Ok(LoadResult {
        latencies: total.latencies,
        errors: total.errors,
        window: spec.duration,
        connections: spec.conns,
        connects: total.connects,
        client_calls: total.client_calls,
    })
}

/// One raw client thread: connections `thread`, `thread + threads`, …, each keeping its
/// share of the calls in flight.
async fn raw_client_thread(
    spec: LoadSpec,
    thread: usize,
    threads: usize,
    start: Instant,
    begin: Instant,
    end: Instant,
) -> io::Result<Tally> {
    let addr = match spec.address.parse::<ringrpc::transport::Address>() {
        Ok(ringrpc::transport::Address::Tcp(addr)) => addr,
        _ => return Err(io::Error::other("the raw floor runs over TCP only")),
    };
    let conns = spec.conns.max(1);
    let depth = spec.concurrency.div_ceil(conns).max(1);
    ringrpc::rt::sleep(start.saturating_duration_since(Instant::now())).await;
    let tasks: Vec<_> = (thread..conns)
        .step_by(threads)
        .map(|_| {
            spawn(async move {
                let mut h = Histogram::<u64>::new(3).map_err(io::Error::other)?;
                let (frame, first_reply_ok): (_, fn(&[u8]) -> bool) = match spec.wire {
                    Wire::RawThrift => (
                        crate::raw::thrift_echo_frame(spec.payload),
                        crate::raw::is_thrift_reply,
                    ),
                    _ => (crate::raw::echo_frame(spec.payload), |_| true),
                };
                let calls = crate::raw::RawCalls {
                    frame: &frame,
                    first_reply_ok,
                    depth,
                    work_per_reply: spec.client_work,
                };
                crate::raw::load_connection(addr, &calls, begin, end, &mut h)
                    .await
                    .map(|()| h)
            })
        })
        .collect();
    let mut latencies = Histogram::<u64>::new(3).map_err(io::Error::other)?;
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok(h) => latencies.add(h).map_err(io::Error::other)?,
            Err(e) => {
                report_failure(&e);
                errors += 1;
            }
        }
    }
    Ok(Tally {
        latencies,
        errors,
        connects: None,
        client_calls: None,
    })
}

fn report_failure(e: &io::Error) {
    eprintln!("rpc-bench: a raw connection failed: {e}");
}

/// The TSC clock's reading at the moment `at` (of the standard clock).
fn tsc_instant(at: Instant) -> quanta::Instant {
    let (now, tsc_now) = (Instant::now(), quanta::Instant::now());
    match at.checked_duration_since(now) {
        Some(ahead) => tsc_now + ahead,
        None => tsc_now - now.duration_since(at),
    }
}

/// One client thread: connections `thread`, `thread + threads`, …, and the calls assigned
/// to them.
async fn client_thread(
    spec: LoadSpec,
    thread: usize,
    threads: usize,
    start: Instant,
    begin: Instant,
    end: Instant,
) -> io::Result<Tally> {
    let mut clients = Vec::new();
    let mut channels = Vec::new();
    for _ in (thread..spec.conns.max(1)).step_by(threads) {
        let channel = ringrpc::Client::builder(&spec.address)
            .framing(spec.framing)
            .protocol(spec.protocol)
            .timeout(Duration::from_secs(10))
            .connect()
            .await?;
        channels.push(channel.clone());
        clients.push(bench_service::Client::new(channel));
    }
    ringrpc::rt::sleep(start.saturating_duration_since(Instant::now())).await;
    let latencies = Rc::new(RefCell::new(
        Histogram::<u64>::new(3).map_err(io::Error::other)?,
    ));
    let errors = Rc::new(RefCell::new(0u64));
    let request = Echo {
        action: BytesStr::from_static("echo"),
        msg: BytesStr::from("x".repeat(spec.payload)),
    };
    // Each call reads the clock twice: the TSC clock the runtime uses costs a fraction of
    // `std::time::Instant::now` (a vDSO call), which is load-generator time on the client core.
    let (begin, end) = (tsc_instant(begin), tsc_instant(end));
    let conns = spec.conns.max(1);
    let mine: Vec<usize> = (0..spec.concurrency.max(1))
        .filter(|call| (call % conns) % threads == thread)
        .collect();
    let tasks: Vec<_> = mine
        .iter()
        .map(|call| {
            let client = clients[(call % conns) / threads].clone();
            let (request, latencies, errors) = (request.clone(), latencies.clone(), errors.clone());
            spawn(async move {
                loop {
                    let sent = quanta::Instant::now();
                    if sent >= end {
                        break;
                    }
                    let reply = client.echo(request.clone()).await;
                    let done = quanta::Instant::now();
                    if sent < begin || done > end {
                        continue;
                    }
                    match reply {
                        Ok(echo) if echo.msg.len() == request.msg.len() => {
                            let us = (done - sent).as_micros() as u64;
                            let _ = latencies.borrow_mut().record(us.max(1));
                        }
                        other => {
                            let mut errors = errors.borrow_mut();
                            if *errors == 0 {
                                match other {
                                    Ok(echo) => eprintln!(
                                        "first failed call: echoed {} bytes of {}",
                                        echo.msg.len(),
                                        request.msg.len()
                                    ),
                                    Err(e) => eprintln!("first failed call: {e}"),
                                }
                            }
                            *errors += 1;
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
    let latencies = latencies.borrow().clone();
    let errors = *errors.borrow();
    let (mut connects, mut client_calls) = (0, 0);
    for channel in &channels {
        let stats = channel.stats();
        connects += stats.connects;
        client_calls += stats.connections.iter().map(|c| c.calls).sum::<u64>();
    }
    Ok(Tally {
        latencies,
        errors,
        connects: Some(connects),
        client_calls: Some(client_calls),
    })
}
