//! The admin endpoint: a small HTTP server on a side thread (never on a worker) that
//! answers operators and tools (`rpcctl`, Prometheus):
//!
//! | path | answer |
//! |---|---|
//! | `/metrics` | every [`metrics`](crate::metrics) series, OpenMetrics text (`?format=json`: JSON) |
//! | `/health` | the [`Health`] statuses as JSON; `200` when the process serves, else `503`; `?service=Name` for one service (`404` if unknown) |
//! | `/` | the paths served |
//!
//! It listens on loopback by default (`127.0.0.1:0` picks a port) or on a Unix socket
//! (`unix:///path`): it is meant for the machine's own operators, not the network.
//! Requests are served one at a time with a 2 s limit to send each, so a stuck client
//! delays the next by at most that; reading the metrics never blocks a worker, and the
//! endpoint's thread runs at the lowest priority (nice 19), so on a busy machine a scrape
//! waits for the workers rather than delaying their calls.

mod http;
mod routes;

use std::io;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::health::Health;
use crate::transport::{Address, AddressError};
pub use http::{Fetched, fetch};
use http::{IO_TIMEOUT, read_request, write_response};
pub use routes::Routes;

/// Why the admin endpoint could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum AdminError {
    /// The address does not parse.
    Address(AddressError),
    /// Binding it failed.
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: io::Error,
    },
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Address(e) => write!(f, "bad admin address: {e}"),
            AdminError::Bind { address, source } => {
                write!(f, "cannot serve the admin endpoint on {address}: {source}")
            }
        }
    }
}

impl std::error::Error for AdminError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AdminError::Address(e) => Some(e),
            AdminError::Bind { source, .. } => Some(source),
        }
    }
}

/// Configures an admin endpoint: [`Admin::builder`].
#[derive(Debug, Clone, Default)]
pub struct AdminBuilder {
    health: Health,
}

/// The entry point: [`Admin::builder`].
#[derive(Debug)]
pub struct Admin;

impl Admin {
    /// An admin endpoint serving the global metrics and a health state of its own.
    pub fn builder() -> AdminBuilder {
        AdminBuilder::default()
    }
}

enum Listener {
    Tcp(std::net::TcpListener),
    Unix(UnixListener),
}

impl AdminBuilder {
    /// The health state `/health` reports (default: a new one, not serving).
    pub fn health(mut self, health: Health) -> Self {
        self.health = health;
        self
    }

    /// Starts serving on `address` (`127.0.0.1:9464`, `tcp://…`, `unix:///path`; port 0
    /// picks a free one, see [`AdminServer::address`]).
    pub fn serve(self, address: &str) -> Result<AdminServer, AdminError> {
        let address: Address = address.parse().map_err(AdminError::Address)?;
        let bind_error = |source| AdminError::Bind {
            address: address.to_string(),
            source,
        };
        let (listener, bound) = match &address {
            Address::Tcp(addr) => {
                let l = std::net::TcpListener::bind(addr).map_err(bind_error)?;
                let bound = Address::Tcp(l.local_addr().map_err(bind_error)?);
                (Listener::Tcp(l), bound)
            }
            Address::Unix(path) => {
                crate::transport::remove_stale_socket(path).map_err(bind_error)?;
                let l = UnixListener::bind(path).map_err(bind_error)?;
                (Listener::Unix(l), address.clone())
            }
        };
        let routes = Routes::new(self.health);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("ringrpc-admin".into())
                .spawn(move || {
                    // Scrapes and probes wait for the workers, never the other way round.
                    crate::rt::lower_thread_priority();
                    accept_loop(listener, routes, &stop)
                })
                .map_err(bind_error)?
        };
        tracing::info!(address = %bound, "ringrpc admin endpoint listening");
        Ok(AdminServer {
            address: bound,
            stop,
            thread: Some(thread),
        })
    }
}

fn accept_loop(listener: Listener, routes: Routes, stop: &AtomicBool) {
    loop {
        let served = match &listener {
            Listener::Tcp(l) => l.accept().and_then(|(s, _)| {
                if stop.load(Ordering::Acquire) {
                    return Ok(());
                }
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                serve_one(s, &routes)
            }),
            Listener::Unix(l) => l.accept().and_then(|(s, _)| {
                if stop.load(Ordering::Acquire) {
                    return Ok(());
                }
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                serve_one(s, &routes)
            }),
        };
        if stop.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = served {
            tracing::debug!("admin request failed: {e}");
            // Out of descriptors and the like: do not spin.
            if matches!(
                e.raw_os_error(),
                Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM)
            ) {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

fn serve_one(mut stream: impl io::Read + io::Write, routes: &Routes) -> io::Result<()> {
    let (response, head_only) = match read_request(&mut stream)? {
        Ok(request) => (routes.answer(&request), request.method == "HEAD"),
        Err(refused) => (refused, false),
    };
    write_response(&mut stream, &response, head_only)
}

/// A running admin endpoint; dropping it stops it.
#[derive(Debug)]
pub struct AdminServer {
    address: Address,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AdminServer {
    /// The address it listens on (with the port picked for `:0`).
    pub fn address(&self) -> &Address {
        &self.address
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept with a connection of our own.
        let _ = match &self.address {
            Address::Tcp(addr) => std::net::TcpStream::connect(addr).map(drop),
            Address::Unix(path) => std::os::unix::net::UnixStream::connect(path).map(drop),
        };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Address::Unix(path) = &self.address {
            let _ = std::fs::remove_file(path);
        }
    }
}
