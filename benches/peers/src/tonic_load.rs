//! tonic's own load client (ringrpc's load generator speaks Thrift, not gRPC): `conns`
//! eagerly connected channels and `concurrency` closed-loop callers on one tokio
//! current-thread runtime pinned to a core, first for a warm-up, then for the measured
//! window, with the server's CPU time and RSS sampled at the window's edges. Its result is
//! an rpc-bench [`Row`] (with the latency CDF; connection reuse is not counted).

use std::io;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringrpc_bench::procstat::{cpu_ns, peak_rss_kib, rss_kib};
use ringrpc_bench::report::{Row, latency_cdf};
use tonic::transport::{Channel, Endpoint};

use crate::peer_server::parse_tcp_address;
use crate::tonic_gen::EchoRequest;
use crate::tonic_gen::echo_client::EchoClient;

/// How long connecting one channel may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What load to generate.
#[derive(Debug, Clone)]
pub struct TonicLoadSpec {
    /// The server, `IP:PORT` or `tcp://IP:PORT`.
    pub address: String,
    /// The server's process, to sample its CPU time and peak RSS.
    pub server_pid: Option<u32>,
    /// Channels (HTTP/2 connections); caller `i` uses channel `i % conns`.
    pub conns: usize,
    /// Calls in flight in all.
    pub concurrency: usize,
    /// Bytes in the echoed message.
    pub payload: usize,
    /// Load before the measured window.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Core to pin the client's thread to.
    pub core: Option<usize>,
}

/// What one caller saw in the window: latencies (µs) of good calls, and failed calls.
type Tally = (Histogram<u64>, u64);

/// Runs the load and returns its result row.
pub fn run(spec: &TonicLoadSpec) -> io::Result<Row> {
    if spec.conns == 0 || spec.concurrency == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--conns and --concurrency must be at least 1",
        ));
    }
    let (edges_tx, edges_rx) = std::sync::mpsc::channel();
    let thread_spec = spec.clone();
    let worker = std::thread::Builder::new()
        .name("tonic-load".into())
        .spawn(move || -> io::Result<Tally> {
            crate::pin_to(thread_spec.core)?;
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(load(&thread_spec, edges_tx))
        })?;
    let join = |worker: std::thread::JoinHandle<io::Result<Tally>>| {
        worker
            .join()
            .map_err(|_| io::Error::other("the tonic client thread panicked"))?
    };
    // The worker reports the window once its channels are connected.
    let Ok((begin, end)) = edges_rx.recv() else {
        return join(worker).and_then(|_| Err(io::Error::other("the client ended early")));
    };
    std::thread::sleep(begin.saturating_duration_since(Instant::now()));
    let cpu_begin = spec.server_pid.map(cpu_ns).transpose()?;
    let rss_begin = spec.server_pid.map(rss_kib).transpose()?;
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let cpu_end = spec.server_pid.map(cpu_ns).transpose()?;
    let rss_end = spec.server_pid.map(rss_kib).transpose()?;
    let server_rss_kib = spec.server_pid.map(peak_rss_kib).transpose()?;
    let (latencies, errors) = join(worker)?;
    let calls = latencies.len();
    let server_cpu_us_per_req = match (cpu_begin, cpu_end) {
        (Some(b), Some(e)) if calls > 0 => Some(e.saturating_sub(b) as f64 / 1000.0 / calls as f64),
        _ => None,
    };
    Ok(Row {
        server: "tonic".into(),
        mode: if spec.conns >= spec.concurrency {
            "pingpong"
        } else {
            "mux"
        }
        .into(),
        setup: "tokio/tcp/protobuf/http2".into(),
        payload: spec.payload,
        concurrency: spec.concurrency,
        qps: calls as f64 / spec.duration.as_secs_f64(),
        p50_us: latencies.value_at_quantile(0.5),
        p99_us: latencies.value_at_quantile(0.99),
        p999_us: latencies.value_at_quantile(0.999),
        server_cpu_us_per_req,
        server_rss_kib,
        connections: spec.conns,
        errors,
        server_rss_samples: match (rss_begin, rss_end) {
            (Some(b), Some(e)) => vec![(0.0, b), (spec.duration.as_secs_f64(), e)],
            _ => Vec::new(),
        },
        latency_cdf: latency_cdf(&latencies),
        ..Row::default()
    })
}

/// Connects the channels, reports the window's edges on `edges`, runs the callers and
/// merges what they saw.
async fn load(
    spec: &TonicLoadSpec,
    edges: std::sync::mpsc::Sender<(Instant, Instant)>,
) -> io::Result<Tally> {
    let uri = format!("http://{}", parse_tcp_address(&spec.address)?);
    let endpoint = Endpoint::from_shared(uri)
        .map_err(io::Error::other)?
        .tcp_nodelay(true)
        .connect_timeout(CONNECT_TIMEOUT);
    let mut channels: Vec<Channel> = Vec::with_capacity(spec.conns);
    for _ in 0..spec.conns {
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| io::Error::other(format!("cannot connect to {}: {e:?}", spec.address)))?;
        channels.push(channel);
    }
    let begin = Instant::now() + spec.warmup;
    let end = begin + spec.duration;
    let _ = edges.send((begin, end));
    let msg = "x".repeat(spec.payload);
    let callers: Vec<_> = (0..spec.concurrency)
        .map(|i| {
            let client = EchoClient::new(channels[i % spec.conns].clone());
            tokio::spawn(caller(client, msg.clone(), begin, end))
        })
        .collect();
    let mut latencies = Histogram::<u64>::new(3).map_err(io::Error::other)?;
    let mut errors = 0;
    for caller in callers {
        let (h, e) = caller.await.map_err(io::Error::other)??;
        latencies.add(h).map_err(io::Error::other)?;
        errors += e;
    }
    Ok((latencies, errors))
}

/// One closed-loop caller: a call as soon as the previous one ends, until `end` (a call
/// still in flight then is dropped). Calls that start at or after `begin` and end by
/// `end` are tallied; a call is good only if the echoed message is as long as `msg`.
async fn caller(
    mut client: EchoClient<Channel>,
    msg: String,
    begin: Instant,
    end: Instant,
) -> io::Result<Tally> {
    let mut latencies = Histogram::<u64>::new(3).map_err(io::Error::other)?;
    let mut errors = 0;
    let deadline = tokio::time::Instant::from_std(end);
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let request = EchoRequest {
            action: "echo".into(),
            msg: msg.clone(),
        };
        let Ok(outcome) = tokio::time::timeout_at(deadline, client.echo(request)).await else {
            break; // cut off by the window's end
        };
        let ended = Instant::now();
        let good = matches!(&outcome, Ok(reply) if reply.get_ref().msg.len() == msg.len());
        let in_window = started >= begin && ended <= end;
        if good {
            if in_window {
                let micros =
                    u64::try_from(ended.duration_since(started).as_micros()).unwrap_or(u64::MAX);
                latencies.record(micros).map_err(io::Error::other)?;
            }
        } else {
            if in_window {
                errors += 1;
            }
            // A failing server answers at once: do not spin.
            tokio::time::sleep_until(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(1)),
            )
            .await;
        }
    }
    Ok((latencies, errors))
}
