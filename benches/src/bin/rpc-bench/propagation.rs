//! `rpc-bench propagation`: how fast a policy change written to etcd is applied on every core
//! of every client process.
//!
//! The driver starts a real etcd on loopback (or uses `--etcd`), writes the benchmark echo
//! method's `timeout_ms` under a fresh prefix, and starts `--processes` agent processes (this
//! binary's hidden `propagation-agent` subcommand). Each agent runs the production path: one
//! [`LivePolicy`] fed by [`ringrpc_etcd::watch_policy`] and one [`ringrpc::Client`] built with
//! `.live_policy(..)`, shared by one pinned worker per core. Every worker reads
//! [`Client::effective_policy`](ringrpc::Client::effective_policy) for `BenchService.echo` (the
//! per-core re-resolution a call does; no call is sent, the client never connects) every
//! `--poll-us`, and when the timeout changes it reports `applied VALUE WORKER REALTIME_NS` on
//! standard output (through a channel to a printer thread, so writing never holds a worker).
//!
//! For each of `--changes` changes the driver takes the wall clock (`CLOCK_REALTIME`, the
//! same clock the agents read on this machine), puts `timeout_ms = 1000 + i` and waits until
//! every core of every agent reported it: the change's latency is the last report's time minus
//! the time before the put. It reports p50/p90/p99/max over the changes, as a markdown table
//! and one JSON line, against the target (p99 ≤ 100 ms). The workers' measured poll
//! interval is the measurement's resolution: monoio's timer rounds sleeps up to whole
//! milliseconds, so a core notices a change up to about one interval after it is published.
//!
//! Agents exit when their standard input closes or reads `quit` (and after `--max-seconds` in
//! any case); etcd is stopped when the driver ends.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use hdrhistogram::Histogram;
use ringrpc::policy::LivePolicy;
use ringrpc::rt::{WorkerConfig, spawn_workers};
use ringrpc_bench::service::bench::bench_service::ECHO;
use ringrpc_etcd::testing::EtcdServer;
use ringrpc_etcd::{EtcdWriter, WatchConfig};

use super::{BenchResult, Common, Runtime, driver};

/// `timeout_ms` before the first change; change `i` sets `BASE_TIMEOUT_MS + i`.
const BASE_TIMEOUT_MS: u64 = 1000;

/// The address the agents' clients are built for. Nothing listens there and nothing dials
/// it: `effective_policy` resolves the policy without opening a connection.
const UNUSED_ADDRESS: &str = "tcp://127.0.0.1:9";

/// The longest the agents may take to start (the watch's first snapshot is bounded by 5 s).
const START_WITHIN: Duration = Duration::from_secs(30);

/// The longest an agent may take to exit once told to.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

#[derive(Args, Clone)]
pub(crate) struct PropagationArgs {
    #[command(flatten)]
    common: Common,
    /// Client processes to start, each with one worker per core.
    #[arg(long, default_value_t = 4)]
    processes: usize,
    /// Workers (pinned, one per core) in each process; 0: one per available core.
    #[arg(long, default_value_t = 0)]
    cores: usize,
    /// Policy changes to time, one after another.
    #[arg(long, default_value_t = 120)]
    changes: usize,
    /// Pause after a change reached every core, before the next write (ms).
    #[arg(long, default_value_t = 20)]
    pause_ms: u64,
    /// How long a worker sleeps between two reads of its policy (µs; monoio's timer rounds
    /// up to whole milliseconds).
    #[arg(long, default_value_t = 250)]
    poll_us: u64,
    /// How long a change may take to reach every core before it counts as not applied (ms).
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// The p99 target the result is checked against (ms).
    #[arg(long, default_value_t = 100)]
    target_ms: u64,
    /// Use this etcd (a client URL such as `http://127.0.0.1:2379`) instead of starting one;
    /// the benchmark writes under a prefix of its own there.
    #[arg(long)]
    etcd: Option<String>,
}

