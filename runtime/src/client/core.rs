//! A client's state on one core ([`CoreClient`]): its endpoints — the discovered instances,
//! each with this core's connection pool to it (ConnShard) — the balancers over them,
//! outlier ejection, and per method the effective policy, retry budget and circuit
//! breakers. Nothing here is shared with other cores: discovery and live policy arrive as
//! versioned snapshots, noticed with one atomic load per call.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::rc::Rc;
use std::rc::Weak as RcWeak;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::ClientConfig;
use super::discovery::Instance;
use super::pool::{EndpointPool, sweep_period};
use super::stats::ClientStats;
use crate::call::{CallError, MethodInfo};
use crate::governance::balance::{
    Ejection, Endpoint, HashRing, InFlight, LoadBalance, P2cConfig, PowerOfTwoChoices,
    WeightedRoundRobin, hash_bytes,
};
use crate::governance::breaker::{BreakerConfig, BreakerState, CircuitBreaker, Outcome, Permit};
use crate::governance::retry::RetryBudget;
use crate::governance::{random_below, splitmix64};
use crate::metrics::{BreakerCells, CallSeries, Family, LocalSeries, Registry, SeriesKey};
use crate::policy::{Layers, MethodPolicy, Overrides};
use crate::rt::IdHasher;

thread_local! {
    /// This core's clients, by client id.
    static SHARD: RefCell<HashMap<u64, Entry, BuildHasherDefault<IdHasher>>> =
        RefCell::new(HashMap::default());
}

/// A client's state and its layer stack (an `Rc<S>` for the client's stack type) on one
/// core.
struct Entry {
    core: Rc<CoreClient>,
    stack: Rc<dyn Any>,
}

/// The current core's state of `config`'s client and its stack, both created on first
/// use (the stack with `make_stack`). `handles` is held by every handle of the client: the
/// state is retired once they are all gone.
pub(crate) fn per_core<S: 'static>(
    config: &Arc<ClientConfig>,
    handles: &Arc<()>,
    make_stack: impl FnOnce() -> S,
) -> (Rc<CoreClient>, Rc<S>) {
    SHARD.with(|shard| {
        if let Some(entry) = shard.borrow().get(&config.id) {
            if let (true, Ok(stack)) = (entry.core.alive.get(), entry.stack.clone().downcast::<S>())
            {
                return (entry.core.clone(), stack);
            }
        }
        let core = Rc::new(CoreClient::new(config));
        monoio::spawn(sweep(Rc::downgrade(&core), Arc::downgrade(handles)));
        let stack = Rc::new(make_stack());
        shard.borrow_mut().insert(
            config.id,
            Entry {
                core: core.clone(),
                stack: stack.clone(),
            },
        );
        (core, stack)
    })
}

