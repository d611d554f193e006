//! rpc-bench: the end-to-end benchmark. `rpc-bench server` serves the benchmark echo
//! service (`idl/bench.thrift`), `rpc-bench client` loads a server, and `rpc-bench run`
//! starts a server process (pinned to `--server-cores`), loads it from this process (pinned
//! to `--client-cores`) and reports QPS, latency percentiles, the server's CPU time per call
//! and peak RSS, as a markdown row and a JSON line. `rpc-bench propagation` times a policy
//! change written to etcd until every core of several client processes applies it.
//! `rpc-bench matrix` runs runtimes × transports × framings × payloads × concurrency and
//! the peers, interleaved, and writes a markdown report with SVG plots.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ringrpc::codec::frame::Framing;
use ringrpc::codec::{BytesStr, ProtocolId};
use ringrpc::{Driver, Server};
use ringrpc_bench::load::{Edge, LoadSpec, Wire, run_load};
use ringrpc_bench::procstat::{cpu_ns, peak_rss_kib, rss_kib};
use ringrpc_bench::report::{Row, latency_cdf};
use ringrpc_bench::service::bench::{Complex, Echo, bench_service};

mod compare;
mod failover;
mod idle;
mod matrix;
mod propagation;
mod scrape;
use compare::{CompareArgs, compare};
use failover::{FailoverArgs, failover};
use idle::{IdleArgs, idle};
use matrix::{MatrixArgs, matrix};
use propagation::{AgentArgs, PropagationArgs, agent, propagation};
use scrape::{ScrapeArgs, scrape};

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
    /// Runtimes × transports × framings × payloads × concurrency, and the peers, in
    /// shuffled interleaved rounds; writes a markdown report with SVG plots.
    Matrix(MatrixArgs),
    /// Open many idle connections to a server and report its memory per connection.
    Idle(IdleArgs),
    /// Three servers under load; one killed and restarted; gray-tagged calls: how fast
    /// errors stop, how fast the instance returns, where tagged calls go.
    Failover(FailoverArgs),
    /// Time a policy change written to etcd until every core of every client process
    /// applies it.
    Propagation(PropagationArgs),
    /// One client process of `propagation` (started by it).
    #[command(hide = true)]
    PropagationAgent(AgentArgs),
    /// How much scraping the admin endpoint's metrics under load changes the calls'
    /// latency: interleaved runs with and without a scraper, medians and ratios.
    Scrape(ScrapeArgs),
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

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum Runtime {
    Iouring,
    Epoll,
}

