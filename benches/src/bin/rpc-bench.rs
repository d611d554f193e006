//! rpc-bench: the end-to-end benchmark. `rpc-bench server` serves the benchmark echo
//! service (`idl/bench.thrift`), `rpc-bench client` loads a server, and `rpc-bench run`
//! starts a server process (pinned to `--server-cores`), loads it from this process (pinned
//! to `--client-cores`) and reports QPS, latency percentiles, the server's CPU time per call
//! and peak RSS, as a markdown row and a JSON line.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ringrpc::codec::ProtocolId;
use ringrpc::codec::frame::Framing;
use ringrpc::{Driver, Server};
use ringrpc_bench::load::{Edge, LoadSpec, Wire, run_load};
use ringrpc_bench::procstat::{cpu_ns, peak_rss_kib};
use ringrpc_bench::report::Row;
use ringrpc_bench::service::bench::{Complex, Echo, bench_service};

#[derive(Parser)]
#[command(
    version,
    about = "End-to-end RPC benchmark: ringrpc servers and clients under load"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the benchmark echo service until standard input closes.
    Server(ServerArgs),
    /// Load a running server and print the result.
    Client(ClientArgs),
    /// Start a server process, load it, and print the result with the server's costs.
    Run(RunArgs),
    /// Run every server in every mode, interleaved, and print medians and ratios.
    Compare(CompareArgs),
}

/// Which server to run.
#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum Kind {
    /// The benchmark service on ringrpc.
    Ringrpc,
    /// The floor: a raw length-prefixed echo on the same runtime, no RPC.
    Raw,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ringrpc => "ringrpc",
            Kind::Raw => "raw-echo",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Runtime {
    Iouring,
    Epoll,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Transport {
    Tcp,
    Uds,
}

#[derive(Clone, Copy, ValueEnum)]
enum Protocol {
    Binary,
    Compact,
}

#[derive(Clone, Copy, ValueEnum)]
enum FramingArg {
    Framed,
    Ttheader,
}

#[derive(Args, Clone)]
struct Common {
    /// The I/O driver of servers and clients.
    #[arg(long, value_enum, default_value = "iouring")]
    runtime: Runtime,
}

#[derive(Args, Clone)]
struct ServerArgs {
    #[command(flatten)]
    common: Common,
    /// Which server.
    #[arg(long, value_enum, default_value = "ringrpc")]
    kind: Kind,
    /// Address to listen on (`tcp://host:port`, `unix:///path`).
    #[arg(long, default_value = "tcp://127.0.0.1:0")]
    listen: String,
    /// Cores to pin the server's workers to (one worker per core), e.g. `0` or `0,1`.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    server_cores: Vec<usize>,
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Payload protocol.
    #[arg(long, value_enum, default_value = "binary")]
    protocol: Protocol,
    /// Framing (TTHeader carries binary only).
    #[arg(long, value_enum, default_value = "ttheader")]
    framing: FramingArg,
    /// Bytes in the echoed message.
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Calls in flight in all.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Connections in all.
    #[arg(long, default_value_t = 1)]
    conns: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Cores to pin client threads to (one thread per core).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    client_cores: Vec<usize>,
}

#[derive(Args, Clone)]
struct ClientArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    load: LoadArgs,
    /// The server's address.
    #[arg(long)]
    connect: String,
    /// The server's process id, to report its CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// What the server speaks.
    #[arg(long, value_enum, default_value = "ringrpc")]
    kind: Kind,
}

#[derive(Args, Clone)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    load: LoadArgs,
    /// TCP or a Unix domain socket.
    #[arg(long, value_enum, default_value = "tcp")]
    transport: Transport,
    /// Cores to pin the server's workers to.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    server_cores: Vec<usize>,
    /// Which server.
    #[arg(long, value_enum, default_value = "ringrpc")]
    kind: Kind,
}

#[derive(Args, Clone)]
struct CompareArgs {
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
}

/// The benchmark service: echoes what it gets.
#[derive(Clone, Default)]
struct EchoServer;

impl bench_service::BenchService for EchoServer {
    async fn echo(&self, req: Echo) -> Result<Echo, bench_service::EchoError> {
        Ok(req)
    }

    async fn complex(&self, req: Complex) -> Result<Complex, bench_service::ComplexError> {
        Ok(req)
    }
}

fn driver(runtime: Runtime) -> Driver {
    match runtime {
        Runtime::Iouring => Driver::IoUring,
        Runtime::Epoll => Driver::Epoll,
    }
}

fn main() {
    let result = match Cli::parse().command {
        Cmd::Server(a) => server(a),
        Cmd::Client(a) => client(a),
        Cmd::Run(a) => run(a),
        Cmd::Compare(a) => compare(a),
    };
    if let Err(e) = result {
        eprintln!("rpc-bench: {e}");
        std::process::exit(1);
    }
}

type BenchResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn server(a: ServerArgs) -> BenchResult<()> {
    if a.kind == Kind::Raw {
        let addr = match a.listen.parse::<ringrpc::transport::Address>()? {
            ringrpc::transport::Address::Tcp(addr) => addr,
            _ => return Err("the raw floor serves TCP only".into()),
        };
        let bound = ringrpc_bench::raw::serve(addr, &a.server_cores, driver(a.common.runtime))?;
        println!("listening tcp://{bound}");
        std::io::stdout().flush()?;
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        return Ok(());
    }
    let server = Server::builder()
        .workers(a.server_cores.len().max(1))
        .cores(a.server_cores.clone())
        .driver(driver(a.common.runtime))
        .serve(&a.listen, || bench_service::Server::new(EchoServer))?;
    println!("listening {}", server.address());
    std::io::stdout().flush()?;
    // Serve until whoever started us closes our standard input.
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    server.shutdown_within(Duration::from_secs(1))?;
    Ok(())
}

fn load_spec(
    common: &Common,
    load: &LoadArgs,
    address: String,
    kind: Kind,
) -> BenchResult<LoadSpec> {
    let framing = match load.framing {
        FramingArg::Framed => Framing::Framed,
        FramingArg::Ttheader => Framing::TTHeader,
    };
    let protocol = match load.protocol {
        Protocol::Binary => ProtocolId::Binary,
        Protocol::Compact => ProtocolId::Compact,
    };
    if framing == Framing::TTHeader && protocol == ProtocolId::Compact {
        return Err(
            "TTHeader carries binary payloads only: use --framing framed with --protocol compact"
                .into(),
        );
    }
    Ok(LoadSpec {
        wire: match kind {
            Kind::Ringrpc => Wire::Ringrpc,
            Kind::Raw => Wire::Raw,
        },
        address,
        framing,
        protocol,
        payload: load.payload,
        concurrency: load.concurrency,
        conns: load.conns.max(1),
        warmup: Duration::from_secs_f64(load.warmup),
        duration: Duration::from_secs_f64(load.duration),
        threads: load.client_cores.len().max(1),
        cores: load.client_cores.clone(),
        driver: driver(common.runtime),
    })
}

/// Loads the server at `spec.address`, sampling `server_pid`'s CPU time over the window.
fn measure(
    spec: &LoadSpec,
    server_pid: Option<u32>,
    setup: String,
    kind: Kind,
) -> BenchResult<Row> {
    let mut cpu = [0u64; 2];
    let result = run_load(spec, |edge| {
        if let Some(pid) = server_pid {
            let at = usize::from(edge == Edge::End);
            cpu[at] = cpu_ns(pid).unwrap_or(0);
        }
    })?;
    let calls = result.latencies.len();
    let server_cpu_us_per_req = server_pid
        .filter(|_| calls > 0)
        .map(|_| cpu[1].saturating_sub(cpu[0]) as f64 / 1000.0 / calls as f64);
    let mode = if spec.conns >= spec.concurrency {
        "pingpong"
    } else {
        "mux"
    };
    Ok(Row {
        server: kind.name().into(),
        mode: mode.into(),
        setup,
        payload: spec.payload,
        concurrency: spec.concurrency,
        qps: result.qps(),
        p50_us: result.latencies.value_at_quantile(0.50),
        p99_us: result.latencies.value_at_quantile(0.99),
        p999_us: result.latencies.value_at_quantile(0.999),
        server_cpu_us_per_req,
        server_rss_kib: server_pid.and_then(|pid| peak_rss_kib(pid).ok()),
        connections: result.connections,
        errors: result.errors,
    })
}

fn setup_name(common: &Common, transport: &str, load: &LoadArgs) -> String {
    let runtime = match common.runtime {
        Runtime::Iouring => "io_uring",
        Runtime::Epoll => "epoll",
    };
    let protocol = match load.protocol {
        Protocol::Binary => "binary",
        Protocol::Compact => "compact",
    };
    let framing = match load.framing {
        FramingArg::Framed => "framed",
        FramingArg::Ttheader => "ttheader",
    };
    format!("{runtime}/{transport}/{protocol}/{framing}")
}

fn print_row(row: &Row) {
    println!("{}", Row::markdown_header());
    println!("{}", row.markdown());
    println!("{}", row.json());
}

fn client(a: ClientArgs) -> BenchResult<()> {
    let transport = if a.connect.starts_with("unix:") {
        "uds"
    } else {
        "tcp"
    };
    let spec = load_spec(&a.common, &a.load, a.connect.clone(), a.kind)?;
    let row = measure(
        &spec,
        a.server_pid,
        setup_name(&a.common, transport, &a.load),
        a.kind,
    )?;
    print_row(&row);
    Ok(())
}

