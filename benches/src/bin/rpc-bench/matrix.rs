//! `rpc-bench matrix`: runtimes × transports × framings × modes × payloads × concurrency
//! for ringrpc, and the peers where their wire fits (the raw floor: TCP; volo-thrift: TCP,
//! framed ping-pong or TTHeader mux; tonic: TCP), in rounds whose order is shuffled with a
//! seed, with a progress bar. Then a soak run (the server's memory over a long run) and the
//! failover scenario (error rate and recovery), and a report directory: `report.md`
//! (medians per cell, plots, soak, failover), SVG plots, `runs.jsonl` and `soak.json`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ringrpc_bench::matrix::{cdf_series, markdown_table, medians, qps_series};
use ringrpc_bench::plot::{Chart, log_x_chart};
use ringrpc_bench::report::Row;

use super::compare::{Bench, Cell, Contender, Mode, Placement, find_peer_bin, run_cell};
use super::{BenchResult, FramingArg, Runtime, Transport, seconds};

/// A peer of ringrpc in the matrix.
#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum Peer {
    /// The raw length-prefixed echo floor.
    Raw,
    /// volo-thrift (needs the peers' binary).
    Volo,
    /// tonic (needs the peers' binary).
    Tonic,
    /// No peer.
    None,
}

#[derive(Args, Clone)]
pub(crate) struct MatrixArgs {
    /// Runtimes of ringrpc and the raw floor.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "iouring,epoll"
    )]
    runtimes: Vec<Runtime>,
    /// Transports of ringrpc (the peers serve TCP only).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "tcp,uds")]
    transports: Vec<Transport>,
    /// Framings of ringrpc (volo-thrift runs framed ping-pong and TTHeader mux).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "framed,ttheader"
    )]
    framings: Vec<FramingArg>,
    /// `pingpong`: one connection per call in flight; `mux`: one connection.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "pingpong,mux"
    )]
    modes: Vec<Mode>,
    /// Message sizes, bytes.
    #[arg(long, value_delimiter = ',', default_value = "64,1024")]
    payloads: Vec<usize>,
    /// Calls in flight.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    concurrency: Vec<usize>,
    /// Peers (`none` for none; volo and tonic only if their binary is built).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "raw,volo,tonic"
    )]
    peers: Vec<Peer>,
    /// Rounds (medians are over rounds; each round runs every cell once, shuffled).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 2.0)]
    duration: f64,
    /// Seconds of load before measuring, per run.
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Seed of the shuffled order (round `r` uses `seed + r`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    placement: Placement,
    /// The report directory.
    #[arg(long, default_value = "target/rpc-bench-report")]
    out: PathBuf,
    /// Seconds of one long ringrpc run sampling the server's RSS (0: none).
    #[arg(long, default_value_t = 60.0)]
    soak: f64,
    /// Leave out the failover scenario (about 30 s: with and without retries).
    #[arg(long)]
    no_failover: bool,
    /// Run nothing: write the report from `--out`'s `runs.jsonl` (e.g. of an interrupted
    /// matrix: runs are written as they finish).
    #[arg(long)]
    report_only: bool,
    /// The concurrency of the latency CDF plots (default: 64 if measured, else the
    /// largest).
    #[arg(long)]
    cdf_concurrency: Option<usize>,
}

