//! The client: `Client::builder("tcp://127.0.0.1:9090").build()` gives a [`Client`] that
//! implements [`Channel`], so a generated `Client::new(channel)` calls through it. A
//! `Client` is `Send + Sync + Clone`: hand clones to every worker. Calls run on the
//! caller's core, over that core's own connections (ConnShard, see `pool.rs`):
//! multiplexed by sequence id by default, or one call per connection for peers that
//! cannot pipeline ([`PoolMode::PingPong`]).
//!
//! Every call crosses a layer stack built once per core: the user's layers
//! ([`ClientBuilder::layer`]) around the governance layers (`layers.rs`: deadline, retries
//! and backup requests, load balancing over the discovered instances with outlier
//! ejection, circuit breakers, fault injection) around the transport. Each method's
//! policy is its IDL `@control_plane`, overridden by builder options
//! ([`ClientBuilder::policy`]), overridden live ([`ClientBuilder::live_policy`]).

mod backoff;
mod conn;
mod core;
mod cx;
pub mod discovery;
pub mod layers;
mod pool;
mod stats;
mod transport;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ringrpc_codec::frame::{Dialect, Frame, Framing};
use ringrpc_codec::{
    Binary, Compact, Decode, DecodeLimits, Encode, Protocol, ProtocolId, ProtocolReader,
};

use tracing::Instrument;

use crate::call::{CallError, Channel, MethodInfo, OnewayResult};
use crate::governance::balance::EjectionConfig;
use crate::metrics::{Inspect, PolicyReport, SeenMethods, Side, report};
use crate::policy::{LivePolicy, OverrideError, Overrides, PolicyValue};
use crate::service::{Identity, Layer, Service, Stack};
use crate::transport::{Address, AddressError};
pub(crate) use core::close_thread;
pub use cx::{Args, ClientCx};
pub use discovery::{Discovery, DiscoveryError, Instance};
pub use layers::Governed;
pub(crate) use stats::dialect_name;
pub use stats::{ClientStats, ConnectionStats};
pub(crate) use transport::RPC_TIMEOUT_KEY;
pub use transport::Transport;

/// The longest timeout a client takes (the range of `timeout_ms`).
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

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
pub(crate) enum Naming {
    /// `method`.
    Plain,
    /// `Service:method`, with the IDL service that declares the method.
    Multiplexed,
    /// `Name:method`, with the name the server registered the service under.
    MultiplexedAs(Arc<str>),
}

/// Connection management settings.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    mode: PoolMode,
    idle_timeout: Option<Duration>,
    keepalive: Option<Duration>,
    backoff_base: Duration,
    backoff_max: Duration,
}

/// What the builder sets.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    dialect: Dialect,
    /// How calls are named on the wire.
    naming: Naming,
    timeout: Duration,
    connect_timeout: Duration,
    limits: DecodeLimits,
    pool: PoolConfig,
    /// Policy set by builder options.
    overrides: Overrides,
    /// The persistent metainfo key whose value routes a call to the instances tagged with
    /// it.
    route_tag_key: Arc<str>,
    ejection: EjectionConfig,
}

/// Everything a client's calls need, shared by its clones on every core.
#[derive(Debug)]
pub(crate) struct ClientConfig {
    /// Names this client's state in each core's shard.
    id: u64,
    /// What the client calls, for messages: an address or "discovered instances".
    target: String,
    discovery: Discovery,
    live: Option<LivePolicy>,
    settings: Settings,
    /// The methods called so far (for `/policies`).
    seen: SeenMethods,
}

impl Inspect for ClientConfig {
    fn policies(&self) -> Vec<PolicyReport> {
        self.seen
            .list()
            .into_iter()
            .map(|method| {
                let policy = core::resolve_policy(self, method, None);
                report(
                    Side::Client,
                    &self.target,
                    method,
                    &policy,
                    self.live.as_ref(),
                )
            })
            .collect()
    }
}

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientBuildError {
    /// The address does not parse.
    Address(AddressError),
    /// A policy option is refused.
    Policy(OverrideError),
}

impl fmt::Display for ClientBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientBuildError::Address(e) => e.fmt(f),
            ClientBuildError::Policy(e) => write!(f, "client policy option: {e}"),
        }
    }
}

impl std::error::Error for ClientBuildError {}

impl From<AddressError> for ClientBuildError {
    fn from(e: AddressError) -> Self {
        ClientBuildError::Address(e)
    }
}

/// Builds a [`Client`]; `L` is the user's layers ([`ClientBuilder::layer`]).
#[derive(Debug, Clone)]
pub struct ClientBuilder<L = Identity> {
    target: Result<(String, Discovery), ClientBuildError>,
    settings: Settings,
    live: Option<LivePolicy>,
    layer: L,
}

/// A client of one service: one address, or the instances a [`Discovery`] lists. Clones
/// share its settings; each core keeps its own connections.
#[derive(Debug, Clone)]
pub struct Client<L = Identity> {
    config: Arc<ClientConfig>,
    /// Held by every handle: each core retires its state once none is left.
    handles: Arc<()>,
    layer: L,
}

