//! `rpc-bench failover`: the governance scenario. Three server processes under load from
//! one client (instances `a`, `b`, and `c` tagged `canary`); `b` is killed (SIGKILL), then
//! restarted on the same port. Measured: how long until the error rate stays under 0.1 %
//! after the kill (retries, ejection, breakers), how long until `b` is back in rotation
//! after the restart, and where gray-tagged and untagged calls go (`c` only, and never).

use std::cell::RefCell;
use std::net::TcpListener;
use std::process::{Child, Command};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use ringrpc::Client;
use ringrpc::client::discovery::{Discovery, Instance};
use ringrpc::codec::BytesStr;
use ringrpc::codec::frame::Framing;
use ringrpc::governance::balance::EjectionConfig;
use ringrpc::metainfo::{self, MetaInfo};
use ringrpc::rt::{WorkerConfig, spawn, spawn_workers};
use ringrpc_bench::service::bench::{Echo, bench_service};

use super::{BenchResult, Runtime, driver, ours_server_args_named, start_server, stop_server};

#[derive(Args, Clone)]
pub(crate) struct FailoverArgs {
    /// The I/O driver of servers and clients.
    #[arg(long, value_enum, default_value = "iouring")]
    runtime: Runtime,
    /// Calls in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Attempts per call (`retry.max_attempts`); 1 shows what ejection and breakers do
    /// without retries.
    #[arg(long, default_value_t = 3)]
    attempts: u64,
    /// Seconds of load before the kill.
    #[arg(long, default_value_t = 2.0)]
    before_kill: f64,
    /// Seconds `b` stays down.
    #[arg(long, default_value_t = 3.0)]
    down: f64,
    /// Seconds of load after the restart.
    #[arg(long, default_value_t = 6.0)]
    after_restart: f64,
    /// Tagged and untagged calls in the gray phase, each.
    #[arg(long, default_value_t = 2000)]
    gray_calls: usize,
    /// Core of the server processes.
    #[arg(long, default_value_t = 0)]
    server_core: usize,
    /// Core of the load.
    #[arg(long, default_value_t = 1)]
    client_core: usize,
}

/// What one call did: when it ended (ms since the load started) and which instance
/// answered (`None`: it failed).
type Outcome = (u32, Option<u8>);

const NAMES: [&str; 3] = ["a", "b", "c"];
/// Width of the buckets the error rate and `b`'s share are computed over.
const BUCKET_MS: u32 = 100;

/// Timeline marks, ms since the load started.
#[derive(Debug, Default, Clone, Copy)]
struct Marks {
    killed: u32,
    restarted: u32,
    end: u32,
}

