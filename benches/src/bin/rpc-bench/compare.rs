//! `rpc-bench compare`: every server in both modes and every payload, in interleaved rounds
//! (a server's runs are spread over the whole comparison, so the machine's drift hits all
//! alike), then a table of medians and the ratios issue #4's targets are stated in.
//!
//! Contenders: ringrpc and the raw length-prefixed echo floor (this binary), volo-thrift and
//! tonic (the `peer-echo` binary of the non-default `benches/peers` crate, when built).
//! ringrpc's load generator drives every server whose wire it speaks; tonic brings its own
//! client. Servers are pinned to `--server-cores`, load to `--client-cores`.

use std::path::PathBuf;
use std::process::Command;

use clap::Args;
use ringrpc_bench::report::Row;

use super::{
    BenchResult, Common, FramingArg, Kind, LoadArgs, Protocol, load_spec, measure,
    ours_server_args, setup_name, start_server, stop_server,
};

#[derive(Args, Clone)]
pub(crate) struct CompareArgs {
    #[command(flatten)]
    common: Common,
    /// One short round (0.5 s warm-up, 2 s measured per run): under two minutes.
    #[arg(long)]
    quick: bool,
    /// Interleaved rounds (medians are over rounds).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring, per run.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Calls in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Message sizes.
    #[arg(long, value_delimiter = ',', default_value = "64,1024")]
    payloads: Vec<usize>,
    /// Cores to pin the servers to.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    server_cores: Vec<usize>,
    /// Cores to pin the load generator to.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    client_cores: Vec<usize>,
    /// The peers' binary (default: `benches/peers/target/release/peer-echo` of this
    /// checkout; built by `cargo build --release --manifest-path benches/peers/Cargo.toml`).
    #[arg(long)]
    peer_bin: Option<PathBuf>,
    /// Leave volo-thrift and tonic out even if their binary is built.
    #[arg(long)]
    no_peers: bool,
}

/// Ping-pong (one call in flight per connection) or multiplexed (one connection).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    PingPong,
    Mux,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::PingPong => "pingpong",
            Mode::Mux => "mux",
        }
    }
}

/// A server in the comparison.
#[derive(Clone, Copy, PartialEq)]
enum Contender {
    Ringrpc,
    RawEcho,
    Volo,
    Tonic,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Ringrpc => "ringrpc",
            Contender::RawEcho => "raw-echo",
            Contender::Volo => "volo-thrift",
            Contender::Tonic => "tonic",
        }
    }
}

/// The comparison's fixed settings.
struct Plan<'a> {
    args: &'a CompareArgs,
    warmup: f64,
    duration: f64,
    peer_bin: Option<PathBuf>,
}

pub(crate) fn compare(a: CompareArgs) -> BenchResult<()> {
    let (rounds, warmup, duration) = if a.quick {
        (1, 0.5, 2.0)
    } else {
        (a.rounds.max(1), a.warmup, a.duration)
    };
    let peer_bin = if a.no_peers { None } else { find_peer_bin(&a)? };
    let mut contenders = vec![Contender::Ringrpc, Contender::RawEcho];
    if peer_bin.is_some() {
        contenders.extend([Contender::Volo, Contender::Tonic]);
    }
    let plan = Plan {
        args: &a,
        warmup,
        duration,
        peer_bin,
    };
    let modes = [Mode::PingPong, Mode::Mux];
    let mut rows: Vec<Row> = Vec::new();
    for round in 0..rounds {
        for &mode in &modes {
            for &payload in &a.payloads {
                for &contender in &contenders {
                    let row = run_contender(&plan, contender, mode, payload)?;
                    eprintln!("round {}: {}", round + 1, row.markdown());
                    println!("{}", row.json());
                    rows.push(row);
                }
            }
        }
    }
    let medians = Medians { rows: &rows };
    println!();
    println!(
        "Medians of {rounds} interleaved round(s), {duration} s measured after {warmup} s of \
         warm-up per run; servers pinned to cores {:?}, load to {:?}; {} calls in flight.",
        a.server_cores, a.client_cores, a.concurrency
    );
    println!();
    println!(
        "| server | mode | payload | setup | QPS | p50 µs | p99 µs | p999 µs | server CPU µs/req | × raw floor | server RSS KiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for &mode in &modes {
        for &payload in &a.payloads {
            let floor = medians.cpu(Contender::RawEcho, mode, payload);
            for &contender in &contenders {
                let runs = medians.runs(contender, mode, payload);
                let Some(first) = runs.first() else { continue };
                let m = |f: &dyn Fn(&Row) -> f64| median(runs.iter().map(|r| f(r)).collect());
                let cpu = medians.cpu(contender, mode, payload);
                println!(
                    "| {} | {} | {payload} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {cpu:.2} | {:.2} | {:.0} |",
                    contender.name(),
                    mode.name(),
                    first.setup,
                    m(&|r| r.qps),
                    m(&|r| r.p50_us as f64),
                    m(&|r| r.p99_us as f64),
                    m(&|r| r.p999_us as f64),
                    cpu / floor,
                    m(&|r| r.server_rss_kib.unwrap_or(0) as f64),
                );
            }
        }
    }
    println!();
    print_targets(&medians, &a.payloads, contenders.contains(&Contender::Volo));
    Ok(())
}

