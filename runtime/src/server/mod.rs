//! The server: `Server::builder()…serve(address, make_service)` binds the address once per
//! worker (`SO_REUSEPORT`), builds the service on each worker's core (so handlers may be
//! `!Send`) and serves every connection on the core that accepted it. One port accepts
//! every dialect `ringrpc-codec` detects and answers each caller in kind.

mod conn;
mod dispatch;
pub mod multiplex;
mod reply;
pub mod stack;

use std::cell::Cell;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent, Split};
use ringrpc_codec::DecodeLimits;

pub use dispatch::Dispatch;
pub use multiplex::Multiplexed;
pub use stack::{Handler, Next, RateLimit, ServerCx, ServerError};

use crate::admin::{AdminError, AdminServer};
use crate::health::{Health, ServingStatus};
use crate::metrics::Registry;
use crate::policy::{LivePolicy, OverrideError, PolicyValue};
use crate::rt::{Broadcast, Driver, LocalNotify, WorkerConfig, spawn_workers};
use crate::service::{Identity, Layer, Service, Stack};
use crate::transport::{Address, AddressError, StdListener, bind, split_socket, split_stream};
use conn::{ConnLimits, serve_connection};
use stack::{Governed, ServerPolicy, WorkerGovernance};

/// Builds a [`RunningServer`]; `L` is the user's layers ([`ServerBuilder::layer`]).
#[derive(Debug, Clone)]
pub struct ServerBuilder<L = Identity> {
    workers: WorkerConfig,
    decode: DecodeLimits,
    max_in_flight: usize,
    max_connections: usize,
    frame_timeout: Option<Duration>,
    policy: ServerPolicy,
    /// The first bad policy option, reported when serving starts.
    policy_error: Option<OverrideError>,
    health: Option<Health>,
    admin: Option<String>,
    layer: L,
}

/// The stack a server with user layers `L` runs each call through.
pub type ServerStack<L> = <L as Layer<RateLimit<Handler>>>::Service;

/// The entry point: [`Server::builder`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// A server with one worker per core, io_uring where available, and default limits.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            workers: WorkerConfig::default(),
            decode: DecodeLimits::default(),
            max_in_flight: 1024,
            max_connections: 100_000,
            frame_timeout: Some(Duration::from_secs(30)),
            policy: ServerPolicy::default(),
            policy_error: None,
            health: None,
            admin: None,
            layer: Identity,
        }
    }
}

/// Why a server could not start.
#[derive(Debug)]
pub enum ServeError {
    /// The address does not parse.
    Address(AddressError),
    /// A policy option is refused.
    Policy(OverrideError),
    /// Binding or starting the workers failed.
    Io {
        /// The address.
        address: String,
        /// The failure.
        source: io::Error,
    },
    /// The admin endpoint could not start.
    Admin(AdminError),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Address(e) => write!(f, "{e}"),
            ServeError::Policy(e) => write!(f, "server policy option: {e}"),
            ServeError::Io { address, source } => write!(f, "cannot serve on {address}: {source}"),
            ServeError::Admin(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {}

impl<L> ServerBuilder<L> {
    /// Sets a policy key for the methods in `scope` (`*`, `Service` or
    /// `Service.method`), over the IDL's `@control_plane` and under live overrides; e.g.
    /// `.policy("Echo.echo", "rate_limit.qps", 10_000u64)`. A bad key or value fails
    /// [`serve`](Self::serve), naming it.
    pub fn policy(mut self, scope: &str, key: &str, value: impl Into<PolicyValue>) -> Self {
        match self.policy.overrides.set(scope, key, value) {
            Ok(_) => self.policy.overrides_limit |= key.starts_with("rate_limit."),
            Err(e) => {
                self.policy_error.get_or_insert(e);
            }
        }
        self
    }

    /// Follows live policy overrides (a watched file or etcd), over builder options and
    /// the IDL.
    pub fn live_policy(mut self, live: LivePolicy) -> Self {
        crate::metrics::global().watch_policy(&live);
        self.policy.live = Some(live);
        self
    }

    /// Reports this server's state in `health`: serving once it listens, draining while
    /// it shuts down, not serving after (the process status, `""`, and every service set
    /// in it).
    pub fn health(mut self, health: Health) -> Self {
        self.health = Some(health);
        self
    }

    /// Also serves the admin endpoint ([`crate::admin`]: metrics, health) on `address`
    /// (e.g. `127.0.0.1:9464` or `unix:///run/app-admin.sock`), stopped with the server.
    /// It reports this server's health (a new [`Health`] unless one was given).
    pub fn admin(mut self, address: &str) -> Self {
        self.admin = Some(address.to_owned());
        self
    }

    /// Adds `layer` around the governance layers (rate limiting), inside the layers added
    /// before it. It is cloned onto every worker.
    pub fn layer<T>(self, layer: T) -> ServerBuilder<Stack<T, L>> {
        ServerBuilder {
            workers: self.workers,
            decode: self.decode,
            max_in_flight: self.max_in_flight,
            max_connections: self.max_connections,
            frame_timeout: self.frame_timeout,
            policy: self.policy,
            policy_error: self.policy_error,
            health: self.health,
            admin: self.admin,
            layer: Stack::new(layer, self.layer),
        }
    }

    /// Worker threads (default: one per available core).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers.workers = workers;
        self
    }

    /// Pins worker `i` to `cores[i % cores.len()]` (default: core `i`).
    pub fn cores(mut self, cores: Vec<usize>) -> Self {
        self.workers.cores = cores;
        self
    }

    /// The I/O driver (default: [`Driver::Auto`]).
    pub fn driver(mut self, driver: Driver) -> Self {
        self.workers.driver = driver;
        self
    }

    /// Every bound on what callers send: frame, string and container sizes and nesting
    /// depth ([`DecodeLimits`], defaults: 16 MiB, 16 MiB, 16 Mi elements, 64). A call whose
    /// arguments break a bound gets a `TApplicationException` (PROTOCOL_ERROR); a frame
    /// over the limit closes its connection.
    pub fn decode_limits(mut self, limits: DecodeLimits) -> Self {
        self.decode = limits;
        self
    }

    /// The largest frame accepted (default 16 MiB); a larger one closes the connection.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.decode.max_frame_len = bytes;
        self
    }