pub(crate) fn failover(a: FailoverArgs) -> BenchResult<()> {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect::<Result<_, _>>()?;
    let listen = |i: usize| format!("tcp://127.0.0.1:{}", ports[i]);
    let start = |i: usize| -> BenchResult<Child> {
        let args = ours_server_args_named(a.runtime, &listen(i), &[a.server_core], NAMES[i]);
        Ok(start_server(Command::new(std::env::current_exe()?).args(args))?.0)
    };
    let mut servers: Vec<Child> = (0..3).map(start).collect::<Result<_, _>>()?;
    let result = scenario(&a, &listen, &mut servers, &start);
    for server in &mut servers {
        let _ = stop_server(server);
    }
    let report = result?;
    report.print();
    Ok(())
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn scenario(
    a: &FailoverArgs,
    listen: &dyn Fn(usize) -> String,
    servers: &mut [Child],
    start: &dyn Fn(usize) -> BenchResult<Child>,
) -> BenchResult<Report> {
    let instances = vec![
        Instance::new(&listen(0))?,
        Instance::new(&listen(1))?,
        Instance::new(&listen(2))?.tag("canary"),
    ];
    let client = Client::discover(Discovery::fixed(instances)?)
        .framing(Framing::TTHeader)
        .timeout(Duration::from_secs(1))
        .policy("*", "idempotent", true)
        .policy("*", "retry.max_attempts", a.attempts)
        .policy("*", "retry.backoff_base_ms", 2u64)
        .policy("*", "retry.backoff_max_ms", 20u64)
        .policy("*", "circuit_breaker.min_requests", 10u64)
        .policy("*", "circuit_breaker.failure_rate", 0.5)
        .policy("*", "circuit_breaker.window_ms", 1_000u64)
        .policy("*", "circuit_breaker.open_ms", 500u64)
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(500))
        .ejection(EjectionConfig {
            consecutive_failures: 3,
            base: Duration::from_millis(200),
            max: Duration::from_secs(1),
        })
        .build()?;
    let client = bench_service::Client::new(client);

    // The timeline runs on this thread; the load on a pinned worker.
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let gray: Arc<Mutex<Option<(usize, usize)>>> = Arc::default();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let stop_rx = Arc::new(Mutex::new(Some(stop_rx)));
    let began = Instant::now();
    let workers = WorkerConfig {
        workers: 1,
        cores: vec![a.client_core],
        driver: driver(a.runtime),
        ..WorkerConfig::default()
    };
    let (outs, gray_out, concurrency, gray_calls) =
        (outcomes.clone(), gray.clone(), a.concurrency, a.gray_calls);
    let threads = spawn_workers(&workers, move |_| {
        let client = client.clone();
        let outs = outs.clone();
        let gray_out = gray_out.clone();
        let stop_rx = stop_rx.lock().ok().and_then(|mut s| s.take());
        async move {
            let stop = Rc::new(std::cell::Cell::new(false));
            let local: Rc<RefCell<Vec<Outcome>>> = Rc::default();
            let tasks: Vec<_> = (0..concurrency)
                .map(|_| {
                    let (client, stop, local) = (client.clone(), stop.clone(), local.clone());
                    spawn(async move {
                        while !stop.get() {
                            let answered = call(&client).await;
                            let at = began.elapsed().as_millis() as u32;
                            local.borrow_mut().push((at, answered));
                        }
                    })
                })
                .collect();
            // Until the timeline says stop (checked every 10 ms; bounded by the timeline).
            while let Some(rx) = &stop_rx {
                match rx.try_recv() {
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        ringrpc::rt::sleep(Duration::from_millis(10)).await
                    }
                    _ => break,
                }
            }
            stop.set(true);
            for task in tasks {
                task.await;
            }
            // Gray phase: tagged calls, then untagged ones.
            let mut tagged = MetaInfo::new();
            tagged.set_persistent("route_tag", "canary");
            let to_canary_tagged = metainfo::scope(tagged, async {
                let mut n = 0;
                for _ in 0..gray_calls {
                    n += usize::from(call(&client).await == Some(2));
                }
                n
            })
            .await;
            let mut to_canary_untagged = 0;
            for _ in 0..gray_calls {
                to_canary_untagged += usize::from(call(&client).await == Some(2));
            }
            *gray_out.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((to_canary_tagged, to_canary_untagged));
            outs.lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(local.borrow().iter().copied());
        }
    })?;

    let ms = |d: f64| Duration::from_secs_f64(d);
    let mut marks = Marks::default();
    std::thread::sleep(ms(a.before_kill));
    servers[1].kill()?;
    marks.killed = began.elapsed().as_millis() as u32;
    let _ = servers[1].wait();
    std::thread::sleep(ms(a.down));
    servers[1] = start(1)?;
    marks.restarted = began.elapsed().as_millis() as u32;
    std::thread::sleep(ms(a.after_restart));
    marks.end = began.elapsed().as_millis() as u32;
    let _ = stop_tx.send(());
    for thread in threads {
        thread
            .join()
            .map_err(|_| "the load thread panicked")?
            .map_err(|e| format!("the load thread failed: {e}"))?;
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap_or_else(|p| p.into_inner()));
    let gray = gray
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .ok_or("the gray phase did not run")?;
    Ok(Report::new(outcomes, marks, gray, a.gray_calls))
}

/// One echo call; which instance answered it.
async fn call(client: &bench_service::Client<Client>) -> Option<u8> {
    let req = Echo {
        action: BytesStr::from_static("failover"),
        msg: BytesStr::from_static("0123456789abcdef0123456789abcdef"),
    };
    match client.echo(req).await {
        Ok(reply) => NAMES
            .iter()
            .position(|n| *n == reply.action.as_str())
            .map(|i| i as u8),
        Err(_) => None,
    }
}

struct Report {
    marks: Marks,
    calls: usize,
    errors_total: usize,
    errors_after_kill: usize,
    /// From the kill until the error rate stays under 0.1 % (per 100 ms bucket).
    recovered_ms: Option<u32>,
    /// From the restart until `b` answers a call again.
    b_first_call_ms: Option<u32>,
    /// From the restart until `b` gets at least a third of a bucket's calls.
    b_back_ms: Option<u32>,
    gray_tagged: (usize, usize),
    gray_untagged: (usize, usize),
    /// Error rate (percent) per bucket, for the timeline line.
    timeline: Vec<(u32, f64, f64)>,
}

