//! The peers' echo servers for `rpc-bench compare`: volo-thrift (ping-pong or multiplexed)
//! on `idl/bench.thrift` and tonic on `proto/echo.proto`, each on one tokio current-thread
//! runtime whose thread is pinned to a core. The server announces `listening tcp://IP:PORT`
//! on standard output once its listener is bound, and the process serves until its standard
//! input reaches end of file.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::mpsc;

use crate::tonic_gen::{EchoReply, EchoRequest, echo_server};
use crate::volo_gen::volo_gen::bench::{BenchService, BenchServiceServer, Complex, Echo};

/// Which peer server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeerServer {
    /// volo-thrift, one call at a time per connection (framed, buffered or TTHeader).
    Volo,
    /// volo-thrift multiplexed: many calls in flight per connection (TTHeader callers).
    VoloMux,
    /// tonic (gRPC over HTTP/2).
    Tonic,
}

/// volo-thrift's handler: every call returns its request.
#[derive(Debug, Clone, Copy)]
pub struct VoloEcho;

impl BenchService for VoloEcho {
    async fn echo(&self, req: Echo) -> Result<Echo, volo_thrift::ServerError> {
        Ok(req)
    }

    async fn complex(&self, req: Complex) -> Result<Complex, volo_thrift::ServerError> {
        Ok(req)
    }
}

/// tonic's handler: the reply carries the request's fields.
#[derive(Debug, Clone, Copy)]
pub struct TonicEcho;

#[tonic::async_trait]
impl echo_server::Echo for TonicEcho {
    async fn echo(
        &self,
        request: tonic::Request<EchoRequest>,
    ) -> Result<tonic::Response<EchoReply>, tonic::Status> {
        let EchoRequest { action, msg } = request.into_inner();
        Ok(tonic::Response::new(EchoReply { action, msg }))
    }
}

/// Parses `IP:PORT` or `tcp://IP:PORT`.
pub fn parse_tcp_address(address: &str) -> io::Result<SocketAddr> {
    address
        .strip_prefix("tcp://")
        .unwrap_or(address)
        .parse()
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{address:?} is not IP:PORT: {e}"),
            )
        })
}

/// Starts `kind` on `listen` on a thread pinned to `core`, prints `listening tcp://IP:PORT`
/// once it is bound, and returns when standard input reaches end of file. A server that
/// fails after it is bound ends the process with status 1.
pub fn serve_until_stdin_closes(
    kind: PeerServer,
    listen: SocketAddr,
    core: Option<usize>,
) -> io::Result<()> {
    let (bound_tx, bound_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("peer-server".into())
        .spawn(move || {
            let result = crate::pin_to(core).and_then(|()| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(serve(kind, listen, &bound_tx))
            });
            if let Err(e) = result {
                eprintln!("peer-echo: the {kind:?} server failed: {e}");
                std::process::exit(1);
            }
            // volo returns after SIGINT, SIGHUP or SIGTERM (having drained its connections).
            std::process::exit(0);
        })?;
    let bound = bound_rx
        .recv()
        .map_err(|_| io::Error::other("the server thread ended before it was bound"))?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening tcp://{bound}")?;
    stdout.flush()?;
    drop(stdout);
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    Ok(())
}

/// Binds, reports the bound address on `bound`, and serves.
async fn serve(
    kind: PeerServer,
    listen: SocketAddr,
    bound: &mpsc::Sender<SocketAddr>,
) -> io::Result<()> {
    match kind {
        PeerServer::Volo | PeerServer::VoloMux => {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let _ = bound.send(listener.local_addr()?);
            BenchServiceServer::new(VoloEcho)
                .multiplex(kind == PeerServer::VoloMux)
                .run(volo::net::incoming::DefaultIncoming::from(listener))
                .await
                .map_err(io::Error::other)
        }
        PeerServer::Tonic => {
            // `Server::tcp_nodelay` applies only to listeners tonic binds itself.
            let incoming =
                tonic::transport::server::TcpIncoming::bind(listen)?.with_nodelay(Some(true));
            let _ = bound.send(incoming.local_addr()?);
            tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_service(echo_server::EchoServer::new(TonicEcho))
                .serve_with_incoming(incoming)
                .await
                .map_err(io::Error::other)
        }
    }
}