#[derive(Args, Clone)]
pub(crate) struct AgentArgs {
    #[command(flatten)]
    common: Common,
    /// The etcd client URL.
    #[arg(long)]
    etcd: String,
    /// The policy prefix to watch.
    #[arg(long)]
    prefix: String,
    /// Workers (one per core); 0: one per available core.
    #[arg(long, default_value_t = 0)]
    cores: usize,
    /// Sleep between two reads of the policy (µs).
    #[arg(long, default_value_t = 250)]
    poll_us: u64,
    /// Exit after this long even if standard input stays open.
    #[arg(long, default_value_t = 900)]
    max_seconds: u64,
}

/// Nanoseconds since the Unix epoch (`CLOCK_REALTIME`): comparable across processes.
fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn runtime_arg(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Iouring => "iouring",
        Runtime::Epoll => "epoll",
    }
}

// ---------------------------------------------------------------------------------------
// The agent
// ---------------------------------------------------------------------------------------

/// What one worker measured about its own polling.
struct PollStats {
    polls: u64,
    /// Time between two successive reads, µs.
    gaps_us: Histogram<u64>,
    /// How long each report (format and send to the printer) held the worker, ns.
    reports_ns: Histogram<u64>,
}

/// `rpc-bench propagation-agent`: one client process of the benchmark (see the module docs).
/// Prints `ready WORKERS`, then `applied VALUE WORKER REALTIME_NS` for each value a worker
/// sees, and on exit `polls COUNT P50_US P99_US MAX_US REPORT_P50_NS REPORT_MAX_NS` about the
/// workers' poll intervals and how long a report held a worker.
pub(crate) fn agent(a: AgentArgs) -> BenchResult<()> {
    let live = LivePolicy::new();
    let watch = ringrpc_etcd::watch_policy(&live, WatchConfig::new([a.etcd.clone()], &a.prefix))
        .map_err(|e| format!("cannot watch the policy at {} {:?}: {e}", a.etcd, a.prefix))?;
    let client = ringrpc::Client::builder(UNUSED_ADDRESS)
        .live_policy(live)
        .build()
        .map_err(|e| format!("cannot build the client: {e}"))?;

    // One printer thread writes every line: a worker only sends on a channel.
    let (lines, printed) = mpsc::channel::<String>();
    let printer = std::thread::Builder::new()
        .name("propagation-printer".into())
        .spawn(move || -> std::io::Result<()> {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for line in printed {
                writeln!(out, "{line}")?;
                out.flush()?;
            }
            Ok(())
        })
        .map_err(|e| format!("cannot start the printer thread: {e}"))?;

    let config = WorkerConfig {
        workers: a.cores,
        driver: driver(a.common.runtime),
        ..WorkerConfig::default()
    };
    let workers = config.worker_count();
    lines
        .send(format!("ready {workers}"))
        .map_err(|_| "the printer thread ended")?;

    let stop = Arc::new(AtomicBool::new(false));
    let poll = Duration::from_micros(a.poll_us.max(1));
    let (worker_stop, worker_lines) = (stop.clone(), lines.clone());
    let handles = spawn_workers(&config, move |worker| {
        let (client, stop, lines) = (client.clone(), worker_stop.clone(), worker_lines.clone());
        async move {
            let mut stats = PollStats {
                polls: 0,
                gaps_us: Histogram::new(3).map_err(|e| format!("histogram: {e}"))?,
                reports_ns: Histogram::new(3).map_err(|e| format!("histogram: {e}"))?,
            };
            let mut seen = None;
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let timeout = client.effective_policy(&ECHO).timeout;
                if seen != Some(timeout) {
                    let at = realtime_ns();
                    seen = Some(timeout);
                    let line = format!("applied {} {worker} {at}", timeout.as_millis());
                    if lines.send(line).is_err() {
                        break;
                    }
                    let _ = stats.reports_ns.record(realtime_ns().saturating_sub(at));
                }
                ringrpc::rt::sleep(poll).await;
                let now = Instant::now();
                stats.polls += 1;
                let _ = stats
                    .gaps_us
                    .record(now.duration_since(last).as_micros() as u64);
                last = now;
            }
            Ok::<_, String>(stats)
        }
    })
    .map_err(|e| format!("cannot start the workers: {e}"))?;

    // Run until standard input closes or says `quit`, or the time limit.
    let (quit, quitted) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("propagation-stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                match line {
                    Ok(l) if l.trim() == "quit" => break,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let _ = quit.send(());
        })
        .map_err(|e| format!("cannot start the stdin thread: {e}"))?;
    let _ = quitted.recv_timeout(Duration::from_secs(a.max_seconds));
    stop.store(true, Ordering::Relaxed);

    let mut gaps = Histogram::<u64>::new(3).map_err(|e| format!("histogram: {e}"))?;
    let mut polls = 0;
    let mut reports = Histogram::<u64>::new(3).map_err(|e| format!("histogram: {e}"))?;
    for handle in handles {
        let stats = handle
            .join()
            .map_err(|_| "a worker panicked")?
            .map_err(|e| format!("a worker's runtime failed: {e}"))??;
        polls += stats.polls;
        reports
            .add(&stats.reports_ns)
            .map_err(|e| format!("histogram: {e}"))?;
        gaps.add(&stats.gaps_us)
            .map_err(|e| format!("histogram: {e}"))?;
    }
    let _ = lines.send(format!(
        "polls {polls} {} {} {} {} {}",
        gaps.value_at_quantile(0.5),
        gaps.value_at_quantile(0.99),
        gaps.max(),
        reports.value_at_quantile(0.5),
        reports.max()
    ));
    drop(lines);
    printer
        .join()
        .map_err(|_| "the printer thread panicked")?
        .map_err(|e| format!("cannot write to standard output: {e}"))?;
    drop(watch);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------

