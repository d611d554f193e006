//! The client: `Client::builder("tcp://127.0.0.1:9090").build()` gives a [`Client`] that
//! implements [`Channel`], so a generated `Client::new(channel)` calls
//! through it. A `Client` is `Send + Sync + Clone`: hand clones to every worker. Calls run
//! on the caller's core, over that core's own connections to the endpoint (ConnShard, see
//! `pool.rs`): multiplexed by sequence id by default, or one call per connection for peers
//! that cannot pipeline ([`PoolMode::PingPong`]). Each call waits at most its method's
//! `@control_plane` `timeout_ms`, else the builder's timeout, connecting included.

mod backoff;
mod conn;
mod pool;
mod stats;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ringrpc_codec::frame::{Dialect, Frame, Framing};
use ringrpc_codec::{
    ApplicationException, Binary, BytesStr, Compact, Decode, DecodeLimits, Encode, MessageType,
    Protocol, ProtocolId, ProtocolReader,
};

use crate::call::{CallError, Channel, MethodInfo, OnewayResult, PolicyConst};
use crate::transport::{Address, AddressError};
pub use stats::{ClientStats, ConnectionStats};

/// How a core's connections to one endpoint carry calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// Many calls per connection, matched by sequence id (out of order over TTHeader, in
    /// order for plain framed peers). A second connection (up to `max_connections`) opens
    /// only while every open one has `grow_at_in_flight` calls in flight.
    Multiplexed {
        /// Connections per endpoint per core at most.
        max_connections: usize,
        /// Calls in flight on every connection before another one opens.
        grow_at_in_flight: usize,
    },
    /// One call per connection at a time, for peers that cannot pipeline; calls wait for
    /// a free connection once `max_connections` are busy.
    PingPong {
        /// Connections per endpoint per core at most.
        max_connections: usize,
    },
}

impl Default for PoolMode {
    fn default() -> Self {
        PoolMode::Multiplexed {
            max_connections: 2,
            grow_at_in_flight: 128,
        }
    }
}

/// How calls are named on the wire.
#[derive(Debug, Clone)]
enum Naming {
    /// `method`.
    Plain,
    /// `Service:method`, with the IDL service that declares the method.
    Multiplexed,
    /// `Name:method`, with the name the server registered the service under.
    MultiplexedAs(Arc<str>),
}

/// Connection management settings.
#[derive(Debug, Clone)]
struct PoolConfig {
    mode: PoolMode,
    idle_timeout: Option<Duration>,
    keepalive: Option<Duration>,
    backoff_base: Duration,
    backoff_max: Duration,
}

/// What the builder sets.
#[derive(Debug, Clone)]
struct Settings {
    dialect: Dialect,
    /// How calls are named on the wire.
    naming: Naming,
    timeout: Duration,
    connect_timeout: Duration,
    limits: DecodeLimits,
    pool: PoolConfig,
}

/// Everything a client's calls need, shared by its clones on every core.
#[derive(Debug)]
struct ClientConfig {
    /// Names this client's pools in each core's shard.
    id: u64,
    address: Address,
    settings: Settings,
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    address: Result<Address, AddressError>,
    settings: Settings,
}

/// A client of one endpoint. Clones share its settings; each core keeps its own
/// connections to the endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    config: Arc<ClientConfig>,
}

impl Client {
    /// A client of `address` (`tcp://host:port`, `unix:///path` or `host:port`) speaking
    /// TTHeader with the Binary protocol (Kitex's default), with a 1 s call timeout.
    pub fn builder(address: &str) -> ClientBuilder {
        ClientBuilder {
            address: address.parse(),
            settings: Settings {
                dialect: Dialect::new(Framing::TTHeader, ProtocolId::Binary),
                naming: Naming::Plain,
                timeout: Duration::from_secs(1),
                connect_timeout: Duration::from_secs(1),
                limits: DecodeLimits::default(),
                pool: PoolConfig {
                    mode: PoolMode::default(),
                    idle_timeout: Some(Duration::from_secs(300)),
                    keepalive: Some(Duration::from_secs(30)),
                    backoff_base: Duration::from_millis(20),
                    backoff_max: Duration::from_secs(5),
                },
            },
        }
    }

    /// Calls waiting for their replies on the current core.
    pub fn in_flight(&self) -> usize {
        pool::existing_pool(&self.config).map_or(0, |p| p.in_flight())
    }

    /// This client's connections on the current core, and its connection attempts here.
    pub fn stats(&self) -> ClientStats {
        pool::existing_pool(&self.config).map_or(
            ClientStats {
                connections: Vec::new(),
                connects: 0,
                connect_failures: 0,
                evicted: 0,
            },
            |p| p.stats(),
        )
    }
}

impl ClientBuilder {
    /// The framing (default TTHeader; `Framed` for Apache/volo peers).
    pub fn framing(mut self, framing: Framing) -> Self {
        self.settings.dialect.framing = framing;
        self
    }

    /// The payload protocol (default Binary).
    pub fn protocol(mut self, protocol: ProtocolId) -> Self {
        self.settings.dialect.protocol = protocol;
        self
    }

    /// Names calls `Service:method`, as Apache's `TMultiplexedProtocol` does, for servers
    /// that host several services on one port (default: plain method names). `Service` is
    /// the IDL service that declares the method (for an inherited method, the parent);
    /// see [`multiplexed_as`](Self::multiplexed_as) for a server that registered the
    /// service under another name.
    pub fn multiplexed(mut self, multiplexed: bool) -> Self {
        self.settings.naming = if multiplexed {
            Naming::Multiplexed
        } else {
            Naming::Plain
        };
        self
    }