/// The peers' binary: `--peer-bin`, else the default build location if it exists.
fn find_peer_bin(a: &CompareArgs) -> BenchResult<Option<PathBuf>> {
    if let Some(path) = &a.peer_bin {
        if !path.is_file() {
            return Err(format!("--peer-bin {}: no such file", path.display()).into());
        }
        return Ok(Some(path.clone()));
    }
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/target/release/peer-echo");
    if default.is_file() {
        Ok(Some(default))
    } else {
        eprintln!(
            "note: volo-thrift and tonic are left out: their binary is not built. Build it with \
             `cargo build --release --manifest-path benches/peers/Cargo.toml --bin peer-echo`."
        );
        Ok(None)
    }
}

/// Starts `contender`'s server, loads it in `mode`, stops it.
fn run_contender(
    plan: &Plan<'_>,
    contender: Contender,
    mode: Mode,
    payload: usize,
) -> BenchResult<Row> {
    let a = plan.args;
    let conns = match mode {
        Mode::PingPong => a.concurrency,
        Mode::Mux => 1,
    };
    let server_core = a.server_cores.first().copied().unwrap_or(0).to_string();
    let client_core = a.client_cores.first().copied().unwrap_or(1).to_string();
    let listen = "tcp://127.0.0.1:0";
    let peer = || {
        plan.peer_bin
            .as_ref()
            .ok_or("the peers' binary is not built")
    };
    let mut command = match contender {
        Contender::Ringrpc | Contender::RawEcho => {
            let kind = if contender == Contender::Ringrpc {
                Kind::Ringrpc
            } else {
                Kind::Raw
            };
            let mut command = Command::new(std::env::current_exe()?);
            command.args(ours_server_args(
                kind,
                a.common.runtime,
                listen,
                &a.server_cores,
            ));
            command
        }
        Contender::Volo | Contender::Tonic => {
            let server = match (contender, mode) {
                (Contender::Tonic, _) => "tonic",
                (_, Mode::PingPong) => "volo",
                (_, Mode::Mux) => "volo-mux",
            };
            let mut command = Command::new(peer()?);
            command.args(["server", server, "--listen", "127.0.0.1:0", "--core"]);
            command.arg(&server_core);
            command
        }
    };
    let (mut child, address) = start_server(&mut command)?;
    let pid = child.id();
    let row = if contender == Contender::Tonic {
        tonic_client(plan, peer()?, &address, pid, conns, payload, &client_core)
    } else {
        // volo multiplexes only over TTHeader (replies matched by sequence id).
        let framing = match (contender, mode) {
            (Contender::Volo, Mode::Mux) => FramingArg::Ttheader,
            _ => FramingArg::Framed,
        };
        let load = LoadArgs {
            protocol: Protocol::Binary,
            framing,
            payload,
            concurrency: a.concurrency,
            conns,
            duration: plan.duration,
            warmup: plan.warmup,
            client_cores: a.client_cores.clone(),
        };
        let kind = if contender == Contender::RawEcho {
            Kind::Raw
        } else {
            Kind::Ringrpc
        };
        let mut setup = setup_name(&a.common, "tcp", &load);
        if contender == Contender::Volo {
            setup = setup.replacen(setup.split('/').next().unwrap_or(""), "tokio", 1);
        }
        load_spec(&a.common, &load, address, kind)
            .and_then(|spec| measure(&spec, Some(pid), setup, kind))
            .map(|row| Row {
                server: contender.name().into(),
                ..row
            })
    };
    stop_server(&mut child)?;
    row
}

