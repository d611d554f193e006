//! ConnShard: each core keeps, per client endpoint, a small pool of connections of its own
//! ([`EndpointPool`]), so a call never crosses cores or takes a lock. Multiplexed pools
//! keep one connection and open a second only when every open one is deep in calls;
//! ping-pong pools (for peers that cannot pipeline) carry one call per connection and grow
//! up to their limit. One connection attempt at a time per pool, with exponential backoff
//! and jitter after failures, so a slow or dead peer never causes a connection storm.
//! Connections idle past the idle timeout are closed by the pool's sweeper.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::conn::Connection;
use super::stats::ClientStats;
use super::{ClientConfig, PoolMode};
use crate::call::CallError;
use crate::metrics::Registry;
use crate::rt::Signal;
use crate::transport::Address;

/// One endpoint's connections on one core.
#[derive(Debug)]
pub(crate) struct EndpointPool {
    address: Address,
    /// Set when the pool is closed for good: a connection that comes up later is closed.
    closed: Cell<bool>,
    conns: RefCell<Vec<Rc<Connection>>>,
    connecting: Cell<bool>,
    /// Notified when an attempt ends or a ping-pong connection frees up.
    changed: Signal,
    /// Calls wait for a free connection (ping-pong mode), so finished calls notify.
    ping_pong: bool,
    backoff: RefCell<Backoff>,
    retry_at: Cell<Option<Instant>>,
    last_error: RefCell<Option<String>>,
    connects: Cell<u64>,
    connect_failures: Cell<u64>,
    evicted: Cell<u64>,
}

impl EndpointPool {
    /// A pool of connections to `address`, none open yet.
    pub(crate) fn new(config: &ClientConfig, address: Address) -> Self {
        let seed = super::core::random_seed(config.id) ^ address_hash(&address);
        Self {
            address,
            closed: Cell::new(false),
            conns: RefCell::new(Vec::new()),
            connecting: Cell::new(false),
            changed: Signal::default(),
            ping_pong: matches!(config.settings.pool.mode, PoolMode::PingPong { .. }),
            backoff: RefCell::new(Backoff::new(
                config.settings.pool.backoff_base,
                config.settings.pool.backoff_max,
                seed,
            )),
            retry_at: Cell::new(None),
            last_error: RefCell::new(None),
            connects: Cell::new(0),
            connect_failures: Cell::new(0),
            evicted: Cell::new(0),
        }
    }

    /// The endpoint's address.
    pub(crate) fn address(&self) -> &Address {
        &self.address
    }

    /// A connection to send a call on at once, if there is one: the least busy one
    /// (multiplexed) or a free one (ping-pong). Starts a connection attempt when the pool
    /// should grow (unless one is under way or the endpoint is backing off).
    pub(crate) fn try_checkout(
        self: &Rc<Self>,
        config: &Arc<ClientConfig>,
        connect_timeout: Duration,
    ) -> Option<Rc<Connection>> {
        self.conns.borrow_mut().retain(|c| !c.is_broken());
        let (found, may_grow) = {
            let conns = self.conns.borrow();
            match config.settings.pool.mode {
                PoolMode::Multiplexed {
                    max_connections,
                    grow_at_in_flight,
                } => {
                    let best = conns.iter().min_by_key(|c| c.in_flight()).cloned();
                    let busy = best
                        .as_ref()
                        .is_none_or(|c| c.in_flight() >= grow_at_in_flight);
                    (best, busy && conns.len() < max_connections.max(1))
                }
                PoolMode::PingPong { max_connections } => {
                    let free = conns.iter().find(|c| c.in_flight() == 0).cloned();
                    let grow = free.is_none() && conns.len() < max_connections.max(1);
                    (free, grow)
                }
            }
        };
        if may_grow && !self.connecting.get() && !self.backing_off(Instant::now()) {
            self.start_attempt(config.clone(), connect_timeout);
        }
        found
    }

    /// Whether a call sent here now could go out without waiting on a connection attempt
    /// that is likely to fail: a connection is open, or none is being attempted and the
    /// endpoint is not backing off after failed attempts. The balancer prefers such
    /// endpoints, so a peer that is down gets one call per reconnect attempt, not a crowd.
    pub(crate) fn accepting(&self, now: Instant) -> bool {
        !self.conns.borrow().is_empty() || (!self.connecting.get() && !self.backing_off(now))
    }

    fn backing_off(&self, now: Instant) -> bool {
        self.retry_at.get().is_some_and(|at| now < at)
    }

    /// Like [`try_checkout`](Self::try_checkout), but waits for a connection attempt or a
    /// free connection when there is none, and fails at once while the endpoint is backing
    /// off after failed attempts with no connection open.
    pub(crate) async fn checkout(
        self: &Rc<Self>,
        config: &Arc<ClientConfig>,
        connect_timeout: Duration,
    ) -> Result<Rc<Connection>, CallError> {
        loop {
            if let Some(conn) = self.try_checkout(config, connect_timeout) {
                return Ok(conn);
            }
            let now = Instant::now();
            let backing_off = self.backing_off(now);
            if backing_off && !self.connecting.get() && self.conns.borrow().is_empty() {
                let wait = self.retry_at.get().map_or(Duration::ZERO, |at| at - now);
                let why = self.last_error.borrow().clone().unwrap_or_default();
                return Err(CallError::Unavailable(format!(
                    "not connected to {}: {why}; the next attempt is in {} ms",
                    self.address,
                    wait.as_millis()
                )));
            }
            // An attempt is under way, or every ping-pong connection is busy, or the
            // backoff ends while another connection exists: wait for a change.
            match self.retry_at.get().filter(|_| backing_off) {
                Some(at) if !self.connecting.get() => {
                    monoio::select! {
                        _ = self.changed.notified() => {}
                        _ = monoio::time::sleep(at - now) => {}
                    }
                }
                _ => self.changed.notified().await,
            }
        }
    }