fn run(a: RunArgs) -> BenchResult<()> {
    let row = run_once(&a)?;
    print_row(&row);
    Ok(())
}

/// Starts a server process, loads it, stops it.
fn run_once(a: &RunArgs) -> BenchResult<Row> {
    let listen = match a.transport {
        Transport::Tcp => "tcp://127.0.0.1:0".to_string(),
        Transport::Uds => format!(
            "unix://{}",
            std::env::temp_dir()
                .join(format!("rpc-bench-{}.sock", std::process::id()))
                .display()
        ),
    };
    let runtime = match a.common.runtime {
        Runtime::Iouring => "iouring",
        Runtime::Epoll => "epoll",
    };
    let kind = match a.kind {
        Kind::Ringrpc => "ringrpc",
        Kind::Raw => "raw",
    };
    let cores: Vec<String> = a.server_cores.iter().map(ToString::to_string).collect();
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "server",
            "--kind",
            kind,
            "--runtime",
            runtime,
            "--listen",
            &listen,
        ])
        .args(["--server-cores", &cores.join(",")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no server stdout")?).read_line(&mut line)?;
    let address = line
        .strip_prefix("listening ")
        .map(str::trim)
        .map(str::to_string)
        .ok_or_else(|| format!("the server did not start: {line:?}"));
    let transport = if a.transport == Transport::Uds {
        "uds"
    } else {
        "tcp"
    };
    let row = address.map_err(Into::into).and_then(|address| {
        let spec = load_spec(&a.common, &a.load, address, a.kind)?;
        measure(
            &spec,
            Some(child.id()),
            setup_name(&a.common, transport, &a.load),
            a.kind,
        )
    });
    drop(child.stdin.take());
    let status = child.wait()?;
    let row = row?;
    if !status.success() {
        return Err(format!("the server exited with {status}").into());
    }
    Ok(row)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn compare(a: CompareArgs) -> BenchResult<()> {
    let (rounds, warmup, duration) = if a.quick {
        (1, 0.5, 2.0)
    } else {
        (a.rounds.max(1), a.warmup, a.duration)
    };
    let modes = [("pingpong", a.concurrency), ("mux", 1)];
    let kinds = [Kind::Ringrpc, Kind::Raw];
    let mut rows: Vec<Row> = Vec::new();
    for round in 0..rounds {
        for &(_, conns) in &modes {
            for &payload in &a.payloads {
                for &kind in &kinds {
                    let run = RunArgs {
                        common: a.common.clone(),
                        load: LoadArgs {
                            protocol: Protocol::Binary,
                            framing: FramingArg::Framed,
                            payload,
                            concurrency: a.concurrency,
                            conns,
                            duration,
                            warmup,
                            client_cores: a.client_cores.clone(),
                        },
                        transport: Transport::Tcp,
                        server_cores: a.server_cores.clone(),
                        kind,
                    };
                    let row = run_once(&run)?;
                    eprintln!("round {}: {}", round + 1, row.markdown());
                    println!("{}", row.json());
                    rows.push(row);
                }
            }
        }
    }
    println!();
    println!(
        "Medians of {rounds} interleaved round(s); servers pinned to cores {:?}, load to {:?}; \
         framed binary; {} calls in flight.",
        a.server_cores, a.client_cores, a.concurrency
    );
    println!();
    println!(
        "| server | mode | payload | QPS | p50 µs | p99 µs | p999 µs | server CPU µs/req | × raw floor | server RSS KiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &(mode, _) in &modes {
        for &payload in &a.payloads {
            let pick = |kind: Kind| -> Vec<&Row> {
                rows.iter()
                    .filter(|r| r.server == kind.name() && r.mode == mode && r.payload == payload)
                    .collect()
            };
            let cpu = |rows: &[&Row]| {
                median(
                    rows.iter()
                        .filter_map(|r| r.server_cpu_us_per_req)
                        .collect(),
                )
            };
            let floor = cpu(&pick(Kind::Raw));
            for &kind in &kinds {
                let runs = pick(kind);
                let m = |f: &dyn Fn(&Row) -> f64| median(runs.iter().map(|r| f(r)).collect());
                println!(
                    "| {} | {mode} | {payload} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.0} |",
                    kind.name(),
                    m(&|r| r.qps),
                    m(&|r| r.p50_us as f64),
                    m(&|r| r.p99_us as f64),
                    m(&|r| r.p999_us as f64),
                    cpu(&runs),
                    cpu(&runs) / floor,
                    m(&|r| r.server_rss_kib.unwrap_or(0) as f64),
                );
            }
        }
    }
    Ok(())
}