    /// Names every call `service:method`: the name the server registered this service
    /// under, inherited methods included (Apache's `TMultiplexedProtocol(service)`).
    pub fn multiplexed_as(mut self, service: &str) -> Self {
        self.settings.naming = Naming::MultiplexedAs(service.into());
        self
    }

    /// The timeout of calls whose method sets no `timeout_ms` (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// How long connecting may take (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Bounds on what replies may hold: frame, string and container sizes and nesting
    /// depth (default [`DecodeLimits::default`]). A reply whose contents break one fails
    /// its call with [`CallError::Decode`]; a reply frame over `max_frame_len` cannot be
    /// skipped safely, so it closes the connection and fails every call on it.
    pub fn decode_limits(mut self, limits: DecodeLimits) -> Self {
        self.settings.limits = limits;
        self
    }

    /// How each core's connections carry calls (default: multiplexed, 1–2 connections).
    pub fn pool_mode(mut self, mode: PoolMode) -> Self {
        self.settings.pool.mode = mode;
        self
    }

    /// Close connections without calls for this long (default 5 minutes; `None`: never).
    pub fn idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.settings.pool.idle_timeout = idle;
        self
    }

    /// TCP keepalive probes after this long without traffic (default 30 s; `None`: off).
    pub fn keepalive(mut self, idle: Option<Duration>) -> Self {
        self.settings.pool.keepalive = idle;
        self
    }

    /// Reconnect delays after failed attempts: exponential from `base` up to `max`, with
    /// jitter (default 20 ms to 5 s).
    pub fn reconnect_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.settings.pool.backoff_base = base;
        self.settings.pool.backoff_max = max;
        self
    }

    /// The client; connections open on each core at its first call there.
    pub fn build(self) -> Result<Client, AddressError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(Client {
            config: Arc::new(ClientConfig {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                address: self.address?,
                settings: self.settings,
            }),
        })
    }

    /// The client, with its first connection on the current core already open: a wrong
    /// address or a server that is down shows here rather than at the first call.
    pub async fn connect(self) -> io::Result<Client> {
        let client = self
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let pool = pool::pool_for(&client.config);
        let conn = pool::connect(&client.config).await?;
        pool.adopt(conn);
        Ok(client)
    }
}

impl Channel for Client {
    async fn call<A, R>(&self, method: &'static MethodInfo, args: &A) -> Result<R, CallError>
    where
        A: Encode,
        R: Decode + OnewayResult,
    {
        let config = &self.config;
        let timeout = match method.policy("timeout_ms") {
            Some(PolicyConst::Int(ms)) => Duration::from_millis(ms),
            _ => config.settings.timeout,
        };
        let pool = pool::pool_for(config);
        let (conn, left) = match pool.try_checkout(config) {
            Some(conn) => (conn, timeout),
            None => {
                // Waiting for a connection is the rare path: boxed, so the future of every
                // call stays small.
                let started = Instant::now();
                let conn = monoio::time::timeout(timeout, Box::pin(pool.checkout(config)))
                    .await
                    .map_err(|_| CallError::Timeout(timeout))??;
                (conn, timeout.saturating_sub(started.elapsed()))
            }
        };
        let metadata = crate::metainfo::with(|m| m.request_header()).flatten();
        let name = match &config.settings.naming {
            Naming::Plain => BytesStr::from_static(method.name),
            Naming::Multiplexed => multiplexed_name(method.service, method),
            Naming::MultiplexedAs(service) => multiplexed_name(service, method),
        };
        let sent = conn.send(name, method.oneway, args, metadata);
        let timed = match &sent {
            Ok(Some(_)) => conn.counters.sent(conn.in_flight()).then(Instant::now),
            _ => None,
        };
        let Some((slot, seq_id)) = sent? else {
            return R::oneway().ok_or_else(|| {
                CallError::Transport("a oneway call has no result to decode".into())
            });
        };
        let reply = monoio::time::timeout(left, conn.reply(slot, seq_id))
            .await
            .map_err(|_| CallError::Timeout(timeout))
            .and_then(|reply| reply);
        conn.counters
            .finished(reply.is_ok(), timed.map(|at| at.elapsed()));
        pool.released();
        let frame = reply?;
        if let Some(header) = &frame.header {
            crate::metainfo::with(|m| m.read_backward(&header.metadata));
        }
        match frame.dialect.protocol {
            ProtocolId::Binary => decode_reply::<Binary, R>(&frame, config.settings.limits),
            ProtocolId::Compact => decode_reply::<Compact, R>(&frame, config.settings.limits),
        }
    }
}

/// `service:method`, made once per (service name, method) and thread: cached per method
/// (a static) with the service names seen for it, compared by content.
fn multiplexed_name(service: &str, method: &'static MethodInfo) -> BytesStr {
    type Names = std::collections::HashMap<usize, Vec<(Box<str>, BytesStr)>>;
    thread_local! {
        static NAMES: std::cell::RefCell<Names> = std::cell::RefCell::default();
    }
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        let seen = names
            .entry(method as *const MethodInfo as usize)
            .or_default();
        if let Some((_, name)) = seen.iter().find(|(s, _)| &**s == service) {
            return name.clone();
        }
        let name = BytesStr::from(format!("{service}:{}", method.name));
        seen.push((service.into(), name.clone()));
        name
    })
}

fn decode_reply<P: Protocol, R: Decode>(
    frame: &Frame,
    limits: DecodeLimits,
) -> Result<R, CallError> {
    let mut r = P::reader(&frame.payload, limits);
    let header = r.read_message_begin().map_err(CallError::Decode)?;
    match header.kind {
        MessageType::Exception => Err(CallError::Application(
            ApplicationException::decode(&mut r).map_err(CallError::Decode)?,
        )),
        _ => R::decode(&mut r).map_err(CallError::Decode),
    }
}