fn default_settings() -> Settings {
    Settings {
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
        overrides: Overrides::new(),
        route_tag_key: "route_tag".into(),
        ejection: EjectionConfig::default(),
    }
}

impl Client {
    /// A client of `address` (`tcp://host:port`, `unix:///path` or `host:port`) speaking
    /// TTHeader with the Binary protocol (Kitex's default), with a 1 s call timeout.
    pub fn builder(address: &str) -> ClientBuilder {
        let target = address
            .parse::<Address>()
            .map_err(ClientBuildError::Address)
            .map(|address| {
                let instance = Instance {
                    address: address.clone(),
                    weight: discovery::DEFAULT_WEIGHT,
                    tags: Vec::new(),
                };
                let discovery =
                    Discovery::fixed(vec![instance]).expect("one instance has no duplicate");
                (address.to_string(), discovery)
            });
        ClientBuilder {
            target,
            settings: default_settings(),
            live: None,
            layer: Identity,
        }
    }

    /// A client of the instances `discovery` lists (a static list, a watched file, etcd),
    /// balanced by each method's `load_balance` policy.
    pub fn discover(discovery: Discovery) -> ClientBuilder {
        ClientBuilder {
            target: Ok(("the discovered instances".to_owned(), discovery)),
            settings: default_settings(),
            live: None,
            layer: Identity,
        }
    }
}

impl<L> Client<L> {
    /// Calls waiting for their replies on the current core.
    pub fn in_flight(&self) -> usize {
        core::existing(&self.config, |c| c.in_flight()).unwrap_or(0)
    }

    /// This client's connections on the current core, and its connection attempts here.
    pub fn stats(&self) -> ClientStats {
        core::existing(&self.config, |c| c.stats()).unwrap_or(ClientStats {
            connections: Vec::new(),
            connects: 0,
            connect_failures: 0,
            evicted: 0,
        })
    }
}

impl<L> ClientBuilder<L> {
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

    /// The timeout of calls whose method sets no `timeout_ms` (default 1 s; at most an
    /// hour, the longest `timeout_ms`: a longer one is taken as an hour).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout.min(MAX_TIMEOUT);
        self
    }

    /// How long connecting may take, unless the calling method's `connect_timeout_ms`
    /// says otherwise (default 1 s; at most an hour).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout.min(MAX_TIMEOUT);
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

    /// Sets a policy key for the methods in `scope` (`*`, `Service` or
    /// `Service.method`), over the IDL's `@control_plane` and under live overrides; e.g.
    /// `.policy("*", "retry.max_attempts", 3u64)`. A bad key or value fails
    /// [`build`](Self::build), naming it.
    pub fn policy(mut self, scope: &str, key: &str, value: impl Into<PolicyValue>) -> Self {
        if self.target.is_ok() {
            if let Err(e) = self.settings.overrides.set(scope, key, value) {
                self.target = Err(ClientBuildError::Policy(e));
            }
        }
        self
    }

    /// Follows live policy overrides (fed by a watched file or etcd), which take
    /// precedence over builder options and the IDL.
    pub fn live_policy(mut self, live: LivePolicy) -> Self {
        crate::metrics::global().watch_policy(&live);
        self.live = Some(live);
        self
    }

    /// The persistent metainfo key whose value routes a call to the instances tagged with
    /// it (default `route_tag`): `metainfo.set_persistent("route_tag", "canary")` sends
    /// the calls of that call chain to the `canary` instances, or to the untagged ones if
    /// none is tagged so.
    pub fn route_tag_key(mut self, key: &str) -> Self {
        self.settings.route_tag_key = key.into();
        self
    }

    /// When an instance is ejected from balancing after consecutive failures (default 5
    /// failures; 1 s, doubling up to 30 s).
    pub fn ejection(mut self, ejection: EjectionConfig) -> Self {
        self.settings.ejection = ejection;
        self
    }

    /// Adds `layer` around the governance layers, inside the layers added before it (the
    /// first added sees each call first). The layer is cloned onto every core.
    pub fn layer<T>(self, layer: T) -> ClientBuilder<Stack<T, L>> {
        ClientBuilder {
            target: self.target,
            settings: self.settings,
            live: self.live,
            layer: Stack::new(layer, self.layer),
        }
    }

    /// The client; connections open on each core at its first call there.
    pub fn build(self) -> Result<Client<L>, ClientBuildError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let (target, discovery) = self.target?;
        crate::policy::MethodPolicy::check_options(&self.settings.overrides)
            .map_err(ClientBuildError::Policy)?;
        crate::metrics::warm_up_clock();
        let config = Arc::new(ClientConfig {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            target,
            discovery,
            live: self.live,
            settings: self.settings,
            seen: SeenMethods::default(),
        });
        let weak: std::sync::Weak<ClientConfig> = Arc::downgrade(&config);
        crate::metrics::global().inspect(weak);
        Ok(Client {
            config,
            handles: Arc::new(()),
            layer: self.layer,
        })
    }

    /// The client, with a connection to its first instance already open on the current
    /// core: a wrong address or a server that is down shows here rather than at the first
    /// call.
    pub async fn connect(self) -> io::Result<Client<L>>
    where
        L: Layer<Governed> + Clone + 'static,
        L::Service: 'static,
    {
        let client = self
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let (core, _) = client.per_core();
        let pool = core.first_pool().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "discovery lists no instance yet")
        })?;
        let timeout = client.config.settings.connect_timeout;
        let conn = pool::connect(&client.config, pool.address(), timeout).await?;
        pool.adopt(conn);
        Ok(client)
    }
}