/// What the report needs besides the runs.
struct Extras {
    /// `/proc/loadavg`'s 1, 5 and 15 minute figures before the first run.
    load_at_start: String,
    failed: Vec<(Cell, String)>,
    soak: Option<Row>,
    failover: Vec<(&'static str, String)>,
}

pub(crate) fn matrix(a: MatrixArgs) -> BenchResult<()> {
    validate(&a)?;
    if a.report_only {
        return report_only(&a);
    }
    let peers = |p| a.peers.contains(&p);
    let peer_bin = if peers(Peer::Volo) || peers(Peer::Tonic) {
        find_peer_bin(a.placement.peer_bin.as_ref())?
    } else {
        None
    };
    let cells = cells(&a, peer_bin.is_some());
    std::fs::create_dir_all(&a.out)
        .map_err(|e| format!("--out {}: cannot create it: {e}", a.out.display()))?;
    let jsonl = a.out.join("runs.jsonl");
    let mut runs_file = std::fs::File::create(&jsonl)
        .map_err(|e| format!("cannot write {}: {e}", jsonl.display()))?;
    let bench = Bench {
        warmup: a.warmup,
        duration: a.duration,
        server_cores: a.placement.server_cores.clone(),
        client_cores: a.placement.client_cores.clone(),
        peer_bin,
        baseline_bin: None,
    };
    let failover_runs = if a.no_failover { 0 } else { FAILOVERS.len() };
    let steps = a.rounds * cells.len() + usize::from(a.soak > 0.0) + failover_runs;
    let per_run = a.warmup + a.duration + 0.4;
    let failover_s = if a.no_failover { 0.0 } else { 30.0 };
    eprintln!(
        "rpc-bench matrix: {} cells × {} round(s), about {:.0} s; report in {}",
        cells.len(),
        a.rounds,
        (a.rounds * cells.len()) as f64 * per_run + a.soak + failover_s,
        a.out.display()
    );
    let busy = load_average()
        .split_whitespace()
        .next()
        .and_then(|l| l.parse::<f64>().ok())
        .filter(|&l| l > 0.8);
    if let Some(load) = busy {
        eprintln!(
            "note: the load average is {load} before the first run: something else is busy, \
             expect noisy figures"
        );
    }
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} eta {eta} {msg}")
            .map_err(|e| format!("progress bar: {e}"))?
            .progress_chars("=> "),
    );
    let mut rows = Vec::new();
    let mut extras = Extras {
        load_at_start: load_average(),
        failed: Vec::new(),
        soak: None,
        failover: Vec::new(),
    };
    for round in 0..a.rounds {
        let mut order = cells.clone();
        fastrand::Rng::with_seed(a.seed.wrapping_add(round as u64)).shuffle(&mut order);
        for cell in &order {
            bar.set_message(format!("round {}: {}", round + 1, label(cell)));
            match run_cell(&bench, cell) {
                Ok(row) => {
                    writeln!(runs_file, "{}", row.json())?;
                    bar.suspend(|| eprintln!("round {}: {}", round + 1, row.markdown()));
                    rows.push(row);
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("round {}: {} failed: {e}", round + 1, label(cell)));
                    extras.failed.push((*cell, e.to_string()));
                }
            }
            bar.inc(1);
        }
    }
    if a.soak > 0.0 {
        let cell = soak_cell(&a);
        bar.set_message(format!("soak {} s: {}", a.soak, label(&cell)));
        let soak = Bench {
            duration: a.soak,
            ..bench
        };
        match run_cell(&soak, &cell) {
            Ok(row) => {
                let path = a.out.join("soak.json");
                std::fs::write(&path, row.json() + "\n")
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                extras.soak = Some(row);
            }
            Err(e) => extras.failed.push((cell, format!("soak: {e}"))),
        }
        bar.inc(1);
    }
    if !a.no_failover {
        for (name, extra) in FAILOVERS {
            bar.set_message(format!("failover, {name}"));
            extras.failover.push((name, failover(&a, extra)));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let report = write_report(&a, &rows, &extras)?;
    println!("{}", report.display());
    Ok(())
}

/// Writes the report of the runs in `--out`'s `runs.jsonl`.
fn report_only(a: &MatrixArgs) -> BenchResult<()> {
    let jsonl = a.out.join("runs.jsonl");
    let text = std::fs::read_to_string(&jsonl)
        .map_err(|e| format!("--report-only: cannot read {}: {e}", jsonl.display()))?;
    let rows = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(Row::from_json)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", jsonl.display()))?;
    let extras = Extras {
        load_at_start: "unknown (--report-only)".into(),
        failed: Vec::new(),
        soak: None,
        failover: Vec::new(),
    };
    let report = write_report(a, &rows, &extras)?;
    println!("{}", report.display());
    Ok(())
}

/// The failover scenario's two settings: with retries (the default) and without.
const FAILOVERS: [(&str, &[&str]); 2] = [
    ("with retries (the default)", &[]),
    ("without retries (`--attempts 1`)", &["--attempts", "1"]),
];

fn validate(a: &MatrixArgs) -> BenchResult<()> {
    let positive = |option: &str, v: f64| -> BenchResult<()> {
        if seconds(option, v)?.is_zero() {
            return Err(format!("{option} must be more than 0 seconds").into());
        }
        Ok(())
    };
    positive("--duration", a.duration)?;
    seconds("--warmup", a.warmup)?;
    seconds("--soak", a.soak)?;
    let empty = |option: &str, n: usize| -> BenchResult<()> {
        if n == 0 {
            return Err(format!("{option}: give at least one value").into());
        }
        Ok(())
    };
    empty("--runtimes", a.runtimes.len())?;
    empty("--transports", a.transports.len())?;
    empty("--framings", a.framings.len())?;
    empty("--modes", a.modes.len())?;
    empty("--payloads", a.payloads.len())?;
    empty("--concurrency", a.concurrency.len())?;
    if a.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    if a.concurrency.contains(&0) {
        return Err("--concurrency: every value must be at least 1".into());
    }
    if let Some(c) = a.cdf_concurrency.filter(|c| !a.concurrency.contains(c)) {
        return Err(format!("--cdf-concurrency {c}: not one of --concurrency").into());
    }
    if let Some(&p) = a.payloads.iter().find(|&&p| p > 16 << 20) {
        return Err(format!("--payloads {p}: at most 16 MiB").into());
    }
    Ok(())
}

/// Every cell of the matrix: ringrpc in every setup, then the peers where they fit.
fn cells(a: &MatrixArgs, peer_bin: bool) -> Vec<Cell> {
    let mut cells = Vec::new();
    let peer = |p| a.peers.contains(&p);
    let first_runtime = a.runtimes[0];
    for &mode in &a.modes {
        for &payload in &a.payloads {
            for &concurrency in &a.concurrency {
                let cell = |contender, runtime, transport, framing| Cell {
                    contender,
                    runtime,
                    transport,
                    framing,
                    mode,
                    payload,
                    concurrency,
                    raw_client: false,
                };
                for &runtime in &a.runtimes {
                    for &transport in &a.transports {
                        for &framing in &a.framings {
                            cells.push(cell(Contender::Ringrpc, runtime, transport, framing));
                        }
                    }
                }
                let mut peers = Vec::new();
                if peer(Peer::Raw) {
                    for &runtime in &a.runtimes {
                        peers.push(cell(
                            Contender::RawEcho,
                            runtime,
                            Transport::Tcp,
                            FramingArg::Framed,
                        ));
                    }
                }
                if peer_bin && peer(Peer::Volo) {
                    let framing = Contender::Volo.native_framing(mode);
                    if a.framings.contains(&framing) {
                        peers.push(cell(
                            Contender::Volo,
                            first_runtime,
                            Transport::Tcp,
                            framing,
                        ));
                    }
                }
                if peer_bin && peer(Peer::Tonic) {
                    peers.push(cell(
                        Contender::Tonic,
                        first_runtime,
                        Transport::Tcp,
                        FramingArg::Framed,
                    ));
                }
                if a.transports.contains(&Transport::Tcp) {
                    cells.extend(peers.into_iter().filter(Cell::fits));
                }
            }
        }
    }
    cells
}

fn label(cell: &Cell) -> String {
    format!(
        "{} {}/{}/{} {} {} B ×{}",
        cell.contender.name(),
        cell.runtime.name(),
        cell.transport.name(),
        cell.framing.name(),
        cell.mode.name(),
        cell.payload,
        cell.concurrency
    )
}

/// The CDF plots' concurrency.
fn cdf_concurrency(a: &MatrixArgs) -> usize {
    a.cdf_concurrency.unwrap_or(if a.concurrency.contains(&64) {
        64
    } else {
        a.concurrency.iter().copied().max().unwrap_or(1)
    })
}

/// The soak: ringrpc in the first selected setup, multiplexed if selected, the largest
/// payload, the CDF plots' concurrency.
fn soak_cell(a: &MatrixArgs) -> Cell {
    Cell {
        contender: Contender::Ringrpc,
        runtime: a.runtimes[0],
        transport: a.transports[0],
        framing: a.framings[0],
        mode: if a.modes.contains(&Mode::Mux) {
            Mode::Mux
        } else {
            a.modes[0]
        },
        payload: a.payloads.iter().copied().max().unwrap_or(64),
        concurrency: cdf_concurrency(a),
        raw_client: false,
    }
}

/// Runs `rpc-bench failover` with `extra` arguments; its table and JSON line, or why not.
fn failover(a: &MatrixArgs, extra: &[&str]) -> String {
    let core = |cores: &[usize], default: usize| cores.first().copied().unwrap_or(default);
    let run = || -> BenchResult<String> {
        let out = Command::new(std::env::current_exe()?)
            .args(["failover", "--runtime"])
            .arg(
                a.runtimes[0]
                    .to_possible_value()
                    .map_or("iouring".into(), |v| v.get_name().to_string()),
            )
            .args([
                "--server-core",
                &core(&a.placement.server_cores, 0).to_string(),
            ])
            .args([
                "--client-core",
                &core(&a.placement.client_cores, 1).to_string(),
            ])
            .args(extra)
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        let mut kept = String::new();
        for line in stdout.lines().filter(|l| l.starts_with('|')) {
            let _ = writeln!(kept, "{line}");
        }
        if let Some(json) = stdout.lines().find(|l| l.starts_with('{')) {
            let _ = write!(kept, "\n```json\n{json}\n```\n");
        }
        Ok(kept)
    };
    run().unwrap_or_else(|e| format!("The failover scenario did not run: {e}\n"))
}

/// The 1, 5 and 15 minute load averages (empty if `/proc/loadavg` cannot be read).
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `report.md` and its plots into `--out`; returns the report's path.
fn write_report(a: &MatrixArgs, rows: &[Row], extras: &Extras) -> BenchResult<PathBuf> {
    let cells = medians(rows);
    let mut md = String::new();
    let command: Vec<String> = std::env::args().skip(1).collect();
    let _ = write!(
        md,
        "# rpc-bench matrix\n\n\
         Command: `rpc-bench {}`\n\n\
         Machine: {} CPUs, Linux {}, load average `{}` before the first run, `{}` at the \
         end. Servers pinned to cores \
         {:?}, load to {:?}. {} round(s) in shuffled order (seed {}), {} s measured after {} s \
         of warm-up per run; figures are medians over rounds.\n\n",
        command.join(" "),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        extras.load_at_start,
        load_average(),
        a.placement.server_cores,
        a.placement.client_cores,
        a.rounds,
        a.seed,
        a.duration,
        a.warmup,
    );
    md.push_str(
        "Columns: server CPU µs/req from the server's threads' `schedstat` over the window; \
         server RSS = peak (`VmHWM`); RSS growth = last − first `VmRSS` sample of the window, \
         per minute; conn reuse = 1 − connects / calls of ringrpc's client (which loads ringrpc \
         and volo-thrift), n/a where another client ran the load (the raw floor's, tonic's); \
         errors = failed calls in the windows, summed over rounds.\n\n## Medians per cell\n\n",
    );
    md.push_str(&markdown_table(&cells));
    md.push_str("\n## QPS vs concurrency\n\n");
    for &mode in &a.modes {
        for &payload in &a.payloads {
            let name = format!("qps_{}_{payload}.svg", mode.name());
            let title = format!("QPS vs concurrency, {}, {payload} B", mode.name());
            plot(
                &a.out,
                &name,
                &title,
                "calls in flight",
                "QPS",
                None,
                &qps_series(&cells, mode.name(), payload),
            )?;
            let _ = writeln!(md, "![{title}]({name})\n");
        }
    }
    let concurrency = cdf_concurrency(a);
    let tcp = if a.transports.contains(&Transport::Tcp) {
        Transport::Tcp
    } else {
        a.transports[0]
    };
    let setup = |transport: Transport, framing: FramingArg| {
        format!(
            "{}/{}/binary/{}",
            a.runtimes[0].name(),
            transport.name(),
            framing.name()
        )
    };
    let preferred = [
        setup(tcp, a.framings[0]),
        setup(Transport::Tcp, FramingArg::Framed),
    ];
    let _ = writeln!(
        md,
        "## Latency CDF per framework\n\n{concurrency} calls in flight; ringrpc in `{}` (the \
         first runtime and framing selected, over TCP if selected).\n",
        preferred[0]
    );
    for &mode in &a.modes {
        for &payload in &a.payloads {
            let name = format!("cdf_{}_{payload}_c{concurrency}.svg", mode.name());
            let title = format!(
                "Latency CDF, {}, {payload} B, {concurrency} in flight",
                mode.name()
            );
            let series = cdf_series(&cells, mode.name(), payload, concurrency, &preferred);
            plot(
                &a.out,
                &name,
                &title,
                "latency µs",
                "% of calls",
                Some(100.0),
                &series,
            )?;
            let _ = writeln!(md, "![{title}]({name})\n");
        }
    }
    soak_section(&mut md, a, extras.soak.as_ref());
    md.push_str("## Errors and breaker recovery (`rpc-bench failover`)\n\n");
    if extras.failover.is_empty() {
        md.push_str("Not run (`--no-failover`, or `--report-only`).\n\n");
    }
    for (name, text) in &extras.failover {
        let _ = writeln!(md, "### {name}\n\n{text}");
    }
    if !extras.failed.is_empty() {
        md.push_str("## Runs that failed\n\n");
        for (cell, e) in &extras.failed {
            let _ = writeln!(md, "- {}: {e}", label(cell));
        }
        md.push('\n');
    }
    md.push_str("Every run's figures, one JSON object a line: [runs.jsonl](runs.jsonl).\n");
    let path = a.out.join("report.md");
    std::fs::write(&path, md).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[allow(clippy::too_many_arguments)]
fn plot(
    dir: &Path,
    name: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    y_max: Option<f64>,
    series: &[ringrpc_bench::plot::Series],
) -> BenchResult<()> {
    let chart = Chart {
        title,
        x_label,
        y_label,
        y_max,
        legend_lower_right: y_max.is_some(),
    };
    log_x_chart(&dir.join(name), &chart, series)
        .map_err(|e| format!("{}: {e}", dir.join(name).display()).into())
}

/// The soak's server memory: first, last, growth, and samples over the run.
fn soak_section(md: &mut String, a: &MatrixArgs, soak: Option<&Row>) {
    md.push_str("## Memory over a long run\n\n");
    let Some(row) = soak else {
        md.push_str("Not run (`--soak 0`, or `--report-only`) or failed.\n\n");
        return;
    };
    let samples = &row.server_rss_samples;
    let growth = row
        .rss_growth_kib_per_min()
        .map_or("n/a".into(), |g| format!("{g:.1}"));
    let _ = write!(
        md,
        "`{} {}`, {} mode, {} B, {} in flight, {} s measured: {:.0} QPS, server RSS {} → {} KiB \
         ({growth} KiB/min), connection reuse {}, {} errors.\n\n| s | server RSS KiB |\n|---|---|\n",
        row.server,
        row.setup,
        row.mode,
        row.payload,
        row.concurrency,
        a.soak,
        row.qps,
        samples.first().map_or(0, |s| s.1),
        samples.last().map_or(0, |s| s.1),
        row.connection_reuse()
            .map_or("n/a".into(), |r| format!("{:.4} %", r * 100.0)),
        row.errors,
    );
    // At most about 12 rows: every n-th sample and the last.
    let step = samples.len().div_ceil(12).max(1);
    for (i, (t, kib)) in samples.iter().enumerate() {
        if i % step == 0 || i + 1 == samples.len() {
            let _ = writeln!(md, "| {t:.1} | {kib} |");
        }
    }
    md.push('\n');
}
