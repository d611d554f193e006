//! The ringrpc demo: the echo service generated from `idl/echo.thrift` served on every core
//! (io_uring where the kernel allows it), then called by the generated client through
//! ringrpc's multiplexed connections for a short load; prints QPS and latency percentiles.
//!
//! Run: `cargo run --release -p ringrpc-examples --bin demo [-- --seconds S --concurrency N
//! --payload BYTES --client-threads T --driver iouring|epoll --admin ADDR --linger S]`.
//! With `--admin 127.0.0.1:9464` it also serves the admin endpoint, and `--linger 60`
//! keeps the server up after the load so `rpcctl` can look at it.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringrpc::codec::frame::Framing;
use ringrpc::codec::{BytesStr, ProtocolId};
use ringrpc::metrics::Family;
use ringrpc::rt::{block_on, spawn};
use ringrpc::{Client, Driver, Server};
use ringrpc_examples::echo::echo::echo;
use ringrpc_examples::echo_service::EchoHandler;

struct Options {
    seconds: f64,
    concurrency: usize,
    payload: usize,
    client_threads: usize,
    driver: Driver,
    admin: Option<String>,
    linger: f64,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        seconds: 3.0,
        concurrency: 64,
        payload: 64,
        client_threads: 1,
        driver: Driver::Auto,
        admin: None,
        linger: 0.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--seconds" => o.seconds = value.parse().map_err(|e| bad(&e))?,
            "--concurrency" => o.concurrency = value.parse().map_err(|e| bad(&e))?,
            "--payload" => o.payload = value.parse().map_err(|e| bad(&e))?,
            "--client-threads" => o.client_threads = value.parse().map_err(|e| bad(&e))?,
            "--driver" => o.driver = value.parse().map_err(|e: String| bad(&e))?,
            "--admin" => o.admin = Some(value),
            "--linger" => o.linger = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(2);
        }
    };
    let mut builder = Server::builder().driver(o.driver);
    if let Some(admin) = &o.admin {
        builder = builder.admin(admin);
    }
    let server = builder
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .unwrap_or_else(|e| {
            eprintln!("demo: {e}");
            std::process::exit(1)
        });
    let address = server.address().to_string();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "ringrpc demo: echo server on {address}, {workers} worker(s), {} driver",
        o.driver.resolve().name()
    );
    println!(
        "load: {} client thread(s) x {} calls in flight, {} B messages, {} s",
        o.client_threads, o.concurrency, o.payload, o.seconds
    );
    let message = BytesStr::from("x".repeat(o.payload));
    let deadline = Duration::from_secs_f64(o.seconds);
    let threads: Vec<_> = (0..o.client_threads.max(1))
        .map(|_| {
            let (address, message, driver, concurrency) =
                (address.clone(), message.clone(), o.driver, o.concurrency);
            std::thread::spawn(move || {
                block_on(driver, load(address, message, concurrency, deadline))
                    .expect("the client runtime starts")
            })
        })
        .collect();
    let mut total = Histogram::<u64>::new(3).expect("histogram");
    let mut errors = 0;
    for t in threads {
        let (h, e) = t.join().expect("a client thread panicked");
        total.add(h).expect("same histogram bounds");
        errors += e;
    }
    let qps = total.len() as f64 / o.seconds;
    println!(
        "calls: {}  errors: {errors}  QPS: {qps:.0}  p50: {} us  p99: {} us  p999: {} us",
        total.len(),
        total.value_at_quantile(0.50),
        total.value_at_quantile(0.99),
        total.value_at_quantile(0.999),
    );
    // The server's own account, from its metrics (what `/metrics` and `rpcctl` show).
    let snapshot = ringrpc::metrics::global().snapshot();
    if let Some(served) = snapshot.call(Family::Server, "Echo", "echo") {
        let failed: u64 = served.errors.iter().sum();
        println!(
            "server metrics: {} calls, {failed} failed, mean {:.1} us in the handler stack",
            served.requests,
            served.latency_sum_seconds * 1e6 / served.latency_count.max(1) as f64
        );
    }
    if let Some(admin) = server.admin_address() {
        println!(
            "admin endpoint: {admin} (try: cargo run -p ringrpc-rpcctl -- --admin {admin} metrics); serving {} s more",
            o.linger
        );
        std::thread::sleep(Duration::from_secs_f64(o.linger.max(0.0)));
    }
    server.shutdown().expect("the server shuts down");
    if errors > 0 || total.is_empty() {
        std::process::exit(1);
    }
}

/// One client thread: `concurrency` tasks calling `echo` on one multiplexed connection
/// until `deadline`; returns the latencies (µs) and the error count.
async fn load(
    address: String,
    message: BytesStr,
    concurrency: usize,
    deadline: Duration,
) -> (Histogram<u64>, u64) {
    let channel = Client::builder(&address)
        .framing(Framing::TTHeader)
        .protocol(ProtocolId::Binary)
        .connect()
        .await
        .expect("the client connects");
    let client = echo::Client::new(channel);
    let latencies = Rc::new(RefCell::new(Histogram::<u64>::new(3).expect("histogram")));
    let errors = Rc::new(RefCell::new(0u64));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (client, message) = (client.clone(), message.clone());
            let (latencies, errors) = (latencies.clone(), errors.clone());
            spawn(async move {
                while start.elapsed() < deadline {
                    let t = Instant::now();
                    match client.echo(message.clone()).await {
                        Ok(reply) if reply.len() == message.len() => {
                            let us = t.elapsed().as_micros() as u64;
                            let _ = latencies.borrow_mut().record(us.max(1));
                        }
                        Ok(_) | Err(_) => *errors.borrow_mut() += 1,
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await;
    }
    let latencies = latencies.borrow().clone();
    let errors = *errors.borrow();
    (latencies, errors)
}