/// One agent's poll intervals (over all its workers) and its longest report.
struct PollSummary {
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    report_p50_ns: u64,
    report_max_ns: u64,
}

/// A line from an agent, parsed.
enum Event {
    Ready {
        agent: usize,
        workers: usize,
    },
    Applied {
        agent: usize,
        worker: usize,
        value: u64,
        at_ns: u64,
    },
    Polls(PollSummary),
    Closed {
        agent: usize,
    },
    Bad {
        agent: usize,
        line: String,
    },
}

fn parse(agent: usize, line: &str) -> Event {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let bad = || Event::Bad {
        agent,
        line: line.to_string(),
    };
    match fields.first().copied() {
        Some("ready") => match num(1) {
            Some(workers) => Event::Ready {
                agent,
                workers: workers as usize,
            },
            None => bad(),
        },
        Some("applied") => match (num(1), num(2), num(3)) {
            (Some(value), Some(worker), Some(at_ns)) => Event::Applied {
                agent,
                worker: worker as usize,
                value,
                at_ns,
            },
            _ => bad(),
        },
        Some("polls") => match (num(2), num(3), num(4), num(5), num(6)) {
            (
                Some(p50_us),
                Some(p99_us),
                Some(max_us),
                Some(report_p50_ns),
                Some(report_max_ns),
            ) => Event::Polls(PollSummary {
                p50_us,
                p99_us,
                max_us,
                report_p50_ns,
                report_max_ns,
            }),
            _ => bad(),
        },
        _ => bad(),
    }
}

/// The agent processes; dropping this closes their standard input and waits for them
/// (killing one that does not exit within [`EXIT_WITHIN`]).
struct Agents {
    children: Vec<(Child, Option<ChildStdin>)>,
}

impl Agents {
    /// Asks every agent to quit and closes its standard input.
    fn quit(&mut self) {
        for (_, stdin) in &mut self.children {
            if let Some(mut s) = stdin.take() {
                let _ = writeln!(s, "quit");
            }
        }
    }

    /// Waits for every agent to exit; an agent still running after [`EXIT_WITHIN`] is
    /// killed. Returns the agents that failed.
    fn wait(&mut self) -> Vec<String> {
        self.quit();
        let deadline = Instant::now() + EXIT_WITHIN;
        let mut failures = Vec::new();
        for (n, (child, _)) in self.children.iter_mut().enumerate() {
            loop {
                match child.try_wait() {
                    Ok(Some(status)) if status.success() => break,
                    Ok(Some(status)) => {
                        failures.push(format!("agent {n} exited with {status}"));
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Ok(None) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        failures.push(format!("agent {n} did not exit within {EXIT_WITHIN:?}"));
                        break;
                    }
                    Err(e) => {
                        failures.push(format!("cannot wait for agent {n}: {e}"));
                        break;
                    }
                }
            }
        }
        self.children.clear();
        failures
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        self.wait();
    }
}

