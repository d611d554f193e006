//! Apache Thrift's ThriftTest client on ringrpc, for cross-language tests: runs every check
//! of [`ringrpc_examples::conformance::checks`] against a ThriftTest server, printing one
//! line per check and `N passed, M failed`. The exit code is Apache's cross-runner bitmask:
//! 0 all passed, else 1 base types | 2 structs | 4 containers | 8 exceptions | 64 other
//! checks or a setup error.
//!
//! `thrift-test-client --port 9090 --protocol compact --transport framed --skip testUuid.nil`

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ringrpc::rt::block_on;
use ringrpc::{Client, Driver, PoolMode};
use ringrpc_examples::conformance::checks::{Report, exit_bits, run_all};
use ringrpc_examples::conformance::raw::RawTarget;
use ringrpc_examples::conformance::{Endpoint, Wire};
use ringrpc_examples::thrift_test::thrift_test::thrift_test;

/// Checks a ThriftTest server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,
    /// Checks not to run, comma-separated (e.g. `testUuid.nil,seqid.negative`).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// How long one call may take, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    #[command(flatten)]
    wire: Wire,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let setup = || -> Result<(SocketAddr, RawTarget), String> {
        let dialect = args.wire.dialect().map_err(|e| e.to_string())?;
        let address = (args.endpoint.host.as_str(), args.endpoint.port)
            .to_socket_addrs()
            .map_err(|e| {
                format!(
                    "cannot resolve {}:{}: {e}",
                    args.endpoint.host, args.endpoint.port
                )
            })?
            .next()
            .ok_or_else(|| format!("{} has no address", args.endpoint.host))?;
        let multiplexed = args.wire.multiplexed();
        Ok((
            address,
            RawTarget {
                address,
                dialect,
                multiplexed,
            },
        ))
    };
    let (address, raw) = match setup() {
        Ok(target) => target,
        Err(e) => {
            eprintln!("thrift-test-client: {e}");
            return ExitCode::from(exit_bits::UNKNOWN);
        }
    };
    let ran = block_on(Driver::Auto, async {
        let client = Client::builder(&address.to_string())
            .framing(raw.dialect.framing)
            .protocol(raw.dialect.protocol)
            .multiplexed(raw.multiplexed)
            .timeout(Duration::from_millis(args.timeout_ms))
            // Apache's servers run one call per connection at a time.
            .pool_mode(PoolMode::PingPong { max_connections: 1 })
            .build()
            .map_err(|e| e.to_string())?;
        let client = thrift_test::Client::new(client);
        let mut report = Report::new(std::io::stdout(), args.skip.iter().cloned());
        run_all(&client, &raw, &mut report).await;
        Ok::<_, String>(report)
    });
    match ran {
        Ok(Ok(report)) => {
            println!("{}", report.summary());
            ExitCode::from(report.failed_groups)
        }
        Ok(Err(e)) => {
            eprintln!("thrift-test-client: {e}");
            ExitCode::from(exit_bits::UNKNOWN)
        }
        Err(e) => {
            eprintln!("thrift-test-client: cannot start a runtime: {e}");
            ExitCode::from(exit_bits::UNKNOWN)
        }
    }
}
