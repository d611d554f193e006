//! peer-echo: the peer frameworks for `rpc-bench compare`. `peer-echo server volo|volo-mux|tonic`
//! serves the echo service until standard input closes (after printing
//! `listening tcp://IP:PORT`); `peer-echo client tonic` loads a tonic server with tonic's own
//! client and prints one rpc-bench result line (JSON).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ringrpc_bench_peers::peer_server::{PeerServer, parse_tcp_address, serve_until_stdin_closes};
use ringrpc_bench_peers::tonic_load::{self, TonicLoadSpec};

#[derive(Parser)]
#[command(about = "Peer frameworks' echo servers and tonic's load client, for rpc-bench compare")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the echo service until standard input closes.
    Server(ServerArgs),
    /// Load a running server with the framework's own client and print the result as JSON.
    Client(ClientArgs),
}

#[derive(Args)]
struct ServerArgs {
    /// Which server.
    #[arg(value_enum)]
    server: PeerServer,
    /// Address to listen on (`IP:PORT`, or `tcp://IP:PORT`; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Core to pin the server's thread to (default: not pinned).
    #[arg(long)]
    core: Option<usize>,
}

/// Which client.
#[derive(Clone, Copy, ValueEnum)]
enum ClientKind {
    /// tonic's client over HTTP/2 channels.
    Tonic,
}

#[derive(Args)]
struct ClientArgs {
    /// Which client.
    #[arg(value_enum)]
    client: ClientKind,
    /// The server's address (`IP:PORT` or `tcp://IP:PORT`).
    #[arg(long)]
    connect: String,
    /// The server's process id, to report its CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Connections in all (caller `i` uses connection `i % conns`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    conns: u64,
    /// Calls in flight in all.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// Bytes in the echoed message.
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Core to pin the client's thread to (default: not pinned).
    #[arg(long)]
    core: Option<usize>,
}

fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|e| format!("--{name} {value}: {e}"))
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Cmd::Server(a) => {
            serve_until_stdin_closes(a.server, parse_tcp_address(&a.listen)?, a.core)?
        }
        Cmd::Client(a) => match a.client {
            ClientKind::Tonic => {
                let row = tonic_load::run(&TonicLoadSpec {
                    address: a.connect,
                    server_pid: a.server_pid,
                    conns: usize::try_from(a.conns)?,
                    concurrency: usize::try_from(a.concurrency)?,
                    payload: a.payload,
                    warmup: seconds("warmup", a.warmup)?,
                    duration: seconds("duration", a.duration)?,
                    core: a.core,
                })?;
                println!("{}", row.json());
            }
        },
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer-echo: {e}");
            ExitCode::FAILURE
        }
    }
}