/// Where each core stands: `reported[agent][worker]` = (value, realtime ns) last reported.
struct Cores {
    reported: Vec<Vec<Option<(u64, u64)>>>,
}

impl Cores {
    /// Whether every core reported `value`; if so, the earliest and latest report times.
    fn all_at(&self, value: u64) -> Option<(u64, u64)> {
        let mut span: Option<(u64, u64)> = None;
        for at in self.reported.iter().flatten() {
            match at {
                Some((v, at)) if *v == value => {
                    span = Some(span.map_or((*at, *at), |(lo, hi)| (lo.min(*at), hi.max(*at))));
                }
                _ => return None,
            }
        }
        span
    }

    /// The cores that have not reported `value`, for error messages.
    fn missing(&self, value: u64) -> Vec<String> {
        let mut out = Vec::new();
        for (agent, workers) in self.reported.iter().enumerate() {
            for (worker, at) in workers.iter().enumerate() {
                if !matches!(at, Some((v, _)) if *v == value) {
                    out.push(format!("agent {agent} core {worker}"));
                }
            }
        }
        out
    }
}

/// One timed change.
struct Timed {
    /// Put started → the last core applied it, ms.
    last_ms: f64,
    /// Put started → the first core applied it, ms.
    first_ms: f64,
    /// The put itself (until etcd acknowledged), ms.
    put_ms: f64,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Finds `etcd` on `PATH`, for a clear error before [`EtcdServer::require`] panics.
fn etcd_on_path() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("etcd").is_file()))
}