impl<L> Client<L>
where
    L: Layer<Governed> + Clone + 'static,
    L::Service: 'static,
{
    /// The policy `method`'s calls get now: its IDL `@control_plane` under the builder's
    /// options under the live overrides, with where each value came from. Inside a
    /// runtime ([`crate::rt::block_on`], workers) it is what this core's next call uses,
    /// through the same per-core state; on any other thread it is resolved afresh.
    pub fn effective_policy(&self, method: &'static MethodInfo) -> crate::policy::MethodPolicy {
        if crate::rt::in_runtime() {
            let (core, _) = self.per_core();
            return core.method_state(method).policy.clone();
        }
        core::resolve_policy(&self.config, method, None)
    }

    fn per_core(&self) -> (std::rc::Rc<core::CoreClient>, std::rc::Rc<L::Service>) {
        core::per_core(&self.config, &self.handles, || {
            self.layer.clone().layer(layers::governed())
        })
    }
}

impl<L> Channel for Client<L>
where
    L: Layer<Governed> + Clone + 'static,
    L::Service: for<'a> Service<ClientCx, Args<'a>, Response = Frame, Error = CallError> + 'static,
{
    async fn call<A, R>(&self, method: &'static MethodInfo, args: &A) -> Result<R, CallError>
    where
        A: Encode,
        R: Decode + OnewayResult,
    {
        let (core, stack) = self.per_core();
        let state = core.method_state(method);
        let metrics = state.metrics.clone();
        let budget = state.policy.timeout;
        let started = Instant::now();
        let started_tsc = quanta::Instant::now();
        let record = metrics.calls.start_at(started_tsc);
        let mut cx = ClientCx {
            method,
            state,
            core,
            started,
            started_tsc,
            ended_tsc: None,
            deadline: started + budget,
            budget,
            endpoint: None,
            avoid: None,
            attempt: 1,
            picked: None,
            #[cfg(feature = "otel")]
            traceparent: None,
        };
        let span = tracing::debug_span!(
            "rpc.client",
            otel.kind = "client",
            rpc.system = "apache_thrift",
            rpc.service = method.service,
            rpc.method = method.name,
            traceparent = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let sent = if span.is_disabled() {
            stack.call(&mut cx, Args { args }).await
        } else {
            let scope =
                crate::metainfo::with(|m| m.trace().map(|t| (*t, m.trace_state().cloned())))
                    .flatten();
            if let Some((trace, _)) = &scope {
                span.record("traceparent", tracing::field::display(trace));
            }
            #[cfg(feature = "otel")]
            {
                let (trace, state) = scope.as_ref().map(|(t, s)| (t, s.as_ref())).unzip();
                cx.traceparent = crate::otel::link_client_span(&span, trace, state.flatten());
            }
            stack
                .call(&mut cx, Args { args })
                .instrument(span.clone())
                .await
        };
        let result = match sent {
            Err(e) => Err(e),
            Ok(_) if method.oneway => R::oneway().ok_or_else(|| {
                CallError::Transport("a oneway call has no result to decode".into())
            }),
            Ok(frame) => {
                let limits = self.config.settings.limits;
                match frame.dialect.protocol {
                    ProtocolId::Binary => decode_reply::<Binary, R>(&frame, limits),
                    ProtocolId::Compact => decode_reply::<Compact, R>(&frame, limits),
                }
            }
        };
        // The last attempt's end is the call's (one clock reading fewer per call).
        let ended = match (&result, cx.ended_tsc) {
            (Ok(_), Some(ended)) => ended,
            _ => quanta::Instant::now(),
        };
        record.finish_call_at(&result, ended);
        if let Err(error) = &result {
            let kind = crate::metrics::ErrorKind::of(error);
            crate::call_span::mark_failed(&span, kind, error);
        }
        result
    }
}

fn decode_reply<P: Protocol, R: Decode>(
    frame: &Frame,
    limits: DecodeLimits,
) -> Result<R, CallError> {
    // The transport turned `EXCEPTION` replies into errors: this is a `REPLY`.
    let mut r = P::reader(&frame.payload, limits);
    r.read_message_begin().map_err(CallError::Decode)?;
    R::decode(&mut r).map_err(CallError::Decode)
}