impl Runtime {
    /// The name in setups (`io_uring/tcp/binary/framed`).
    fn name(self) -> &'static str {
        match self {
            Runtime::Iouring => "io_uring",
            Runtime::Epoll => "epoll",
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum Transport {
    Tcp,
    Uds,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Uds => "uds",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Protocol {
    Binary,
    Compact,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum FramingArg {
    Framed,
    Ttheader,
}

impl FramingArg {
    fn name(self) -> &'static str {
        match self {
            FramingArg::Framed => "framed",
            FramingArg::Ttheader => "ttheader",
        }
    }
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
    /// A name the server puts in the `action` of every reply (which instance answered).
    #[arg(long)]
    name: Option<String>,
    /// Also serve the admin endpoint (metrics, health) here, e.g. `127.0.0.1:9464`.
    #[arg(long)]
    admin: Option<String>,
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
    /// Load the ringrpc server with the floor's raw client instead of ringrpc's: it sends
    /// pre-encoded framed Binary `echo` calls and matches replies by order without decoding
    /// them, so the server's cost is measured under the same light client as the floor's
    /// (framed Binary over TCP only).
    #[arg(long)]
    raw_client: bool,
    /// CPU time the raw client (the floor's, or `--raw-client`) spends per reply, busy,
    /// before it sends the next call: loads a server the way a heavier client does (on the
    /// 2-vCPU VM the benchmarks ran on, a busier client raised every server's cost per call;
    /// see `benches/README.md`).
    #[arg(long, default_value_t = 0)]
    client_work_ns: u64,
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

/// The benchmark service: echoes what it gets (with its name as the `action`, if it has
/// one).
#[derive(Clone, Default)]
struct EchoServer {
    name: Option<BytesStr>,
}

impl bench_service::BenchService for EchoServer {
    async fn echo(&self, mut req: Echo) -> Result<Echo, bench_service::EchoError> {
        if let Some(name) = &self.name {
            req.action = name.clone();
        }
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
        Cmd::Matrix(a) => matrix(a),
        Cmd::Idle(a) => idle(a),
        Cmd::Failover(a) => failover(a),
        Cmd::Propagation(a) => propagation(a),
        Cmd::PropagationAgent(a) => agent(a),
        Cmd::Scrape(a) => scrape(a),
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
    let mut builder = Server::builder()
        .workers(a.server_cores.len().max(1))
        .cores(a.server_cores.clone())
        .driver(driver(a.common.runtime));
    if let Some(admin) = &a.admin {
        builder = builder.admin(admin);
    }
    let server = builder.serve(&a.listen, {
        let server = EchoServer {
            name: a.name.clone().map(BytesStr::from),
        };
        move || bench_service::Server::new(server.clone())
    })?;
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
    if load.raw_client
        && (kind != Kind::Ringrpc || framing != Framing::Framed || protocol != ProtocolId::Binary)
    {
        return Err(
            "--raw-client loads the ringrpc server with framed Binary calls: use it with \
             --kind ringrpc --framing framed --protocol binary"
                .into(),
        );
    }
    if load.client_work_ns > 0 && kind == Kind::Ringrpc && !load.raw_client {
        return Err(
            "--client-work-ns adds work to the raw client: use it with --kind raw or \
             --raw-client"
                .into(),
        );
    }
    Ok(LoadSpec {
        wire: match kind {
            Kind::Ringrpc if load.raw_client => Wire::RawThrift,
            Kind::Ringrpc => Wire::Ringrpc,
            Kind::Raw => Wire::Raw,
        },
        address,
        framing,
        protocol,
        payload: load.payload,
        concurrency: load.concurrency,
        conns: load.conns.max(1),
        warmup: seconds("--warmup", load.warmup)?,
        duration: seconds("--duration", load.duration)?,
        threads: load.client_cores.len().max(1),
        cores: load.client_cores.clone(),
        driver: driver(common.runtime),
        client_work: Duration::from_nanos(load.client_work_ns),
    })
}

/// A user's number of seconds as a duration, or an error naming the option.
fn seconds(option: &str, value: f64) -> BenchResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{option} {value}: not a number of seconds ≥ 0").into())
}

/// Loads the server at `spec.address`, sampling `server_pid`'s CPU time over the window.
fn measure(
    spec: &LoadSpec,
    server_pid: Option<u32>,
    setup: String,
    kind: Kind,
) -> BenchResult<Row> {
    let mut cpu = [0u64; 2];
    // The server's RSS over the window: (seconds since it began, KiB).
    let mut rss = Vec::new();
    let mut window_began = std::time::Instant::now();
    let result = run_load(spec, |edge| {
        let Some(pid) = server_pid else { return };
        match edge {
            Edge::Begin => {
                window_began = std::time::Instant::now();
                cpu[0] = cpu_ns(pid).unwrap_or(0);
            }
            Edge::End => cpu[1] = cpu_ns(pid).unwrap_or(0),
            Edge::Tick => {}
        }
        if let Ok(kib) = rss_kib(pid) {
            rss.push((window_began.elapsed().as_secs_f64(), kib));
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
        server_rss_samples: rss,
        connects: result.connects,
        client_calls: result.client_calls,
        latency_cdf: latency_cdf(&result.latencies),
    })
}

/// The end of a setup's name when the raw client loads a Thrift server (`--raw-client`).
pub(crate) const RAW_CLIENT_SUFFIX: &str = "/raw-client";

fn setup_name(common: &Common, transport: &str, load: &LoadArgs) -> String {
    let protocol = match load.protocol {
        Protocol::Binary => "binary",
        Protocol::Compact => "compact",
    };
    let runtime = common.runtime.name();
    let framing = load.framing.name();
    let client = if load.raw_client {
        RAW_CLIENT_SUFFIX
    } else {
        ""
    };
    let work = match load.client_work_ns {
        0 => String::new(),
        ns => format!("/client-work-{ns}ns"),
    };
    format!("{runtime}/{transport}/{protocol}/{framing}{client}{work}")
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
    let listen = listen_address(a.transport);
    let (mut child, address) = start_server(Command::new(std::env::current_exe()?).args(
        ours_server_args(a.kind, a.common.runtime, &listen, &a.server_cores),
    ))?;
    let transport = if a.transport == Transport::Uds {
        "uds"
    } else {
        "tcp"
    };
    let spec = load_spec(&a.common, &a.load, address, a.kind);
    let row = spec.and_then(|spec| {
        measure(
            &spec,
            Some(child.id()),
            setup_name(&a.common, transport, &a.load),
            a.kind,
        )
    });
    let stopped = stop_server(&mut child);
    remove_socket(&listen);
    stopped?;
    row
}

/// A fresh address for a server to listen on: TCP on an ephemeral port, or a Unix socket
/// path of its own (remove it with [`remove_socket`] once the server is gone).
fn listen_address(transport: Transport) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    match transport {
        Transport::Tcp => "tcp://127.0.0.1:0".to_string(),
        Transport::Uds => {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("rpc-bench-{}-{n}.sock", std::process::id());
            format!("unix://{}", std::env::temp_dir().join(name).display())
        }
    }
}

/// Removes the socket file of a Unix address from [`listen_address`] (nothing for TCP).
fn remove_socket(listen: &str) {
    if let Some(path) = listen.strip_prefix("unix://") {
        let _ = std::fs::remove_file(path);
    }
}

/// `rpc-bench server` arguments for one of this binary's own servers.
fn ours_server_args(kind: Kind, runtime: Runtime, listen: &str, cores: &[usize]) -> Vec<String> {
    let kind = match kind {
        Kind::Ringrpc => "ringrpc",
        Kind::Raw => "raw",
    };
    let runtime = match runtime {
        Runtime::Iouring => "iouring",
        Runtime::Epoll => "epoll",
    };
    let cores: Vec<String> = cores.iter().map(ToString::to_string).collect();
    [
        "server",
        "--kind",
        kind,
        "--runtime",
        runtime,
        "--listen",
        listen,
        "--server-cores",
        &cores.join(","),
    ]
    .map(String::from)
    .to_vec()
}

/// `rpc-bench server` arguments for a named ringrpc server.
fn ours_server_args_named(
    runtime: Runtime,
    listen: &str,
    cores: &[usize],
    name: &str,
) -> Vec<String> {
    let mut args = ours_server_args(Kind::Ringrpc, runtime, listen, cores);
    args.extend(["--name".to_string(), name.to_string()]);
    args
}

/// Starts a server process that prints `listening ADDRESS` and serves until its standard
/// input closes; returns it and the address.
fn start_server(command: &mut Command) -> BenchResult<(Child, String)> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no server stdout")?;
    BufReader::new(stdout).read_line(&mut line)?;
    match line.strip_prefix("listening ") {
        Some(address) => Ok((child, address.trim().to_string())),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("{command:?} did not start: {line:?}").into())
        }
    }
}

/// Closes the server's standard input and waits for a clean exit.
fn stop_server(child: &mut Child) -> BenchResult<()> {
    drop(child.stdin.take());
    let status = child.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the server exited with {status}").into())
    }
}