    /// Calls running at once per connection (default 1024); the connection is not read
    /// further until one finishes.
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls.max(1);
        self
    }

    /// How long a connection may take to send the rest of a frame it has started (default
    /// 30 s; `None`: forever). A peer that sends part of a frame and stalls (slowloris) is
    /// closed when this passes; idle connections between frames are not affected.
    pub fn frame_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.frame_timeout = timeout;
        self
    }

    /// The first bad policy option, or options that do not combine.
    fn check_policy(&self) -> Result<(), ServeError> {
        if let Some(e) = &self.policy_error {
            return Err(ServeError::Policy(e.clone()));
        }
        crate::policy::MethodPolicy::check_options(&self.policy.overrides)
            .map_err(ServeError::Policy)
    }

    fn conn_limits(&self) -> ConnLimits {
        ConnLimits {
            decode: self.decode,
            max_in_flight: self.max_in_flight,
            frame_timeout: self.frame_timeout,
        }
    }

    /// Connections open at once, server-wide (default 100,000); more are closed at accept.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Serves one stream that is already connected (a socket pair, an inherited socket)
    /// on the current runtime, with this builder's limits, until the peer closes it or
    /// sends bytes that cannot be framed. The worker settings do not apply. The runtime
    /// must have its timer enabled (`ringrpc::rt` runtimes do). Fails at once if the policy
    /// options are refused.
    pub async fn serve_stream<S, D>(&self, stream: S, service: D) -> Result<(), ServeError>
    where
        S: AsyncReadRent + AsyncWriteRent + Split + 'static,
        D: Dispatch + 'static,
        L: Layer<RateLimit<Handler>> + Clone + 'static,
        ServerStack<L>:
            for<'a> Service<ServerCx<'a>, Next<'a>, Response = (), Error = ServerError> + 'static,
    {
        self.check_policy()?;
        crate::metrics::warm_up_clock();
        let limits = self.conn_limits();
        let (drain, abort) = (Broadcast::default(), Broadcast::default());
        let worker = WorkerGovernance::new(0, 1, Arc::new(self.policy.clone()));
        let bare = std::any::TypeId::of::<L>() == std::any::TypeId::of::<Identity>();
        let stack = self.layer.clone().layer(RateLimit::new(Handler));
        let service = Governed::new(service, stack, worker, bare);
        serve_connection(
            split_stream(stream),
            "a stream".to_owned(),
            Rc::new(service),
            limits,
            &drain,
            &abort,
        )
        .await;
        Ok(())
    }

    /// Starts serving `address` (`tcp://host:port`, `unix:///path` or `host:port`) on the
    /// workers; each builds its own service with `make_service`.
    pub fn serve<F, D>(self, address: &str, make_service: F) -> Result<RunningServer, ServeError>
    where
        F: Fn() -> D + Send + Sync + 'static,
        D: Dispatch + 'static,
        L: Layer<RateLimit<Handler>> + Clone + Send + Sync + 'static,
        ServerStack<L>:
            for<'a> Service<ServerCx<'a>, Next<'a>, Response = (), Error = ServerError> + 'static,
    {
        self.check_policy()?;
        crate::metrics::warm_up_clock();
        let health = match (&self.health, &self.admin) {
            (None, None) => None,
            (health, _) => Some(health.clone().unwrap_or_default()),
        };
        let admin = match &self.admin {
            Some(at) => Some(
                crate::admin::Admin::builder()
                    .health(health.clone().unwrap_or_default())
                    .serve(at)
                    .map_err(ServeError::Admin)?,
            ),
            None => None,
        };
        let address: Address = address.parse().map_err(ServeError::Address)?;
        let io_error = |source| ServeError::Io {
            address: address.to_string(),
            source,
        };
        let workers = self.workers.worker_count();
        let (listeners, bound) = bind(&address, workers).map_err(io_error)?;
        let listeners: Vec<_> = listeners
            .into_iter()
            .map(|l| std::sync::Mutex::new(Some(l)))
            .collect();
        let listeners = Arc::new(listeners);
        let (stop, stopped) = flume::unbounded::<Instant>();
        let connections = Arc::new(AtomicUsize::new(0));
        let limits = self.conn_limits();
        let max_connections = self.max_connections;
        let mut policy = self.policy;
        policy.target = bound.to_string();
        let policy = Arc::new(policy);
        let weak: std::sync::Weak<ServerPolicy> = Arc::downgrade(&policy);
        crate::metrics::global().inspect(weak);
        let bare = std::any::TypeId::of::<L>() == std::any::TypeId::of::<Identity>();
        let layer = self.layer;
        let threads = spawn_workers(&self.workers, move |worker| {
            let listener = listeners[worker].lock().ok().and_then(|mut l| l.take());
            let governance = WorkerGovernance::new(worker, workers, policy.clone());
            let stack = layer.clone().layer(RateLimit::new(Handler));
            let service = Rc::new(Governed::new(make_service(), stack, governance, bare));
            let stopped = stopped.clone();
            let connections = connections.clone();
            async move {
                let Some(listener) = listener else {
                    return Ok(());
                };
                let accept = Acceptor {
                    service,
                    limits,
                    connections,
                    max_connections,
                    worker: Rc::new(WorkerConnections::default()),
                };
                accept.run(listener, stopped).await
            }
        })
        .map_err(io_error)?;
        tracing::info!(address = %bound, workers, "ringrpc server listening");
        if let Some(health) = &health {
            health.set_all(ServingStatus::Serving);
        }
        Ok(RunningServer {
            address: bound,
            stop: Some(stop),
            workers,
            threads,
            health,
            admin,
        })
    }
}