/// Runs tonic's own load client (in the peers' binary) and reads its result line.
fn tonic_client(
    plan: &Plan<'_>,
    peer_bin: &PathBuf,
    address: &str,
    server_pid: u32,
    conns: usize,
    payload: usize,
    client_core: &str,
) -> BenchResult<Row> {
    let a = plan.args;
    let out = Command::new(peer_bin)
        .args(["client", "tonic", "--connect", address, "--server-pid"])
        .arg(server_pid.to_string())
        .args(["--conns", &conns.to_string()])
        .args(["--concurrency", &a.concurrency.to_string()])
        .args(["--payload", &payload.to_string()])
        .args(["--duration", &plan.duration.to_string()])
        .args(["--warmup", &plan.warmup.to_string()])
        .args(["--core", client_core])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "tonic's client failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let line = stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .ok_or_else(|| format!("tonic's client printed no result: {stdout}"))?;
    Ok(Row::from_json(line)?)
}

/// The median of a set of values (NaN for none).
pub(super) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Medians per server, mode and payload.
struct Medians<'a> {
    rows: &'a [Row],
}

impl Medians<'_> {
    fn runs(&self, contender: Contender, mode: Mode, payload: usize) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| {
                r.server == contender.name() && r.mode == mode.name() && r.payload == payload
            })
            .collect()
    }

    fn of(&self, contender: Contender, mode: Mode, payload: usize, f: fn(&Row) -> f64) -> f64 {
        median(
            self.runs(contender, mode, payload)
                .into_iter()
                .map(f)
                .collect(),
        )
    }

    fn cpu(&self, contender: Contender, mode: Mode, payload: usize) -> f64 {
        self.of(contender, mode, payload, |r| {
            r.server_cpu_us_per_req.unwrap_or(f64::NAN)
        })
    }
}

/// Issue #4's targets, each with the measured ratio.
fn print_targets(m: &Medians<'_>, payloads: &[usize], with_peers: bool) {
    println!("| target | payload | measured | goal | met |");
    println!("|---|---|---|---|---|");
    let line = |target: &str, payload: usize, measured: f64, goal: &str, met: bool| {
        let met = if measured.is_nan() {
            "n/a"
        } else if met {
            "yes"
        } else {
            "no"
        };
        println!("| {target} | {payload} | {measured:.2} | {goal} | {met} |");
    };
    use Contender::*;
    use Mode::*;
    for &p in payloads {
        let ours_pp = m.cpu(Ringrpc, PingPong, p);
        let ratio = ours_pp / m.cpu(RawEcho, PingPong, p);
        line(
            "ping-pong CPU/req ÷ raw floor",
            p,
            ratio,
            "≤ 1.15",
            ratio <= 1.15,
        );
        let mux = m.cpu(Ringrpc, Mux, p);
        line("mux CPU/req, µs", p, mux, "≤ 1.5", mux <= 1.5);
        if !with_peers {
            continue;
        }
        let ratio = ours_pp / m.cpu(Volo, PingPong, p);
        line(
            "ping-pong CPU/req ÷ volo-thrift",
            p,
            ratio,
            "≤ 0.65",
            ratio <= 0.65,
        );
        let p99 = |c| m.of(c, PingPong, p, |r| r.p99_us as f64);
        let ratio = p99(Ringrpc) / p99(Volo);
        line("ping-pong p99 ÷ volo-thrift", p, ratio, "≤ 1", ratio <= 1.0);
        let qps = |c| m.of(c, Mux, p, |r| r.qps);
        let ratio = qps(Ringrpc) / qps(Volo);
        line("mux QPS ÷ volo-thrift mux", p, ratio, "≥ 5", ratio >= 5.0);
        for mode in [PingPong, Mux] {
            let ratio = m.cpu(Tonic, mode, p) / m.cpu(Ringrpc, mode, p);
            let target = format!("tonic CPU/req ÷ ringrpc, {}", mode.name());
            line(&target, p, ratio, "≥ 2", ratio >= 2.0);
        }
    }
}
