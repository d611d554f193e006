//! `rpcctl`: asks a running ringrpc process, through its admin endpoint
//! (`ServerBuilder::admin` or `ringrpc::admin::Admin`), what it is doing — its
//! connections, the effective policy of each method and where each value came from, its
//! circuit breakers, its metrics and its health — as a table or as JSON.

mod render;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ringrpc::admin::fetch;
use ringrpc::transport::Address;
use serde_json::Value;

/// Inspect a ringrpc process through its admin endpoint.
#[derive(Parser)]
#[command(name = "rpcctl", version)]
struct Cli {
    /// The admin endpoint: `host:port`, `tcp://host:port` or `unix:///path`.
    #[arg(
        long,
        short,
        env = "RINGRPC_ADMIN",
        default_value = "127.0.0.1:9464",
        global = true
    )]
    admin: String,
    /// How to print the answer.
    #[arg(long, short, value_enum, default_value_t = Format::Table, global = true)]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned columns for people.
    Table,
    /// The endpoint's JSON, for scripts.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Open connections, client and server ends: peer, core, dialect, calls, in flight,
    /// RTT, errors, bytes.
    Connections,
    /// The effective policy of every method used so far, and where each value came from
    /// (idl, builder, or the live source: a file or etcd).
    Policies,
    /// Circuit breakers per method, endpoint and core.
    Breakers,
    /// Calls, errors, in flight and latency per method (and endpoint, for clients).
    Metrics,
    /// Serving status of the process and its services (exit code 1 unless serving).
    Health {
        /// One service only.
        #[arg(long)]
        service: Option<String>,
    },
}

/// Why rpcctl failed: what to print, and the exit code.
struct Failure {
    message: String,
    code: u8,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok((text, healthy)) => {
            print!("{text}");
            if healthy {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(failure) => {
            eprintln!("rpcctl: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// The text to print, and whether the answer was a healthy one.
fn run(cli: &Cli) -> Result<(String, bool), Failure> {
    let address: Address = cli.admin.parse().map_err(|e| Failure {
        message: format!("bad --admin address: {e}"),
        code: 2,
    })?;
    let path = match &cli.command {
        Command::Connections => "/connections".to_owned(),
        Command::Policies => "/policies".to_owned(),
        Command::Breakers => "/breakers".to_owned(),
        Command::Metrics => "/metrics?format=json".to_owned(),
        Command::Health { service: None } => "/health".to_owned(),
        Command::Health {
            service: Some(service),
        } => format!("/health?service={service}"),
    };
    let answer = fetch(&address, &path).map_err(|e| Failure {
        message: format!(
            "cannot reach the admin endpoint at {address}: {e}\n\
             (is the process running with an admin endpoint? set --admin or RINGRPC_ADMIN)"
        ),
        code: 2,
    })?;
    let is_health = matches!(cli.command, Command::Health { .. });
    // Health answers 503 (not serving) and 404 (unknown service) with a JSON body.
    if answer.status != 200 && !(is_health && matches!(answer.status, 404 | 503)) {
        return Err(Failure {
            message: format!(
                "the admin endpoint at {address} answered {} to {path}: {}",
                answer.status,
                answer.body.trim()
            ),
            code: 1,
        });
    }
    let json: Value = serde_json::from_str(&answer.body).map_err(|e| Failure {
        message: format!("the admin endpoint at {address} sent JSON that does not parse: {e}"),
        code: 1,
    })?;
    let healthy = !is_health || answer.status == 200;
    let text = match cli.format {
        Format::Json => format!("{json:#}\n"),
        Format::Table => match &cli.command {
            Command::Connections => render::connections(&json),
            Command::Policies => render::policies(&json),
            Command::Breakers => render::breakers(&json),
            Command::Metrics => render::metrics(&json),
            Command::Health { .. } => render::health(&json),
        },
    };
    Ok((text, healthy))
}