/// Closes every client connection of this thread (the runtime is about to stop: tasks
/// still waiting on a socket then would never end, and their sockets would leak), then
/// waits, at most `within`, until they are all gone.
pub(crate) async fn close_thread(within: Duration) {
    let states: Vec<Rc<CoreClient>> =
        SHARD.with(|shard| shard.borrow_mut().drain().map(|(_, e)| e.core).collect());
    for core in &states {
        core.alive.set(false);
        core.abort("the runtime is stopping");
    }
    drop(states);
    let until = Instant::now() + within;
    while super::stats::open_on_this_thread() > 0 && Instant::now() < until {
        monoio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Runs `f` on the current core's state of `config`'s client, if it has one.
pub(crate) fn existing<R>(config: &ClientConfig, f: impl FnOnce(&CoreClient) -> R) -> Option<R> {
    let core = SHARD.with(|shard| shard.borrow().get(&config.id).map(|e| e.core.clone()))?;
    Some(f(&core))
}

/// One instance and this core's connections to it.
#[derive(Debug)]
pub(crate) struct CoreEndpoint {
    /// Stable identity (a hash of the address): state follows it across list changes.
    pub(crate) id: u64,
    pub(crate) instance: Instance,
    pub(crate) pool: Rc<EndpointPool>,
    address: String,
    /// Whether its last attempt failed (a success then ends its failure streak).
    suspect: Cell<bool>,
}

impl CoreEndpoint {
    /// The instance's address, as text.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }
}

/// The endpoints of a client on one core and the balancers over them, all indexed alike.
struct Endpoints {
    /// The discovery version they were built from.
    version: u64,
    list: Vec<Rc<CoreEndpoint>>,
    /// Whether some instance has no tags (the stable set of a gray release).
    any_untagged: bool,
    /// Whether some instance has tags (calls' route tags matter).
    any_tagged: bool,
    rr: WeightedRoundRobin,
    wrr: WeightedRoundRobin,
    p2c: PowerOfTwoChoices,
    ring: HashRing,
    ejection: Ejection,
}

/// A method's circuit breakers on one core, by endpoint id.
pub(crate) type Breakers = HashMap<u64, WatchedBreaker, BuildHasherDefault<IdHasher>>;

/// A circuit breaker and the cells its transitions are mirrored to (for `/breakers`).
#[derive(Debug)]
pub(crate) struct WatchedBreaker {
    breaker: CircuitBreaker,
    pub(crate) cells: Arc<BreakerCells>,
}

impl WatchedBreaker {
    pub(crate) fn new(
        config: BreakerConfig,
        target: &str,
        method: &'static MethodInfo,
        endpoint: &str,
    ) -> Self {
        WatchedBreaker {
            breaker: CircuitBreaker::new(config),
            cells: BreakerCells::new(target, method, endpoint, config.open_for),
        }
    }

    /// Records how a call it permitted went, mirroring a change of state.
    pub(crate) fn record(&mut self, permit: Permit, outcome: Outcome, now: Instant) {
        if let Some(to) = self.breaker.record(permit, outcome, now) {
            self.cells.moved(to, now);
            tracing::warn!(
                endpoint = self.cells.endpoint(),
                "circuit breaker now {to:?}"
            );
        }
    }

    /// Takes a new configuration.
    pub(crate) fn set_config(&mut self, config: BreakerConfig) {
        self.breaker.set_config(config);
        self.cells.set_open_for(config.open_for);
    }
}

impl std::ops::Deref for WatchedBreaker {
    type Target = CircuitBreaker;

    fn deref(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl std::ops::DerefMut for WatchedBreaker {
    fn deref_mut(&mut self) -> &mut CircuitBreaker {
        &mut self.breaker
    }
}

/// A method's policy on one core, with the state that goes with it.
#[derive(Debug)]
pub(crate) struct MethodState {
    pub(crate) policy: MethodPolicy,
    /// The live policy version it was resolved at.
    version: u64,
    /// Shared by the method's policy versions.
    pub(crate) budget: Rc<RefCell<RetryBudget>>,
    /// Circuit breakers by endpoint id, shared by the method's policy versions.
    pub(crate) breakers: Rc<RefCell<Breakers>>,
    /// Metrics cells, shared by the method's policy versions.
    pub(crate) metrics: Rc<MethodMetrics>,
}

/// A method's metrics cells on one core: its calls, and its attempts per endpoint.
#[derive(Debug)]
pub(crate) struct MethodMetrics {
    method: &'static MethodInfo,
    pub(crate) calls: Arc<CallSeries>,
    attempts: RefCell<HashMap<u64, Rc<LocalSeries>, BuildHasherDefault<IdHasher>>>,
}

impl MethodMetrics {
    fn new(method: &'static MethodInfo) -> Self {
        MethodMetrics {
            method,
            calls: Registry::series(SeriesKey {
                family: Family::ClientCall,
                service: method.service.into(),
                method: method.name.into(),
                endpoint: "".into(),
            }),
            attempts: RefCell::default(),
        }
    }

    /// The cells of this method's attempts on `endpoint`.
    pub(crate) fn attempts(&self, endpoint: &CoreEndpoint) -> Rc<LocalSeries> {
        if let Some(found) = self.attempts.borrow().get(&endpoint.id) {
            return found.clone();
        }
        let series = Rc::new(LocalSeries(Registry::series(SeriesKey {
            family: Family::ClientAttempt,
            service: self.method.service.into(),
            method: self.method.name.into(),
            endpoint: endpoint.address().into(),
        })));
        self.attempts
            .borrow_mut()
            .insert(endpoint.id, series.clone());
        series
    }
}

/// A client on one core.
pub(crate) struct CoreClient {
    pub(crate) config: Arc<ClientConfig>,
    endpoints: RefCell<Endpoints>,
    /// Pools of endpoints no longer discovered, closed once their calls are done.
    retired: RefCell<Vec<Rc<EndpointPool>>>,
    methods: RefCell<HashMap<usize, Rc<MethodState>, BuildHasherDefault<IdHasher>>>,
    rng: Cell<u64>,
    /// False once the sweeper is gone (the runtime stopped): the state must be rebuilt.
    alive: Cell<bool>,
}

impl CoreClient {
    fn new(config: &Arc<ClientConfig>) -> Self {
        let seed = random_seed(config.id);
        let core = CoreClient {
            config: config.clone(),
            endpoints: RefCell::new(Endpoints {
                version: u64::MAX,
                list: Vec::new(),
                any_untagged: false,
                any_tagged: false,
                rr: WeightedRoundRobin::unweighted(&[]),
                wrr: WeightedRoundRobin::new(&[]),
                p2c: PowerOfTwoChoices::new(&[], P2cConfig::default(), seed),
                ring: HashRing::new(&[]),
                ejection: Ejection::new(&[], config.settings.ejection),
            }),
            retired: RefCell::new(Vec::new()),
            methods: RefCell::new(HashMap::default()),
            rng: Cell::new(seed),
            alive: Cell::new(true),
        };
        core.refresh_endpoints();
        core
    }

    /// A random `u64` from this core's generator.
    pub(crate) fn random(&self) -> u64 {
        let mut state = self.rng.get();
        let r = splitmix64(&mut state);
        self.rng.set(state);
        r
    }

    /// Whether a percentage chance comes up.
    pub(crate) fn chance(&self, percent: f64) -> bool {
        let mut state = self.rng.get();
        let hit = (random_below(&mut state, 1_000_000) as f64) < percent * 10_000.0;
        self.rng.set(state);
        hit
    }

    /// The policy state of `method`, re-resolved when the live policy changed.
    pub(crate) fn method_state(&self, method: &'static MethodInfo) -> Rc<MethodState> {
        let live_version = self.config.live.as_ref().map_or(0, |l| l.version());
        let key = method as *const MethodInfo as usize;
        if let Some(state) = self.methods.borrow().get(&key) {
            if state.version == live_version {
                return state.clone();
            }
        }
        let state = Rc::new(self.resolve(method, live_version));
        self.methods.borrow_mut().insert(key, state.clone());
        state
    }

    fn resolve(&self, method: &'static MethodInfo, version: u64) -> MethodState {
        let previous = self
            .methods
            .borrow()
            .get(&(method as *const MethodInfo as usize))
            .cloned();
        let policy = resolve_policy(&self.config, method, previous.as_ref().map(|p| &p.policy));
        // Breakers and the retry budget are shared with the previous version, so calls in
        // flight report to the same ones.
        let (budget, breakers, metrics) = match previous {
            Some(old) if old.policy.retry_budget_percent == policy.retry_budget_percent => (
                old.budget.clone(),
                old.breakers.clone(),
                old.metrics.clone(),
            ),
            Some(old) => (
                Rc::new(RefCell::new(budget_for(&policy))),
                old.breakers.clone(),
                old.metrics.clone(),
            ),
            None => {
                self.config.seen.note(method);
                (
                    Rc::new(RefCell::new(budget_for(&policy))),
                    Rc::default(),
                    Rc::new(MethodMetrics::new(method)),
                )
            }
        };
        match policy.breaker {
            Some(config) => breakers
                .borrow_mut()
                .values_mut()
                .for_each(|b| b.set_config(config)),
            None => breakers.borrow_mut().clear(),
        }
        MethodState {
            policy,
            version,
            budget,
            breakers,
            metrics,
        }
    }

    /// Rebuilds the endpoints if discovery has a new version.
    pub(crate) fn refresh_endpoints(&self) {
        let discovery = &self.config.discovery;
        let version = discovery.version();
        if self.endpoints.borrow().version == version {
            return;
        }
        let instances = discovery.instances();
        let mut eps = self.endpoints.borrow_mut();
        let mut old: HashMap<u64, Rc<CoreEndpoint>> =
            eps.list.drain(..).map(|e| (e.id, e)).collect();
        let list: Vec<Rc<CoreEndpoint>> = instances
            .iter()
            .map(|instance| {
                let address = instance.address.to_string();
                let id = hash_bytes(address.as_bytes());
                match old.remove(&id) {
                    Some(kept) if kept.instance == *instance => kept,
                    Some(kept) => Rc::new(CoreEndpoint {
                        id,
                        instance: instance.clone(),
                        pool: kept.pool.clone(),
                        address,
                        suspect: Cell::new(kept.suspect.get()),
                    }),
                    None => Rc::new(CoreEndpoint {
                        id,
                        instance: instance.clone(),
                        pool: Rc::new(EndpointPool::new(&self.config, instance.address.clone())),
                        address,
                        suspect: Cell::new(false),
                    }),
                }
            })
            .collect();
        let gone = old.into_values().map(|e| e.pool.clone());
        self.retired.borrow_mut().extend(gone);
        let weights: Vec<Endpoint> = list
            .iter()
            .map(|e| Endpoint {
                id: e.id,
                weight: e.instance.weight,
            })
            .collect();
        eps.rr.set_endpoints(&weights);
        eps.wrr.set_endpoints(&weights);
        eps.p2c.set_endpoints(&weights);
        eps.ring.set_endpoints(&weights);
        eps.ejection.set_endpoints(&weights);
        eps.any_untagged = list.iter().any(|e| e.instance.tags.is_empty());
        eps.any_tagged = list.iter().any(|e| !e.instance.tags.is_empty());
        eps.list = list;
        eps.version = version;
    }

    /// Whether some instance carries a tag (as of the last refresh).
    pub(crate) fn any_tagged(&self) -> bool {
        self.endpoints.borrow().any_tagged
    }

    /// Chooses the endpoint for an attempt of a call, at `now`, among the endpoints as
    /// last refreshed (call [`refresh_endpoints`](Self::refresh_endpoints) first).
    pub(crate) fn pick(
        &self,
        choice: &Choice<'_>,
        now: Instant,
    ) -> Result<Rc<CoreEndpoint>, CallError> {
        let mut eps = self.endpoints.borrow_mut();
        if eps.list.is_empty() {
            return Err(CallError::Unavailable(format!(
                "no instance of the service is known ({})",
                self.config.target
            )));
        }
        let policy = &choice.state.policy;
        // Which group of instances: the call's route tag if some instance carries it,
        // else a gray split's tag by weight, else the stable (untagged) set.
        let tagged = |tag: &str| eps.list.iter().any(|e| e.instance.has_tag(tag));
        let mut group: Option<&str> = choice.route_tag.filter(|t| tagged(t));
        if group.is_none() && choice.route_tag.is_none() && !policy.weights.is_empty() {
            let key = choice.hash_key.unwrap_or_else(|| self.random());
            group = policy
                .split
                .route(key)
                .map(|i| &*policy.weights[i].0)
                .filter(|t| tagged(t));
        }
        let breakers = choice.state.breakers.borrow();
        let Endpoints {
            list,
            any_untagged,
            rr,
            wrr,
            p2c,
            ring,
            ejection,
            ..
        } = &mut *eps;
        let key_hash = choice.hash_key.unwrap_or(0);
        let mut strict = [true, true, true];
        // Relax in order: the endpoint to avoid, then ejection and connection health; an
        // open breaker never.
        for pass in 0..4 {
            let group = if pass == 3 { None } else { group };
            if pass == 1 {
                strict[0] = false;
            } else if pass == 2 {
                strict[1] = false;
            }
            let in_group = |e: &CoreEndpoint| match group {
                Some(tag) => e.instance.has_tag(tag),
                None => !*any_untagged || e.instance.tags.is_empty(),
            };
            let available = |i: usize| {
                let e = &list[i];
                in_group(e)
                    && (!strict[0] || Some(e.id) != choice.avoid)
                    && (!strict[1] || (ejection.is_available(i, now) && e.pool.accepting(now)))
                    && breakers
                        .get(&e.id)
                        .is_none_or(|b| b.state(now) != BreakerState::Open)
            };
            let picked = match policy.load_balance {
                LoadBalance::RoundRobin => rr.pick(available),
                LoadBalance::WeightedRoundRobin => wrr.pick(available),
                LoadBalance::PowerOfTwoChoices => p2c.pick(available),
                LoadBalance::ConsistentHash => ring.pick(key_hash, available),
            };
            if let Some(i) = picked {
                return Ok(list[i].clone());
            }
        }
        let open = list
            .iter()
            .filter(|e| {
                breakers
                    .get(&e.id)
                    .is_some_and(|b| b.state(now) == BreakerState::Open)
            })
            .count();
        Err(CallError::Unavailable(if open > 0 {
            format!(
                "every instance of {} that could take `{}` has its circuit breaker open ({open} of {})",
                self.config.target,
                choice.method.name,
                list.len()
            )
        } else {
            format!(
                "no instance of {} can take the call (of {} known, none has a non-zero weight)",
                self.config.target,
                list.len()
            )
        }))
    }

    /// Records how an attempt on `endpoint` went, for outlier ejection. A success of an
    /// endpoint whose last attempt succeeded changes nothing and costs nothing.
    pub(crate) fn report(&self, endpoint: &CoreEndpoint, failed: bool) {
        if !failed && !endpoint.suspect.get() {
            return;
        }
        endpoint.suspect.set(failed);
        let now = Instant::now();
        let mut eps = self.endpoints.borrow_mut();
        let Some(index) = eps.list.iter().position(|e| e.id == endpoint.id) else {
            return;
        };
        if failed {
            if let Some(length) = eps.ejection.record_failure(index, now) {
                tracing::warn!(
                    peer = endpoint.address(),
                    ejected_ms = length.as_millis() as u64,
                    "instance ejected after consecutive failures"
                );
            }
        } else {
            eps.ejection.record_success(index);
        }
    }

    /// Counts an attempt starting on `endpoint` for power-of-two-choices balancing; the
    /// guard counts it finished (with its latency) or abandoned.
    pub(crate) fn p2c_start(self: &Rc<Self>, endpoint: &CoreEndpoint) -> P2cCall {
        let mut eps = self.endpoints.borrow_mut();
        let call = eps
            .list
            .iter()
            .position(|e| e.id == endpoint.id)
            .and_then(|index| eps.p2c.start(index));
        P2cCall {
            core: self.clone(),
            call,
            started: Instant::now(),
        }
    }

    /// Calls in flight on every endpoint.
    pub(crate) fn in_flight(&self) -> usize {
        self.endpoints
            .borrow()
            .list
            .iter()
            .map(|e| e.pool.in_flight())
            .sum()
    }

    /// Connections and connection attempts of every endpoint.
    pub(crate) fn stats(&self) -> ClientStats {
        let mut stats = ClientStats {
            connections: Vec::new(),
            connects: 0,
            connect_failures: 0,
            evicted: 0,
        };
        for e in &self.endpoints.borrow().list {
            let s = e.pool.stats();
            stats.connections.extend(s.connections);
            stats.connects += s.connects;
            stats.connect_failures += s.connect_failures;
            stats.evicted += s.evicted;
        }
        stats
    }

    /// The pool of the first instance, for opening a connection eagerly.
    pub(crate) fn first_pool(&self) -> Option<Rc<EndpointPool>> {
        self.refresh_endpoints();
        self.endpoints.borrow().list.first().map(|e| e.pool.clone())
    }

    fn sweep(&self) {
        if let Some(idle) = self.config.settings.pool.idle_timeout {
            for e in &self.endpoints.borrow().list {
                e.pool.evict_idle(idle);
            }
        }
        self.refresh_endpoints();
        self.retired
            .borrow_mut()
            .retain(|pool| !pool.close_idle("the instance is no longer discovered"));
    }

    fn close(&self, why: &str) {
        for e in &self.endpoints.borrow().list {
            e.pool.close_all(why);
        }
        for pool in self.retired.borrow_mut().drain(..) {
            pool.close_all(why);
        }
    }

    fn abort(&self, why: &str) {
        for e in &self.endpoints.borrow().list {
            e.pool.abort_all(why);
        }
        for pool in self.retired.borrow_mut().drain(..) {
            pool.abort_all(why);
        }
    }
}

/// An attempt counted in flight by the power-of-two-choices balancer.
pub(crate) struct P2cCall {
    core: Rc<CoreClient>,
    call: Option<InFlight>,
    started: Instant,
}

impl P2cCall {
    /// The attempt ended: its latency feeds the endpoint's estimate (a failure's too, so
    /// an endpoint that fails fast does not look attractive for long).
    pub(crate) fn finish(mut self) {
        if let Some(call) = self.call.take() {
            let now = Instant::now();
            let latency = now.saturating_duration_since(self.started);
            self.core
                .endpoints
                .borrow_mut()
                .p2c
                .finish(call, latency, now);
        }
    }
}

impl Drop for P2cCall {
    fn drop(&mut self) {
        // Cancelled (a backup request won): no latency worth learning from.
        if let Some(call) = self.call.take() {
            self.core.endpoints.borrow_mut().p2c.abandon(call);
        }
    }
}

/// A seed for a per-core random generator (jitter, sampling): distinct per client,
/// process, core and start.
pub(crate) fn random_seed(client_id: u64) -> u64 {
    client_id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
        ^ (crate::rt::current_core().unwrap_or(0) as u64) << 32
}

/// The policy of `method` for `config`'s client now: IDL, builder options, live overrides.
pub(crate) fn resolve_policy(
    config: &ClientConfig,
    method: &'static MethodInfo,
    previous: Option<&MethodPolicy>,
) -> MethodPolicy {
    let settings = &config.settings;
    let live = config.live.as_ref().map(|l| l.current());
    let none = Overrides::new();
    let layers = Layers {
        default_timeout: settings.timeout,
        default_connect_timeout: settings.connect_timeout,
        builder: &settings.overrides,
        live: live.as_deref().unwrap_or(&none),
    };
    MethodPolicy::resolve_or_keep(method, layers, previous)
}

fn budget_for(policy: &MethodPolicy) -> RetryBudget {
    RetryBudget::new(policy.retry_budget_percent, 10, Duration::from_secs(10))
}

/// What the balancer needs to know about a call.
pub(crate) struct Choice<'a> {
    pub(crate) method: &'static MethodInfo,
    pub(crate) state: &'a MethodState,
    /// The call's route tag (gray release), from its metadata.
    pub(crate) route_tag: Option<&'a str>,
    /// The hash of the call's `load_balance.hash_key` metadata value.
    pub(crate) hash_key: Option<u64>,
    /// The endpoint the previous attempt failed on.
    pub(crate) avoid: Option<u64>,
}

/// The client's housekeeping task on one core: evicts idle connections, closes those of
/// instances no longer discovered, and retires the core's state (closing its connections)
/// once every handle of the client is gone.
async fn sweep(core: RcWeak<CoreClient>, handles: Weak<()>) {
    struct Retire(RcWeak<CoreClient>);
    impl Drop for Retire {
        fn drop(&mut self) {
            if let Some(core) = self.0.upgrade() {
                core.alive.set(false);
            }
        }
    }
    let _retire = Retire(core.clone());
    loop {
        let Some(period) = core.upgrade().map(|c| sweep_period(&c.config)) else {
            return;
        };
        monoio::time::sleep(period).await;
        let Some(core) = core.upgrade() else {
            return;
        };
        if handles.strong_count() == 0 {
            // The client is gone: close this core's connections and forget its state.
            core.close("the client was dropped");
            core.alive.set(false);
            let id = core.config.id;
            SHARD.with(|shard| shard.borrow_mut().remove(&id));
            return;
        }
        core.sweep();
    }
}