/// One worker's accept loop.
struct Acceptor<D> {
    service: Rc<D>,
    limits: ConnLimits,
    connections: Arc<AtomicUsize>,
    max_connections: usize,
    worker: Rc<WorkerConnections>,
}

/// The connections of one worker, for draining them at shutdown.
#[derive(Debug, Default)]
struct WorkerConnections {
    live: Cell<usize>,
    closed: LocalNotify,
    drain: Broadcast,
    abort: Broadcast,
}

impl<D: Dispatch + 'static> Acceptor<D> {
    async fn run(self, listener: StdListener, stopped: flume::Receiver<Instant>) -> io::Result<()> {
        match listener {
            StdListener::Tcp(l) => {
                let l = monoio::net::TcpListener::from_std(l)?;
                loop {
                    monoio::select! {
                        accepted = l.accept() => match accepted {
                            Ok((stream, peer)) => {
                                let _ = stream.set_nodelay(true);
                                self.spawn(stream, format!("tcp://{peer}"));
                            }
                            Err(e) => self.accept_failed(e).await,
                        },
                        deadline = stopped.recv_async() => break self.drain(deadline.ok()).await,
                    }
                }
            }
            StdListener::Unix(l) => {
                let l = monoio::net::UnixListener::from_std(l)?;
                loop {
                    monoio::select! {
                        accepted = l.accept() => match accepted {
                            Ok((stream, _)) => self.spawn(stream, "a unix socket peer".to_owned()),
                            Err(e) => self.accept_failed(e).await,
                        },
                        deadline = stopped.recv_async() => break self.drain(deadline.ok()).await,
                    }
                }
            }
        }
    }

    /// Stops every connection reading new calls, then waits until the calls they already
    /// read are answered and they close, or until `deadline` (none: at once).
    async fn drain(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.worker.drain.fire();
        let deadline = deadline.unwrap_or_else(Instant::now);
        if !self.wait_for_connections(deadline).await {
            tracing::warn!(
                connections = self.worker.live.get(),
                "shutdown deadline passed: closing connections with calls still running"
            );
            self.worker.abort.fire();
            // Their writers flush what is queued; a peer that does not read is not waited for.
            self.wait_for_connections(Instant::now() + Duration::from_millis(100))
                .await;
        }
        Ok(())
    }

    /// Waits until every connection of this worker has closed (true) or `deadline` (false).
    async fn wait_for_connections(&self, deadline: Instant) -> bool {
        while self.worker.live.get() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            monoio::select! {
                _ = self.worker.closed.notified() => {}
                _ = monoio::time::sleep(left) => {}
            }
        }
        true
    }

    fn spawn<S>(&self, stream: S, peer: String)
    where
        S: AsyncReadRent + AsyncWriteRent + Split + AsRawFd + 'static,
    {
        if self.connections.fetch_add(1, Ordering::Relaxed) >= self.max_connections {
            self.connections.fetch_sub(1, Ordering::Relaxed);
            Registry::with_core(|c| c.server_refused.add(1));
            tracing::warn!(
                max = self.max_connections,
                "connection refused: the server is at max_connections"
            );
            return;
        }
        let (service, limits, connections) =
            (self.service.clone(), self.limits, self.connections.clone());
        let worker = self.worker.clone();
        worker.live.set(worker.live.get() + 1);
        Registry::with_core(|c| c.server_accepted.add(1));
        monoio::spawn(async move {
            let stream = split_socket(stream);
            serve_connection(stream, peer, service, limits, &worker.drain, &worker.abort).await;
            Registry::with_core(|c| c.server_closed.add(1));
            connections.fetch_sub(1, Ordering::Relaxed);
            worker.live.set(worker.live.get() - 1);
            worker.closed.notify();
        });
    }

    /// Out of file descriptors and the like: say so and back off briefly instead of
    /// spinning.
    async fn accept_failed(&self, e: io::Error) {
        tracing::warn!("accept failed: {e}");
        monoio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A server running on its workers. Dropping it stops accepting and ends the workers.
#[derive(Debug)]
pub struct RunningServer {
    address: Address,
    stop: Option<flume::Sender<Instant>>,
    workers: usize,
    threads: Vec<JoinHandle<io::Result<io::Result<()>>>>,
    health: Option<Health>,
    /// Stopped with the server (dropped last, so health reads the end).
    admin: Option<AdminServer>,
}

impl RunningServer {
    /// The admin endpoint's address, if [`ServerBuilder::admin`] asked for one.
    pub fn admin_address(&self) -> Option<&Address> {
        self.admin.as_ref().map(AdminServer::address)
    }

    /// The address bound (with the port chosen when `:0` was asked for).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Graceful shutdown with a 5 s deadline: see [`shutdown_within`](Self::shutdown_within).
    pub fn shutdown(self) -> io::Result<()> {
        self.shutdown_within(Duration::from_secs(5))
    }

    /// Stops accepting, lets every connection finish the calls it has read (new calls are
    /// not read; their callers see the connection close), closes the connections, and waits
    /// for the workers to end. Calls still running after `grace` are abandoned with a
    /// warning in the log.
    pub fn shutdown_within(mut self, grace: Duration) -> io::Result<()> {
        self.stop_workers(Instant::now() + grace)
    }

    fn stop_workers(&mut self, deadline: Instant) -> io::Result<()> {
        if let Some(health) = &self.health {
            health.set_all(ServingStatus::Draining);
        }
        if let Some(stop) = self.stop.take() {
            for _ in 0..self.workers {
                let _ = stop.send(deadline);
            }
        }
        let mut result = Ok(());
        for t in self.threads.drain(..) {
            match t.join() {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e)) | Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("a worker thread panicked")),
            }
        }
        if let Address::Unix(path) = &self.address {
            let _ = std::fs::remove_file(path);
        }
        if let Some(health) = &self.health {
            health.set_all(ServingStatus::NotServing);
        }
        result
    }
}

impl Drop for RunningServer {
    /// Dropped without [`shutdown`](Self::shutdown): stops at once.
    fn drop(&mut self) {
        if self.stop.is_some() {
            let _ = self.stop_workers(Instant::now());
        }
    }
}
