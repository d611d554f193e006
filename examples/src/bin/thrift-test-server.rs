//! Apache Thrift's ThriftTest server on ringrpc, for cross-language tests:
//! `thrift-test-server --port 0 --port-file /tmp/port --protocol compact --transport framed`.
//!
//! Every worker answers every dialect on the one port (binary and compact, buffered, framed,
//! THeader and TTHeader, detected per connection, replies in the caller's dialect), plain
//! and multiplexed (`ThriftTest:method`, `SecondService:method`) names alike, so
//! `--protocol`, `--transport` and `--ttheader` only say what the runner expects; a
//! combination ringrpc cannot serve is refused.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ringrpc::Server;
use ringrpc::codec::DecodeLimits;
use ringrpc::server::Multiplexed;
use ringrpc_examples::conformance::handler::{SecondServiceHandler, ThriftTestHandler};
use ringrpc_examples::conformance::{Endpoint, Wire};
use ringrpc_examples::thrift_test::thrift_test::{second_service, thrift_test};

/// Serves ThriftTest until killed.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,
    /// Write the bound port to this file once listening.
    #[arg(long)]
    port_file: Option<PathBuf>,
    /// The longest string or binary accepted, in bytes (Apache's feature test: the limit
    /// passes, one more fails with a protocol error).
    #[arg(long)]
    string_limit: Option<usize>,
    /// The most elements accepted in one list, set or map.
    #[arg(long)]
    container_limit: Option<usize>,
    /// Worker threads, one per core (default: every core).
    #[arg(long)]
    workers: Option<usize>,
    #[command(flatten)]
    wire: Wire,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = args.wire.dialect() {
        eprintln!("thrift-test-server: {e}");
        return ExitCode::from(2);
    }
    let mut limits = DecodeLimits::default();
    if let Some(max) = args.string_limit {
        limits = limits.with_max_string_len(max);
    }
    if let Some(max) = args.container_limit {
        limits = limits.with_max_container_len(max);
    }
    let mut builder = Server::builder().decode_limits(limits);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    let address = format!("{}:{}", args.endpoint.host, args.endpoint.port);
    // Plain calls go to ThriftTest; `Service:method` calls (multiplexed clients) to the
    // service they name.
    let server = match builder.serve(&address, || {
        Multiplexed::new()
            .default_service(thrift_test::Server::new(ThriftTestHandler::default()))
            .service(
                "ThriftTest",
                thrift_test::Server::new(ThriftTestHandler::default()),
            )
            .service(
                "SecondService",
                second_service::Server::new(SecondServiceHandler),
            )
    }) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("thrift-test-server: cannot serve on {address}: {e}");
            return ExitCode::from(2);
        }
    };
    let bound = server.address().to_string();
    eprintln!("thrift-test-server: serving ThriftTest on {bound} (every dialect)");
    if let Some(path) = &args.port_file {
        let port = bound.rsplit(':').next().unwrap_or_default();
        // Written whole, then renamed: a runner polling the file never reads half of it.
        let partial = path.with_extension("partial");
        if let Err(e) =
            std::fs::write(&partial, port).and_then(|()| std::fs::rename(&partial, path))
        {
            eprintln!("thrift-test-server: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    loop {
        std::thread::park();
    }
}