pub(crate) fn propagation(a: PropagationArgs) -> BenchResult<()> {
    if a.processes == 0 || a.changes == 0 {
        return Err("--processes and --changes must be at least 1".into());
    }
    let (_etcd, endpoint) = match &a.etcd {
        Some(url) => (None, url.clone()),
        None if !etcd_on_path() => {
            return Err(
                "the `etcd` binary is not on PATH: install Debian's `etcd-server` \
                 (apt-get install etcd-server), or pass --etcd URL"
                    .into(),
            );
        }
        None => {
            let etcd = EtcdServer::require();
            let endpoint = etcd.endpoint();
            (Some(etcd), endpoint)
        }
    };
    let writer = EtcdWriter::connect([endpoint.clone()])
        .map_err(|e| format!("cannot connect to etcd at {endpoint}: {e}"))?;
    let prefix = format!(
        "/ringrpc-bench/propagation/{}-{}/",
        std::process::id(),
        realtime_ns()
    );
    let key = format!("{prefix}{}.{}", ECHO.service, ECHO.name);
    let put = |value: u64| {
        writer
            .put(key.as_str(), format!("{{\"timeout_ms\": {value}}}"))
            .map_err(|e| format!("cannot write {key} to etcd at {endpoint}: {e}"))
    };
    put(BASE_TIMEOUT_MS)?;

    // Start the agents, a reader thread each.
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    // The agents' own bound on their lifetime, well past this run's longest.
    let lifetime = START_WITHIN
        + Duration::from_millis((a.timeout_ms + a.pause_ms).saturating_mul(a.changes as u64))
        + Duration::from_secs(60);
    let (events, incoming) = mpsc::channel::<Event>();
    let mut agents = Agents {
        children: Vec::new(),
    };
    for n in 0..a.processes {
        let mut command = Command::new(&exe);
        command
            .args([
                "propagation-agent",
                "--etcd",
                &endpoint,
                "--prefix",
                &prefix,
            ])
            .args(["--cores", &a.cores.to_string()])
            .args(["--poll-us", &a.poll_us.to_string()])
            .args(["--max-seconds", &lifetime.as_secs().to_string()])
            .args(["--runtime", runtime_arg(a.common.runtime)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start agent {n} ({command:?}): {e}"))?;
        let stdout = child.stdout.take().ok_or("no agent stdout")?;
        let stdin = child.stdin.take();
        agents.children.push((child, stdin));
        let events = events.clone();
        std::thread::Builder::new()
            .name(format!("propagation-reader-{n}"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if events.send(parse(n, &line)).is_err() {
                        return;
                    }
                }
                let _ = events.send(Event::Closed { agent: n });
            })
            .map_err(|e| format!("cannot start a reader thread: {e}"))?;
    }
    drop(events);

    let mut cores = Cores {
        reported: vec![Vec::new(); a.processes],
    };
    let mut polls = Vec::new();
    // Handles one event; an error ends the benchmark.
    let mut handle = |event: Event, cores: &mut Cores| -> BenchResult<()> {
        match event {
            Event::Ready { agent, workers } => {
                cores.reported[agent] = vec![None; workers];
            }
            Event::Applied {
                agent,
                worker,
                value,
                at_ns,
            } => match cores.reported[agent].get_mut(worker) {
                Some(slot) => *slot = Some((value, at_ns)),
                None => return Err(format!("agent {agent} reported unknown core {worker}").into()),
            },
            Event::Polls(summary) => polls.push(summary),
            Event::Closed { agent } => {
                return Err(
                    format!("agent {agent} closed its output: it exited or crashed (its errors, if any, are above)").into(),
                );
            }
            Event::Bad { agent, line } => {
                return Err(format!("agent {agent} printed an unexpected line: {line:?}").into());
            }
        }
        Ok(())
    };

    // Every core of every agent at the initial value.
    let deadline = Instant::now() + START_WITHIN;
    while cores.all_at(BASE_TIMEOUT_MS).is_none() || cores.reported.iter().any(Vec::is_empty) {
        let left = deadline.saturating_duration_since(Instant::now());
        match incoming.recv_timeout(left) {
            Ok(event) => handle(event, &mut cores)?,
            Err(_) => {
                return Err(format!(
                    "the agents did not start within {START_WITHIN:?}: not at the initial policy: {}",
                    cores.missing(BASE_TIMEOUT_MS).join(", ")
                )
                .into());
            }
        }
    }
    let workers_per_agent: Vec<usize> = cores.reported.iter().map(Vec::len).collect();
    let cores_per_process = workers_per_agent[0];

    // The timed changes.
    let per_change = Duration::from_millis(a.timeout_ms);
    let mut timed = Vec::with_capacity(a.changes);
    let mut failed = Vec::new();
    for i in 1..=a.changes as u64 {
        let value = BASE_TIMEOUT_MS + i;
        let started = Instant::now();
        let t0 = realtime_ns();
        put(value)?;
        let put_ms = started.elapsed().as_secs_f64() * 1e3;
        let deadline = started + per_change;
        loop {
            if let Some((first, last)) = cores.all_at(value) {
                let ms = |at: u64| at.saturating_sub(t0) as f64 / 1e6;
                timed.push(Timed {
                    last_ms: ms(last),
                    first_ms: ms(first),
                    put_ms,
                });
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match incoming.recv_timeout(left) {
                Ok(event) => handle(event, &mut cores)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    failed.push(format!(
                        "change {i} (timeout_ms = {value}) not applied within {per_change:?} on {}",
                        cores.missing(value).join(", ")
                    ));
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err("every agent closed its output".into());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(a.pause_ms));
    }

    // Stop the agents and collect their poll statistics.
    agents.quit();
    let deadline = Instant::now() + EXIT_WITHIN;
    let mut closed = 0;
    while closed < a.processes {
        let left = deadline.saturating_duration_since(Instant::now());
        match incoming.recv_timeout(left) {
            Ok(Event::Closed { .. }) => closed += 1,
            Ok(Event::Applied { .. }) => {}
            Ok(event) => handle(event, &mut cores)?,
            Err(_) => break,
        }
    }
    let agent_failures = agents.wait();
    if !agent_failures.is_empty() {
        return Err(agent_failures.join("; ").into());
    }

    let last = sorted(timed.iter().map(|t| t.last_ms));
    let first = sorted(timed.iter().map(|t| t.first_ms));
    let spread = sorted(timed.iter().map(|t| t.last_ms - t.first_ms));
    let puts = sorted(timed.iter().map(|t| t.put_ms));
    let (p50, p90, p99, max) = (
        percentile(&last, 0.50),
        percentile(&last, 0.90),
        percentile(&last, 0.99),
        percentile(&last, 1.0),
    );
    let first_p50 = percentile(&first, 0.5);
    let spread_p99 = percentile(&spread, 0.99);
    let put_p50 = percentile(&puts, 0.5);
    let met = failed.is_empty() && p99 <= a.target_ms as f64;
    let ms = |us: u64| us as f64 / 1e3;
    // The worst agent's figures.
    let poll_p50 = polls.iter().map(|p| p.p50_us).max().map_or(f64::NAN, ms);
    let poll_p99 = polls.iter().map(|p| p.p99_us).max().map_or(f64::NAN, ms);
    let poll_max = polls.iter().map(|p| p.max_us).max().map_or(f64::NAN, ms);
    let report_p50_us = polls.iter().map(|p| p.report_p50_ns).max().unwrap_or(0) as f64 / 1e3;
    let report_max_us = polls.iter().map(|p| p.report_max_ns).max().unwrap_or(0) as f64 / 1e3;

    println!(
        "| processes | cores per process | changes | applied everywhere | p50 ms | p90 ms | p99 ms | max ms | first core p50 ms | spread p99 ms | etcd put p50 ms | target p99 ms | met |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {cores_per_process} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        a.processes,
        a.changes,
        timed.len(),
        md_ms(p50),
        md_ms(p90),
        md_ms(p99),
        md_ms(max),
        md_ms(first_p50),
        md_ms(spread_p99),
        md_ms(put_p50),
        a.target_ms,
        if met { "yes" } else { "no" },
    );
    println!();
    println!(
        "Latency: the last core's report minus the wall clock before the put. Resolution: each \
         core read its policy every {poll_p50:.2} ms (p50; p99 {poll_p99:.2} ms, max \
         {poll_max:.2} ms; --poll-us {}, rounded up by monoio's millisecond timer), so a core \
         notices a change up to one interval after its process published it. A report (timestamp \
         first, then one channel send to a printer thread) held a worker {report_p50_us:.1} µs \
         (p50; max {report_max_us:.1} µs, preemption included).",
        a.poll_us
    );
    println!(
        "{{\"processes\":{},\"cores_per_process\":{cores_per_process},\"changes\":{},\"applied\":{},\"failed\":{},\"p50_ms\":{},\"p90_ms\":{},\"p99_ms\":{},\"max_ms\":{},\"first_core_p50_ms\":{},\"spread_p99_ms\":{},\"put_p50_ms\":{},\"poll_p50_ms\":{},\"poll_max_ms\":{},\"target_ms\":{},\"met\":{met}}}",
        a.processes,
        a.changes,
        timed.len(),
        failed.len(),
        json_ms(p50),
        json_ms(p90),
        json_ms(p99),
        json_ms(max),
        json_ms(first_p50),
        json_ms(spread_p99),
        json_ms(put_p50),
        json_ms(poll_p50),
        json_ms(poll_max),
        a.target_ms,
    );
    if workers_per_agent.iter().any(|&w| w != cores_per_process) {
        eprintln!("note: agents run different worker counts: {workers_per_agent:?}");
    }
    if !failed.is_empty() {
        return Err(format!(
            "{} of {} changes were not applied everywhere: {}",
            failed.len(),
            a.changes,
            failed.join("; ")
        )
        .into());
    }
    Ok(())
}

/// A figure in ms with two decimals for the table; `n/a` when there is none.
fn md_ms(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "n/a".into()
    }
}

/// A figure in ms with two decimals for the JSON line; `null` when there is none.
fn json_ms(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "null".into()
    }
}