impl Report {
    fn new(
        mut outcomes: Vec<Outcome>,
        marks: Marks,
        gray: (usize, usize),
        gray_calls: usize,
    ) -> Self {
        outcomes.sort_unstable_by_key(|o| o.0);
        let buckets = (marks.end / BUCKET_MS + 1) as usize;
        // (calls, errors, answered by b) per bucket.
        let mut per = vec![(0usize, 0usize, 0usize); buckets];
        for &(at, answered) in &outcomes {
            let Some(bucket) = per.get_mut((at / BUCKET_MS) as usize) else {
                continue;
            };
            bucket.0 += 1;
            bucket.1 += usize::from(answered.is_none());
            bucket.2 += usize::from(answered == Some(1));
        }
        let kill_bucket = (marks.killed / BUCKET_MS) as usize;
        let restart_bucket = (marks.restarted / BUCKET_MS) as usize;
        // The first bucket after the kill from which every bucket until the restart has
        // an error rate under 0.1 %.
        let recovered = (kill_bucket..restart_bucket)
            .find(|&start| {
                per[start..restart_bucket]
                    .iter()
                    .all(|&(calls, errors, _)| calls > 0 && errors * 1000 < calls)
            })
            .map(|b| (b as u32 * BUCKET_MS).saturating_sub(marks.killed));
        let b_first_call_ms = outcomes
            .iter()
            .find(|&&(at, answered)| at >= marks.restarted && answered == Some(1))
            .map(|&(at, _)| at - marks.restarted);
        let b_back_ms = (restart_bucket..buckets)
            .find(|&i| per[i].0 > 0 && per[i].2 * 3 >= per[i].0)
            .map(|b| ((b as u32 + 1) * BUCKET_MS).saturating_sub(marks.restarted));
        Report {
            marks,
            calls: outcomes.len(),
            errors_total: outcomes.iter().filter(|o| o.1.is_none()).count(),
            errors_after_kill: outcomes
                .iter()
                .filter(|o| o.0 >= marks.killed && o.0 < marks.restarted && o.1.is_none())
                .count(),
            recovered_ms: recovered,
            b_first_call_ms,
            b_back_ms,
            gray_tagged: (gray.0, gray_calls),
            gray_untagged: (gray.1, gray_calls),
            timeline: per
                .iter()
                .enumerate()
                .map(|(i, &(calls, errors, b))| {
                    let pct = |n: usize| {
                        if calls == 0 {
                            0.0
                        } else {
                            n as f64 * 100.0 / calls as f64
                        }
                    };
                    (i as u32 * BUCKET_MS, pct(errors), pct(b))
                })
                .collect(),
        }
    }

    fn print(&self) {
        let ms = |v: Option<u32>| v.map_or("never".to_string(), |v| format!("{v} ms"));
        let pct = |(n, of): (usize, usize)| n as f64 * 100.0 / of.max(1) as f64;
        let recovered_met = self.recovered_ms.is_some_and(|v| v <= 2_000);
        let back_met = self.b_back_ms.is_some_and(|v| v <= 5_000);
        let gray_met = self.gray_tagged.0 == self.gray_tagged.1 && self.gray_untagged.0 == 0;
        println!(
            "timeline (per {BUCKET_MS} ms: error % / share answered by b %); b killed at {} ms, restarted at {} ms",
            self.marks.killed, self.marks.restarted
        );
        for (at, errors, b) in &self.timeline {
            if *errors > 0.0
                || (*at + BUCKET_MS > self.marks.killed && *at < self.marks.killed + 3 * BUCKET_MS)
                || (*at + BUCKET_MS > self.marks.restarted && *at < self.marks.restarted + 2_000)
            {
                println!("  {at:>6} ms  errors {errors:>6.2} %  b {b:>5.1} %");
            }
        }
        println!();
        println!("| measure | value | goal | met |");
        println!("|---|---|---|---|");
        println!(
            "| calls (errors) | {} ({}) | | |",
            self.calls, self.errors_total
        );
        println!(
            "| kill → error rate < 0.1 % for good | {} ({} errors after the kill) | ≤ 2 s | {} |",
            ms(self.recovered_ms),
            self.errors_after_kill,
            yes(recovered_met)
        );
        println!(
            "| restart → b answers again | {} (first call {}) | ≤ 5 s | {} |",
            ms(self.b_back_ms),
            ms(self.b_first_call_ms),
            yes(back_met)
        );
        println!(
            "| tagged calls reaching the canary | {:.2} % ({} of {}) | 100 % | {} |",
            pct(self.gray_tagged),
            self.gray_tagged.0,
            self.gray_tagged.1,
            yes(self.gray_tagged.0 == self.gray_tagged.1)
        );
        println!(
            "| untagged calls reaching the canary | {:.2} % ({} of {}) | 0 % | {} |",
            pct(self.gray_untagged),
            self.gray_untagged.0,
            self.gray_untagged.1,
            yes(self.gray_untagged.0 == 0)
        );
        let json = serde_json::json!({
            "scenario": "failover",
            "calls": self.calls,
            "errors": self.errors_total,
            "errors_after_kill": self.errors_after_kill,
            "killed_at_ms": self.marks.killed,
            "restarted_at_ms": self.marks.restarted,
            "recovered_ms": self.recovered_ms,
            "back_in_rotation_ms": self.b_back_ms,
            "first_call_after_restart_ms": self.b_first_call_ms,
            "gray_tagged_to_canary_pct": pct(self.gray_tagged),
            "gray_untagged_to_canary_pct": pct(self.gray_untagged),
            "met": recovered_met && back_met && gray_met,
        });
        println!("{json}");
    }
}

fn yes(met: bool) -> &'static str {
    if met { "yes" } else { "no" }
}