    /// Adds a connection opened by the caller.
    pub(crate) fn adopt(&self, conn: Rc<Connection>) {
        self.connects.set(self.connects.get() + 1);
        self.conns.borrow_mut().push(conn);
        self.changed.notify_all();
    }

    /// A call on a connection of this pool finished (frees ping-pong connections).
    pub(crate) fn released(&self) {
        if self.ping_pong {
            self.changed.notify_all();
        }
    }

    fn start_attempt(self: &Rc<Self>, config: Arc<ClientConfig>, timeout: Duration) {
        self.connecting.set(true);
        self.connects.set(self.connects.get() + 1);
        let pool = self.clone();
        monoio::spawn(async move {
            let attempt = connect(&config, &pool.address, timeout).await;
            pool.connecting.set(false);
            match attempt {
                Ok(conn) if pool.closed.get() => conn.fail("the pool was closed"),
                Ok(conn) => {
                    pool.backoff.borrow_mut().succeed();
                    pool.retry_at.set(None);
                    pool.conns.borrow_mut().push(conn);
                }
                Err(e) => {
                    pool.connect_failures.set(pool.connect_failures.get() + 1);
                    Registry::with_core(|c| c.client_connect_failures.add(1));
                    let delay = pool.backoff.borrow_mut().fail();
                    tracing::warn!(
                        peer = %pool.address,
                        retry_in_ms = delay.as_millis() as u64,
                        "connect failed: {e}"
                    );
                    pool.retry_at.set(Some(Instant::now() + delay));
                    *pool.last_error.borrow_mut() = Some(e.to_string());
                }
            }
            pool.changed.notify_all();
        });
    }

    /// Calls in flight on every connection.
    pub(crate) fn in_flight(&self) -> usize {
        self.conns.borrow().iter().map(|c| c.in_flight()).sum()
    }

    /// The pool's figures now.
    pub(crate) fn stats(&self) -> ClientStats {
        let now = Instant::now();
        ClientStats {
            connections: self
                .conns
                .borrow()
                .iter()
                .filter(|c| !c.is_broken())
                .map(|c| c.stats(now))
                .collect(),
            connects: self.connects.get(),
            connect_failures: self.connect_failures.get(),
            evicted: self.evicted.get(),
        }
    }

    /// Closes every connection, failing the calls on them with `why`.
    pub(crate) fn close_all(&self, why: &str) {
        self.closed.set(true);
        for conn in self.conns.borrow_mut().drain(..) {
            conn.fail(why);
        }
    }

    /// Aborts every connection (see [`Connection::abort`]): the runtime is stopping.
    pub(crate) fn abort_all(&self, why: &str) {
        self.closed.set(true);
        for conn in self.conns.borrow_mut().drain(..) {
            conn.abort(why);
        }
    }

    /// Closes the connections without calls in flight; returns whether none is left.
    pub(crate) fn close_idle(&self, why: &str) -> bool {
        let mut conns = self.conns.borrow_mut();
        conns.retain(|c| {
            let idle = c.in_flight() == 0 || c.is_broken();
            if idle {
                c.fail(why);
            }
            !idle
        });
        let drained = conns.is_empty() && !self.connecting.get();
        self.closed.set(drained);
        drained
    }

    /// Closes connections idle for `idle_timeout` or longer.
    pub(crate) fn evict_idle(&self, idle_timeout: Duration) {
        let now = Instant::now();
        self.conns.borrow_mut().retain(|c| {
            let idle = c.in_flight() == 0 && c.counters.idle(now) >= idle_timeout;
            if idle {
                c.fail("closed after idling");
                self.evicted.set(self.evicted.get() + 1);
            }
            !idle
        });
    }
}

/// Opens one connection to `address` within `timeout`.
pub(crate) async fn connect(
    config: &ClientConfig,
    address: &Address,
    timeout: Duration,
) -> io::Result<Rc<Connection>> {
    let peer = address.to_string();
    let open = async {
        Ok::<_, io::Error>(match address {
            Address::Tcp(addr) => {
                let stream = monoio::net::TcpStream::connect_addr(*addr).await?;
                stream.set_nodelay(true)?;
                if let Some(idle) = config.settings.pool.keepalive {
                    crate::transport::set_keepalive(&stream, idle)?;
                }
                Connection::start(
                    stream,
                    peer,
                    config.settings.dialect,
                    config.settings.limits,
                )
            }
            Address::Unix(path) => {
                let stream = monoio::net::UnixStream::connect(path).await?;
                Connection::start(
                    stream,
                    peer,
                    config.settings.dialect,
                    config.settings.limits,
                )
            }
        })
    };
    monoio::time::timeout(timeout, open)
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connecting to {address} took over {timeout:?}"),
            )
        })?
        .map_err(|e| io::Error::new(e.kind(), format!("cannot connect to {address}: {e}")))
}

/// Spreads the seeds of one client's pools (one per endpoint) apart.
fn address_hash(address: &Address) -> u64 {
    crate::governance::balance::hash_bytes(address.to_string().as_bytes())
}

/// How often a client's sweeper looks: half the idle timeout, between 10 ms and 1 s (it
/// also notices a dropped client within that time).
pub(crate) fn sweep_period(config: &ClientConfig) -> Duration {
    config
        .settings
        .pool
        .idle_timeout
        .map_or(Duration::from_secs(1), |t| t / 2)
        .clamp(Duration::from_millis(10), Duration::from_secs(1))
}
