//! Load balancing: which endpoint a call goes to. [`WeightedRoundRobin`] (nginx's smooth
//! weighted round-robin), [`PowerOfTwoChoices`] (the less loaded of two random endpoints,
//! load = latency EWMA × (in-flight + 1)) and [`HashRing`] (ketama-style consistent hashing
//! of a request key); beside them [`Ejection`] (outlier ejection after consecutive
//! failures) and [`TrafficSplit`] (gray release by `weight.<tag>` percentages).
//!
//! Balancers are built from a slice of [`Endpoint`]s and name endpoints by their index in
//! it. Each `pick` takes an `is_available(index)` closure, asked about the endpoints it
//! considers: that is where ejection, tag routing and connection health compose, e.g.
//! `wrr.pick(|i| ejection.is_available(i, now) && group_of[i] == tag)`. It must answer
//! consistently during one `pick`. Picking never allocates; building and
//! `set_endpoints` (membership changes) do. State that belongs to an endpoint (load
//! statistics, ejections) follows its [`Endpoint::id`] across membership changes.

use std::time::{Duration, Instant};

use super::{PolicyError, count_in, mix64, random_below, splitmix64};

/// One endpoint as the balancers see it. Addresses, tags and connections live elsewhere,
/// in a list indexed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Stable identity, e.g. [`hash_bytes`] of the address. State follows it across
    /// membership changes, and the hash ring places the endpoint by it.
    pub id: u64,
    /// Relative share of calls. 0 drains the endpoint: it is never picked.
    pub weight: u32,
}

/// A 64-bit hash of `bytes` (a request key, an address): FNV-1a, then splitmix64's
/// finalizer so that every output bit depends on every input byte (plain FNV-1a leaves
/// short, similar keys clustered in the high bits, which a hash ring compares first).
/// Stable across runs and platforms.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    mix64(fnv1a64(bytes))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The `load_balance` strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadBalance {
    /// Every endpoint with a non-zero weight in turn ([`WeightedRoundRobin::unweighted`]).
    RoundRobin,
    /// In proportion to weights, smoothly interleaved ([`WeightedRoundRobin::new`]).
    #[default]
    WeightedRoundRobin,
    /// The less loaded of two random endpoints ([`PowerOfTwoChoices`]).
    PowerOfTwoChoices,
    /// The owner of a request key's hash on a ring ([`HashRing`]); the key is the request
    /// metadata named by `load_balance.hash_key`.
    ConsistentHash,
}

impl LoadBalance {
    /// The words `load_balance` accepts, in [`LoadBalance`] order.
    pub const CHOICES: &'static [&'static str] = ringrpc_policy_keys::LOAD_BALANCE_CHOICES;

    /// The strategy a `load_balance` value names.
    pub fn from_policy(word: &str) -> Result<Self, PolicyError> {
        match word {
            "round_robin" => Ok(Self::RoundRobin),
            "weighted_round_robin" => Ok(Self::WeightedRoundRobin),
            "p2c" => Ok(Self::PowerOfTwoChoices),
            "consistent_hash" => Ok(Self::ConsistentHash),
            _ => Err(PolicyError::UnknownChoice {
                key: "load_balance",
                found: word.to_owned(),
                choices: Self::CHOICES,
            }),
        }
    }

    /// The `load_balance` word for this strategy.
    pub fn policy_name(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::WeightedRoundRobin => "weighted_round_robin",
            Self::PowerOfTwoChoices => "p2c",
            Self::ConsistentHash => "consistent_hash",
        }
    }
}

/// Gray release: sends `weight.<tag>` percent of calls to the endpoints tagged `<tag>`, the
/// rest to the untagged ones. By hash of a request key, so a given user stays on one side
/// (pass a fresh [`splitmix64`] draw instead for a random split). Growing a lone tag's
/// percentage keeps the keys it already had.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrafficSplit {
    /// For tag `i`, the end (exclusive, in percent points `0..=100`) of its slice.
    slice_ends: Vec<u8>,
}

impl TrafficSplit {
    /// A split from each tag's `weight.<tag>` (`0..=100`), tags in the caller's order;
    /// the percentages must add up to at most 100.
    pub fn from_policy(percents: &[u64]) -> Result<Self, PolicyError> {
        let mut slice_ends = Vec::with_capacity(percents.len());
        let mut total = 0u64;
        for &percent in percents {
            total = total.saturating_add(count_in("weight.<tag>", Some(percent), 0, 100, 0)?);
            if total > 100 {
                let total = percents.iter().fold(0u64, |sum, &p| sum.saturating_add(p));
                return Err(PolicyError::WeightsOver100 { total });
            }
            slice_ends.push(total as u8);
        }
        Ok(Self { slice_ends })
    }

    /// The tag (index into the percentages given) a call with `key_hash` goes to, or
    /// `None` for the untagged endpoints. The hash is scrambled first, so routing stays
    /// independent of where the same key lands on a [`HashRing`].
    pub fn route(&self, key_hash: u64) -> Option<usize> {
        let point = ((u128::from(mix64(key_hash)) * 100) >> 64) as u8;
        self.slice_ends.iter().position(|&end| point < end)
    }
}

/// For each endpoint, `make(endpoint, its previous state if its id was present)`.
fn carry_by_id<S: Clone>(
    old: &[S],
    id_of: impl Fn(&S) -> u64,
    endpoints: &[Endpoint],
    mut make: impl FnMut(&Endpoint, Option<&S>) -> S,
) -> Vec<S> {
    let mut by_id: Vec<(u64, usize)> = old.iter().enumerate().map(|(i, s)| (id_of(s), i)).collect();
    by_id.sort_unstable();
    endpoints
        .iter()
        .map(|e| {
            let previous = by_id
                .binary_search_by_key(&e.id, |&(id, _)| id)
                .ok()
                .map(|k| &old[by_id[k].1]);
            make(e, previous)
        })
        .collect()
}

/// nginx's smooth weighted round-robin: each pick adds every candidate's weight to its
/// running score, takes the highest (lowest index on ties) and subtracts the candidates'
/// total from it. Over any `Σ weights` consecutive picks with the same candidates, each
/// endpoint is picked exactly `weight` times, interleaved rather than in runs
/// (5, 1, 1 → a a b a c a a).
#[derive(Debug, Clone)]
pub struct WeightedRoundRobin {
    weights: Vec<i64>,
    scores: Vec<i64>,
    ignore_weights: bool,
}

impl WeightedRoundRobin {
    /// Weighted round-robin over `endpoints`.
    pub fn new(endpoints: &[Endpoint]) -> Self {
        Self::build(endpoints, false)
    }

    /// Plain round-robin: every endpoint with a non-zero weight counts as weight 1.
    pub fn unweighted(endpoints: &[Endpoint]) -> Self {
        Self::build(endpoints, true)
    }

    fn build(endpoints: &[Endpoint], ignore_weights: bool) -> Self {
        let mut wrr = Self {
            weights: Vec::new(),
            scores: Vec::new(),
            ignore_weights,
        };
        wrr.set_endpoints(endpoints);
        wrr
    }

    /// Replaces the endpoints (a membership or weight change); the cycle restarts.
    pub fn set_endpoints(&mut self, endpoints: &[Endpoint]) {
        let ignore = self.ignore_weights;
        self.weights.clear();
        self.weights
            .extend(endpoints.iter().map(|e| match e.weight {
                0 => 0,
                _ if ignore => 1,
                w => i64::from(w),
            }));
        self.scores.clear();
        self.scores.resize(endpoints.len(), 0);
    }

    /// The next endpoint among those with a non-zero weight for which `is_available`
    /// holds; `None` if there is none.
    pub fn pick(&mut self, mut is_available: impl FnMut(usize) -> bool) -> Option<usize> {
        let mut total = 0i64;
        let mut best: Option<(usize, i64)> = None;
        for (i, (&weight, score)) in self.weights.iter().zip(&mut self.scores).enumerate() {
            if weight == 0 || !is_available(i) {
                continue;
            }
            *score = score.saturating_add(weight);
            total = total.saturating_add(weight);
            if best.is_none_or(|(_, best_score)| *score > best_score) {
                best = Some((i, *score));
            }
        }
        let (best, _) = best?;
        self.scores[best] = self.scores[best].saturating_sub(total);
        Some(best)
    }
}

/// Tuning of [`PowerOfTwoChoices`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P2cConfig {
    /// Time constant of the latency EWMA: a sample's weight in the average falls by a
    /// factor e for every `decay` that passes before the next sample.
    pub decay: Duration,
    /// The latency assumed for an endpoint not yet observed.
    pub default_latency: Duration,
}

impl Default for P2cConfig {
    /// A 10 s time constant; 10 ms for unobserved endpoints.
    fn default() -> Self {
        Self {
            decay: Duration::from_secs(10),
            default_latency: Duration::from_millis(10),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Load {
    id: u64,
    weight: u32,
    /// Latency EWMA in nanoseconds; meaningful once `observed_at` is set.
    latency_nanos: f64,
    observed_at: Option<Instant>,
    in_flight: u32,
}

/// A call in flight on an endpoint, from [`PowerOfTwoChoices::start`]; hand it back to
/// [`PowerOfTwoChoices::finish`] or [`PowerOfTwoChoices::abandon`]. It remembers the
/// endpoint's id, so it finds the endpoint again after a membership change.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "finish or abandon the call, or the endpoint looks busy forever"]
pub struct InFlight {
    index: usize,
    id: u64,
}

/// Power of two choices: draws two distinct available endpoints at random and takes the
/// one with the lower load score, `latency EWMA × (in-flight + 1)`. Cheap, needs no global
/// view, and steers away from slow or congested endpoints without herding onto the single
/// best one. Zero-weight endpoints are never picked; other weights are not used.
#[derive(Debug, Clone)]
pub struct PowerOfTwoChoices {
    loads: Vec<Load>,
    config: P2cConfig,
    rng: u64,
}

impl PowerOfTwoChoices {
    /// A balancer over `endpoints`; `seed` starts its random draws.
    pub fn new(endpoints: &[Endpoint], config: P2cConfig, seed: u64) -> Self {
        let mut p2c = Self {
            loads: Vec::new(),
            config,
            rng: seed,
        };
        p2c.set_endpoints(endpoints);
        p2c
    }

    /// Replaces the endpoints; those whose id was already present keep their latency
    /// estimate and in-flight count.
    pub fn set_endpoints(&mut self, endpoints: &[Endpoint]) {
        self.loads = carry_by_id(
            &self.loads,
            |l| l.id,
            endpoints,
            |e, previous| match previous {
                Some(l) => Load {
                    weight: e.weight,
                    ..*l
                },
                None => Load {
                    id: e.id,
                    weight: e.weight,
                    latency_nanos: 0.0,
                    observed_at: None,
                    in_flight: 0,
                },
            },
        );
    }

    /// The less loaded of two random candidates (endpoints with a non-zero weight for
    /// which `is_available` holds); the only candidate if there is one; `None` if none.
    pub fn pick(&mut self, mut is_available: impl FnMut(usize) -> bool) -> Option<usize> {
        let loads = &self.loads;
        let mut candidate = |i: usize| loads[i].weight > 0 && is_available(i);
        let count = (0..loads.len()).filter(|&i| candidate(i)).count() as u64;
        if count <= 1 {
            return (0..loads.len()).find(|&i| candidate(i));
        }
        let first = random_below(&mut self.rng, count);
        let mut second = random_below(&mut self.rng, count - 1);
        if second >= first {
            second += 1;
        }
        let (mut a, mut b) = (None, None);
        let mut rank = 0;
        for i in 0..loads.len() {
            if !candidate(i) {
                continue;
            }
            if rank == first {
                a = Some(i);
            }
            if rank == second {
                b = Some(i);
            }
            rank += 1;
        }
        match (a, b) {
            (Some(a), Some(b)) if self.load_score(b) < self.load_score(a) => Some(b),
            (a, b) => a.or(b),
        }
    }

    /// Counts a call starting on endpoint `index` (`None` if there is no such endpoint).
    pub fn start(&mut self, index: usize) -> Option<InFlight> {
        let load = self.loads.get_mut(index)?;
        load.in_flight = load.in_flight.saturating_add(1);
        Some(InFlight { index, id: load.id })
    }

    /// Counts `call` as finished after `latency`, at `now`, and feeds the latency to the
    /// endpoint's EWMA. For failures, pass a latency that reflects their cost (e.g. the
    /// timeout), or a fast-failing endpoint will look attractive.
    pub fn finish(&mut self, call: InFlight, latency: Duration, now: Instant) {
        if let Some(index) = self.resolve(&call) {
            self.loads[index].in_flight = self.loads[index].in_flight.saturating_sub(1);
            self.observe(index, latency, now);
        }
    }

    /// Counts `call` as finished without a latency worth learning from (cancelled).
    pub fn abandon(&mut self, call: InFlight) {
        if let Some(index) = self.resolve(&call) {
            self.loads[index].in_flight = self.loads[index].in_flight.saturating_sub(1);
        }
    }

    /// Feeds a latency sample of endpoint `index`, taken at `now`, to its EWMA: the old
    /// average keeps weight `e^(−elapsed / decay)`, where `elapsed` is the time since the
    /// previous sample. The first sample is taken as is. Samples at the same instant as
    /// the previous one do not move the average.
    pub fn observe(&mut self, index: usize, latency: Duration, now: Instant) {
        let decay = self.config.decay.as_secs_f64();
        let Some(load) = self.loads.get_mut(index) else {
            return;
        };
        let sample = latency.as_nanos() as f64;
        load.latency_nanos = match load.observed_at {
            None => sample,
            Some(at) => {
                let elapsed = now.saturating_duration_since(at).as_secs_f64();
                let keep = if decay > 0.0 {
                    (-elapsed / decay).exp()
                } else {
                    0.0
                };
                load.latency_nanos * keep + sample * (1.0 - keep)
            }
        };
        load.observed_at = Some(load.observed_at.map_or(now, |at| at.max(now)));
    }

    /// Endpoint `index`'s latency estimate (`None` until observed, or no such endpoint).
    pub fn latency_estimate(&self, index: usize) -> Option<Duration> {
        let load = self.loads.get(index)?;
        load.observed_at?;
        Some(Duration::from_nanos(load.latency_nanos as u64))
    }

    /// Calls in flight on endpoint `index`.
    pub fn in_flight(&self, index: usize) -> u32 {
        self.loads.get(index).map_or(0, |l| l.in_flight)
    }

    /// Endpoint `index`'s load score in nanoseconds: latency estimate (the default for an
    /// unobserved endpoint) × (in-flight + 1). Lower is better; infinite if no such
    /// endpoint.
    pub fn load_score(&self, index: usize) -> f64 {
        let Some(load) = self.loads.get(index) else {
            return f64::INFINITY;
        };
        let latency = match load.observed_at {
            Some(_) => load.latency_nanos,
            None => self.config.default_latency.as_nanos() as f64,
        };
        latency * (f64::from(load.in_flight) + 1.0)
    }

    /// Where `call`'s endpoint is now: its old index if the id still matches, else found
    /// by id (a membership change happened meanwhile), else gone.
    fn resolve(&self, call: &InFlight) -> Option<usize> {
        match self.loads.get(call.index) {
            Some(l) if l.id == call.id => Some(call.index),
            _ => self.loads.iter().position(|l| l.id == call.id),
        }
    }
}

/// Ring points per unit of weight.
pub const POINTS_PER_WEIGHT: u64 = 160;

/// Bound on the points of one ring (16 bytes each). When `POINTS_PER_WEIGHT × weight`
/// summed over the endpoints exceeds it, every endpoint's count is halved (rounding up, so
/// each keeps at least one) until it fits; halving rather than exact rescaling keeps the
/// point sets, and so the key assignment, stable under most membership changes.
pub const MAX_RING_POINTS: u64 = 1 << 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RingPoint {
    hash: u64,
    index: usize,
}

/// Consistent hashing, ketama-style: each endpoint owns [`POINTS_PER_WEIGHT`] points per
/// unit of weight on a 64-bit ring, placed by a hash of its id alone; a key goes to the
/// owner of the first point at or after its hash (wrapping). Adding an endpoint takes over
/// only the keys now nearest its points (about its share of the weight); removing one
/// hands only its keys to the others. The ring is rebuilt only when the membership
/// changes.
#[derive(Debug, Clone, Default)]
pub struct HashRing {
    members: Vec<Endpoint>,
    points: Vec<RingPoint>,
}

impl HashRing {
    /// A ring over `endpoints`.
    pub fn new(endpoints: &[Endpoint]) -> Self {
        let mut ring = Self::default();
        ring.set_endpoints(endpoints);
        ring
    }

    /// Rebuilds the ring if `endpoints` differ from the current ones (ids, weights or
    /// order); returns whether it did.
    pub fn set_endpoints(&mut self, endpoints: &[Endpoint]) -> bool {
        if self.members == endpoints {
            return false;
        }
        self.members.clear();
        self.members.extend_from_slice(endpoints);
        let shift = Self::halvings(endpoints);
        self.points.clear();
        for (index, endpoint) in endpoints.iter().enumerate() {
            let count = Self::points_of(endpoint.weight, shift);
            let mut state = mix64(endpoint.id);
            for _ in 0..count {
                self.points.push(RingPoint {
                    hash: splitmix64(&mut state),
                    index,
                });
            }
        }
        // Ties (equal hashes) are broken by endpoint id, so the ring does not depend on
        // the order of `endpoints`.
        let members = &self.members;
        self.points
            .sort_unstable_by_key(|p| (p.hash, members[p.index].id, p.index));
        true
    }

    /// The endpoint owning `key_hash` (e.g. [`hash_bytes`] of the request key): the owner
    /// of the first point at or after it, skipping points of endpoints for which
    /// `is_available` is false (their keys fall to the next owner on the ring, the
    /// others' keys stay put). `None` if no endpoint is available.
    pub fn pick(
        &self,
        key_hash: u64,
        mut is_available: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let len = self.points.len();
        let start = self.points.partition_point(|p| p.hash < key_hash);
        (0..len)
            .map(|step| self.points[(start + step) % len].index)
            .find(|&index| is_available(index))
    }

    /// Points on the ring.
    pub fn point_count(&self) -> usize {
        self.points.len()
    }

    /// How many times every endpoint's point count is halved to respect
    /// [`MAX_RING_POINTS`].
    fn halvings(endpoints: &[Endpoint]) -> u32 {
        (0..64)
            .find(|&shift| {
                let total = endpoints.iter().fold(0u64, |sum, e| {
                    sum.saturating_add(Self::points_of(e.weight, shift))
                });
                total <= MAX_RING_POINTS
                    || endpoints
                        .iter()
                        .all(|e| Self::points_of(e.weight, shift) <= 1)
            })
            .unwrap_or(63)
    }

    /// `POINTS_PER_WEIGHT × weight`, halved `shift` times rounding up.
    fn points_of(weight: u32, shift: u32) -> u64 {
        let full = POINTS_PER_WEIGHT * u64::from(weight);
        full.div_ceil(1u64 << shift)
    }
}

/// Tuning of [`Ejection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EjectionConfig {
    /// Consecutive failures that eject an endpoint.
    pub consecutive_failures: u32,
    /// Length of a first ejection; each further one doubles it.
    pub base: Duration,
    /// Longest ejection. An endpoint that stays in for this long after being re-admitted
    /// starts again from `base` at its next ejection.
    pub max: Duration,
}

impl Default for EjectionConfig {
    /// 5 consecutive failures; 1 s, doubling up to 30 s.
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            base: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct EjectionEntry {
    id: u64,
    consecutive_failures: u32,
    /// Ejections since the last reset (the doubling exponent).
    ejections: u32,
    /// The latest ejection: when it started and how long it lasts.
    ejected: Option<(Instant, Duration)>,
}

impl EjectionEntry {
    fn is_ejected(&self, now: Instant) -> bool {
        self.ejected
            .is_some_and(|(at, length)| now.saturating_duration_since(at) < length)
    }
}

/// Outlier ejection: an endpoint that fails `consecutive_failures` calls in a row is taken
/// out of balancing for `base`, doubling with each further ejection up to `max`, and comes
/// back by itself when that passes. Balancers skip it through their `is_available`
/// closure: `|i| ejection.is_available(i, now)`.
///
/// Nothing stops every endpoint from being ejected, in which case picks return `None`;
/// the layer decides whether to fail fast or ignore ejection then.
#[derive(Debug, Clone)]
pub struct Ejection {
    config: EjectionConfig,
    entries: Vec<EjectionEntry>,
}

impl Ejection {
    /// No endpoint ejected. A `consecutive_failures` of 0 counts as 1; a `max` below `base`
    /// as `base`.
    pub fn new(endpoints: &[Endpoint], config: EjectionConfig) -> Self {
        let config = EjectionConfig {
            consecutive_failures: config.consecutive_failures.max(1),
            max: config.max.max(config.base),
            ..config
        };
        let mut ejection = Self {
            config,
            entries: Vec::new(),
        };
        ejection.set_endpoints(endpoints);
        ejection
    }

    /// Replaces the endpoints; those whose id was already present keep their state.
    pub fn set_endpoints(&mut self, endpoints: &[Endpoint]) {
        self.entries = carry_by_id(
            &self.entries,
            |e| e.id,
            endpoints,
            |e, previous| {
                previous.copied().unwrap_or(EjectionEntry {
                    id: e.id,
                    consecutive_failures: 0,
                    ejections: 0,
                    ejected: None,
                })
            },
        );
    }

    /// Whether endpoint `index` may be picked at `now` (false for an unknown index).
    pub fn is_available(&self, index: usize, now: Instant) -> bool {
        self.entries.get(index).is_some_and(|e| !e.is_ejected(now))
    }

    /// Endpoints available at `now`.
    pub fn available_count(&self, now: Instant) -> usize {
        self.entries.iter().filter(|e| !e.is_ejected(now)).count()
    }

    /// When endpoint `index`'s current ejection ends, if it is ejected at `now`.
    pub fn ejected_until(&self, index: usize, now: Instant) -> Option<Instant> {
        let entry = self.entries.get(index)?;
        let (at, length) = entry.ejected?;
        if entry.is_ejected(now) {
            at.checked_add(length)
        } else {
            None
        }
    }

    /// Records a successful call on endpoint `index`: its failure streak ends.
    pub fn record_success(&mut self, index: usize) {
        if let Some(entry) = self.entries.get_mut(index) {
            entry.consecutive_failures = 0;
        }
    }

    /// Records a failed call on endpoint `index` at `now`; returns the ejection's length if
    /// this failure ejected it. Failures while ejected (calls sent before) are ignored.
    pub fn record_failure(&mut self, index: usize, now: Instant) -> Option<Duration> {
        let config = self.config;
        let entry = self.entries.get_mut(index)?;
        if entry.is_ejected(now) {
            return None;
        }
        entry.consecutive_failures = entry.consecutive_failures.saturating_add(1);
        if entry.consecutive_failures < config.consecutive_failures {
            return None;
        }
        if let Some((at, length)) = entry.ejected {
            let back_for = now.saturating_duration_since(at).saturating_sub(length);
            if back_for >= config.max {
                entry.ejections = 0;
            }
        }
        let length = config
            .base
            .saturating_mul(1 << entry.ejections.min(31))
            .min(config.max);
        entry.ejections = entry.ejections.saturating_add(1);
        entry.consecutive_failures = 0;
        entry.ejected = Some((now, length));
        Some(length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    fn endpoints(weights: &[u32]) -> Vec<Endpoint> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| Endpoint {
                id: hash_bytes(format!("10.0.0.{i}:9090").as_bytes()),
                weight,
            })
            .collect()
    }

    fn all(_: usize) -> bool {
        true
    }

    // ---- hashing and policy words ----

    #[test]
    fn fnv1a_matches_the_reference_vectors_and_hash_bytes_scrambles_it() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(hash_bytes(b"a"), mix64(0xaf63_dc4c_8601_ec8c));
        assert_ne!(hash_bytes(b"user-1"), hash_bytes(b"user-2"));
        // Similar short keys differ in their top bits (the ring compares those first).
        let tops: std::collections::HashSet<u64> = (0..100)
            .map(|i| hash_bytes(format!("k{i}").as_bytes()) >> 58)
            .collect();
        assert!(tops.len() > 40, "{}", tops.len());
    }

    #[test]
    fn load_balance_words_round_trip_and_unknown_ones_are_refused() {
        for &word in LoadBalance::CHOICES {
            assert_eq!(LoadBalance::from_policy(word).unwrap().policy_name(), word);
        }
        assert_eq!(LoadBalance::default(), LoadBalance::WeightedRoundRobin);
        let err = LoadBalance::from_policy("random").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`load_balance` takes one of round_robin, weighted_round_robin, p2c, \
             consistent_hash, found `random`"
        );
    }

    // ---- traffic split ----

    #[test]
    fn traffic_split_refuses_percentages_over_100() {
        assert_eq!(
            TrafficSplit::from_policy(&[60, 50]),
            Err(PolicyError::WeightsOver100 { total: 110 })
        );
        assert!(matches!(
            TrafficSplit::from_policy(&[101]),
            Err(PolicyError::OutOfRange {
                key: "weight.<tag>",
                ..
            })
        ));
        assert!(TrafficSplit::from_policy(&[]).is_ok());
        assert!(TrafficSplit::from_policy(&[100, 0]).is_ok());
    }

    #[test]
    fn traffic_split_routes_the_configured_shares_by_key() {
        let split = TrafficSplit::from_policy(&[30, 20]).unwrap();
        let mut counts = [0u32; 3];
        for key in 0..10_000u64 {
            match split.route(hash_bytes(&key.to_le_bytes())) {
                Some(tag) => counts[tag] += 1,
                None => counts[2] += 1,
            }
        }
        for (count, expected) in counts.iter().zip([3000, 2000, 5000]) {
            assert!(count.abs_diff(expected) < 250, "{counts:?}");
        }
        let nothing = TrafficSplit::from_policy(&[0]).unwrap();
        let everything = TrafficSplit::from_policy(&[100]).unwrap();
        let empty = TrafficSplit::from_policy(&[]).unwrap();
        for key in 0..1000u64 {
            assert_eq!(nothing.route(key), None);
            assert_eq!(everything.route(key), Some(0));
            assert_eq!(empty.route(key), None);
        }
    }

    #[test]
    fn growing_a_canary_keeps_the_users_it_already_had() {
        let ten = TrafficSplit::from_policy(&[10]).unwrap();
        let twenty = TrafficSplit::from_policy(&[20]).unwrap();
        let mut kept = 0;
        for key in 0..10_000u64 {
            let h = hash_bytes(&key.to_le_bytes());
            if ten.route(h) == Some(0) {
                assert_eq!(twenty.route(h), Some(0));
                kept += 1;
            }
        }
        assert!(kept > 800, "{kept}");
    }

    // ---- weighted round-robin ----

    #[test]
    fn smooth_wrr_interleaves_like_nginx() {
        let mut wrr = WeightedRoundRobin::new(&endpoints(&[5, 1, 1]));
        let picks: Vec<usize> = (0..14).filter_map(|_| wrr.pick(all)).collect();
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn zero_weights_empty_sets_and_unavailable_endpoints_are_never_picked() {
        let mut wrr = WeightedRoundRobin::new(&endpoints(&[0, 2, 0, 1]));
        for _ in 0..30 {
            let pick = wrr.pick(all).unwrap();
            assert!(pick == 1 || pick == 3);
        }
        assert_eq!(WeightedRoundRobin::new(&endpoints(&[0, 0])).pick(all), None);
        assert_eq!(WeightedRoundRobin::new(&[]).pick(all), None);
        assert_eq!(wrr.pick(|_| false), None);
        for _ in 0..10 {
            assert_eq!(wrr.pick(|i| i != 1), Some(3));
        }
    }

    #[test]
    fn an_unavailable_endpoint_returning_gets_its_share_again() {
        let mut wrr = WeightedRoundRobin::new(&endpoints(&[1, 1, 2]));
        for _ in 0..7 {
            wrr.pick(|i| i != 2);
        }
        let mut counts = [0u32; 3];
        for _ in 0..400 {
            counts[wrr.pick(all).unwrap()] += 1;
        }
        assert!(
            counts[0].abs_diff(100) <= 2 && counts[2].abs_diff(200) <= 2,
            "{counts:?}"
        );
    }

    #[test]
    fn unweighted_round_robin_alternates_over_non_zero_weights() {
        let mut rr = WeightedRoundRobin::unweighted(&endpoints(&[5, 0, 2]));
        let picks: Vec<usize> = (0..6).filter_map(|_| rr.pick(all)).collect();
        assert_eq!(picks, [0, 2, 0, 2, 0, 2]);
        rr.set_endpoints(&endpoints(&[9, 9, 9]));
        let picks: Vec<usize> = (0..6).filter_map(|_| rr.pick(all)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn huge_weights_do_not_overflow() {
        let mut wrr = WeightedRoundRobin::new(&endpoints(&[u32::MAX, u32::MAX, 1]));
        for _ in 0..1000 {
            assert!(wrr.pick(all).is_some());
        }
    }

    proptest! {
        #[test]
        fn wrr_picks_each_endpoint_exactly_its_weight_per_cycle(
            weights in proptest::collection::vec(0u32..12, 0..10),
            cycles in 1usize..3,
        ) {
            let mut wrr = WeightedRoundRobin::new(&endpoints(&weights));
            let total: u32 = weights.iter().sum();
            if total == 0 {
                prop_assert_eq!(wrr.pick(all), None);
                return Ok(());
            }
            for _ in 0..cycles {
                let mut counts = vec![0u32; weights.len()];
                for _ in 0..total {
                    counts[wrr.pick(all).unwrap()] += 1;
                }
                prop_assert_eq!(&counts, &weights);
            }
        }
    }

    // ---- power of two choices ----

    fn p2c(weights: &[u32]) -> PowerOfTwoChoices {
        PowerOfTwoChoices::new(&endpoints(weights), P2cConfig::default(), 1)
    }

    #[test]
    fn of_two_endpoints_the_faster_always_wins() {
        let t0 = Instant::now();
        let mut lb = p2c(&[1, 1]);
        lb.observe(0, 50 * MS, t0);
        lb.observe(1, 5 * MS, t0);
        for _ in 0..100 {
            assert_eq!(lb.pick(all), Some(1));
        }
    }

    #[test]
    fn the_most_loaded_of_three_is_never_picked_and_the_others_share() {
        let t0 = Instant::now();
        let mut lb = p2c(&[1, 1, 1]);
        for i in 0..3 {
            lb.observe(i, 10 * MS, t0);
        }
        let _busy: Vec<InFlight> = (0..3).filter_map(|_| lb.start(2)).collect();
        assert_eq!(lb.in_flight(2), 3);
        assert_eq!(lb.load_score(2), 4.0 * 10e6);
        let mut counts = [0u32; 3];
        for _ in 0..3000 {
            counts[lb.pick(all).unwrap()] += 1;
        }
        assert_eq!(counts[2], 0, "{counts:?}");
        // Equal scores: the random order of the two draws breaks ties evenly.
        assert!(counts[0].abs_diff(1500) < 150, "{counts:?}");
    }

    #[test]
    fn equal_endpoints_share_calls_evenly() {
        let mut lb = p2c(&[1, 1, 1, 1]);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[lb.pick(all).unwrap()] += 1;
        }
        assert!(counts.iter().all(|c| c.abs_diff(1000) < 120), "{counts:?}");
    }

    #[test]
    fn the_ewma_moves_by_the_time_constant() {
        let t0 = Instant::now();
        let mut lb = p2c(&[1]);
        assert_eq!(lb.latency_estimate(0), None);
        assert_eq!(lb.load_score(0), 10e6, "default latency");
        lb.observe(0, 100 * MS, t0);
        assert_eq!(lb.latency_estimate(0), Some(100 * MS));
        lb.observe(0, 10 * MS, t0);
        assert_eq!(
            lb.latency_estimate(0),
            Some(100 * MS),
            "same instant: no weight"
        );
        lb.observe(0, 10 * MS, t0 + 10 * SEC);
        // 100 × e^-1 + 10 × (1 − e^-1) = 43.11 ms
        let estimate = lb.latency_estimate(0).unwrap().as_secs_f64() * 1000.0;
        assert!((estimate - 43.109).abs() < 0.01, "{estimate}");
        // A long silence makes the next sample almost the whole estimate.
        lb.observe(0, 10 * MS, t0 + 1000 * SEC);
        let estimate = lb.latency_estimate(0).unwrap().as_secs_f64() * 1000.0;
        assert!((estimate - 10.0).abs() < 0.001, "{estimate}");
        // A clock going backwards counts as no time passing.
        lb.observe(0, 500 * MS, t0);
        assert!(lb.latency_estimate(0).unwrap() < 11 * MS);
    }

    #[test]
    fn a_zero_time_constant_keeps_only_the_latest_sample() {
        let t0 = Instant::now();
        let config = P2cConfig {
            decay: Duration::ZERO,
            ..P2cConfig::default()
        };
        let mut lb = PowerOfTwoChoices::new(&endpoints(&[1]), config, 0);
        lb.observe(0, 100 * MS, t0);
        lb.observe(0, 7 * MS, t0);
        assert_eq!(lb.latency_estimate(0), Some(7 * MS));
        lb.observe(0, Duration::MAX, t0);
        assert!(
            lb.latency_estimate(0).is_some(),
            "no panic on absurd samples"
        );
    }

    #[test]
    fn p2c_skips_unavailable_and_zero_weight_endpoints() {
        let mut lb = p2c(&[1, 0, 1, 1]);
        for _ in 0..50 {
            assert_eq!(lb.pick(|i| i == 2), Some(2), "the only candidate");
            let pick = lb.pick(all).unwrap();
            assert_ne!(pick, 1);
        }
        assert_eq!(lb.pick(|_| false), None);
        assert_eq!(lb.pick(|i| i == 1), None, "zero weight");
        assert_eq!(p2c(&[]).pick(all), None);
    }

    #[test]
    fn in_flight_calls_follow_their_endpoint_across_membership_changes() {
        let t0 = Instant::now();
        let eps = endpoints(&[1, 1, 1]);
        let mut lb = PowerOfTwoChoices::new(&eps, P2cConfig::default(), 3);
        let call = lb.start(2).unwrap();
        lb.observe(2, 20 * MS, t0);
        // Endpoint 0 leaves: the call's endpoint is now index 1.
        lb.set_endpoints(&eps[1..]);
        assert_eq!(lb.in_flight(1), 1);
        assert_eq!(lb.latency_estimate(1), Some(20 * MS));
        lb.finish(call, 40 * MS, t0 + 10 * SEC);
        assert_eq!(lb.in_flight(1), 0);
        assert!(lb.latency_estimate(1).unwrap() > 20 * MS);
        // A call whose endpoint left is dropped quietly.
        let gone = lb.start(0).unwrap();
        lb.set_endpoints(&eps[2..]);
        lb.abandon(gone);
        assert_eq!(lb.in_flight(0), 0);
        assert!(lb.start(5).is_none());
        lb.observe(5, MS, t0);
        assert_eq!(lb.load_score(5), f64::INFINITY);
    }

    // ---- consistent hashing ----

    fn owners(ring: &HashRing, eps: &[Endpoint], keys: u64) -> Vec<Option<u64>> {
        (0..keys)
            .map(|k| ring.pick(mix64(k), all).map(|i| eps[i].id))
            .collect()
    }

    #[test]
    fn a_key_always_lands_on_the_same_endpoint_whatever_the_list_order() {
        let eps = endpoints(&[1, 1, 1, 1, 1]);
        let ring = HashRing::new(&eps);
        assert_eq!(ring.point_count(), 5 * 160);
        let mut reversed = eps.clone();
        reversed.reverse();
        let ring_reversed = HashRing::new(&reversed);
        assert_eq!(
            owners(&ring, &eps, 2000),
            owners(&ring_reversed, &reversed, 2000)
        );
        assert_eq!(ring.pick(12345, all), ring.pick(12345, all));
        assert!(ring.pick(u64::MAX, all).is_some(), "wraps around");
        assert!(ring.pick(0, all).is_some());
    }

    #[test]
    fn empty_zero_weight_and_all_unavailable_rings_pick_nothing() {
        assert_eq!(HashRing::new(&[]).pick(1, all), None);
        let zero = HashRing::new(&endpoints(&[0, 0]));
        assert_eq!(zero.point_count(), 0);
        assert_eq!(zero.pick(1, all), None);
        let ring = HashRing::new(&endpoints(&[1, 0, 1]));
        for k in 0..2000 {
            assert_ne!(ring.pick(mix64(k), all), Some(1));
        }
        assert_eq!(ring.pick(7, |_| false), None);
    }

    #[test]
    fn an_unavailable_endpoint_hands_over_only_its_own_keys() {
        let eps = endpoints(&[1, 1, 1, 1]);
        let ring = HashRing::new(&eps);
        let mut moved = 0;
        for k in 0..4000 {
            let key = mix64(k);
            let normal = ring.pick(key, all).unwrap();
            let without_2 = ring.pick(key, |i| i != 2).unwrap();
            if normal == 2 {
                assert_ne!(without_2, 2);
                moved += 1;
            } else {
                assert_eq!(without_2, normal);
            }
        }
        assert!(moved > 600 && moved < 1400, "{moved}");
    }

    #[test]
    fn keys_spread_in_proportion_to_weight() {
        let ring = HashRing::new(&endpoints(&[1, 3]));
        assert_eq!(ring.point_count(), 4 * 160);
        let heavy = (0..20_000)
            .filter(|&k| ring.pick(mix64(k), all) == Some(1))
            .count();
        assert!(heavy.abs_diff(15_000) < 1_000, "{heavy}");
    }

    #[test]
    fn the_ring_size_is_bounded_and_rebuilt_only_on_change() {
        let mut ring = HashRing::new(&endpoints(&[u32::MAX, 1, 100]));
        assert!(ring.point_count() as u64 <= MAX_RING_POINTS);
        assert!(
            ring.pick(5, |i| i == 1).is_some(),
            "every endpoint keeps a point"
        );
        let many = endpoints(&vec![1; 1000]);
        assert!(ring.set_endpoints(&many));
        assert!(ring.point_count() as u64 <= MAX_RING_POINTS);
        assert_eq!(ring.point_count(), 1000 * 40, "160 halved twice");
        assert!(!ring.set_endpoints(&many), "same membership: no rebuild");
        let huge = endpoints(&vec![u32::MAX; 70_000]);
        assert!(ring.set_endpoints(&huge));
        assert_eq!(
            ring.point_count(),
            70_000,
            "one point each beyond the bound"
        );
        assert!(ring.set_endpoints(&[]));
        assert!(!ring.set_endpoints(&[]));
        assert_eq!(ring.pick(1, all), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn adding_an_endpoint_moves_only_its_share_of_keys_and_only_to_it(
            ids in proptest::collection::hash_set(any::<u64>(), 2..16),
        ) {
            let mut eps: Vec<Endpoint> = ids.iter().map(|&id| Endpoint { id, weight: 1 }).collect();
            let newcomer = eps.pop().unwrap();
            let before_ring = HashRing::new(&eps);
            let before = owners(&before_ring, &eps, 4000);
            eps.push(newcomer);
            let after_ring = HashRing::new(&eps);
            let after = owners(&after_ring, &eps, 4000);
            let mut moved = 0usize;
            for (b, a) in before.iter().zip(&after) {
                if b != a {
                    prop_assert_eq!(*a, Some(newcomer.id), "a key moved to an old endpoint");
                    moved += 1;
                }
            }
            let fraction = moved as f64 / 4000.0;
            let expected = 1.0 / eps.len() as f64;
            prop_assert!(fraction <= expected * 1.5 + 0.03, "{} vs {}", fraction, expected);
            prop_assert!(fraction >= expected * 0.5 - 0.03, "{} vs {}", fraction, expected);
            // And removing it again restores every key.
            eps.pop();
            prop_assert_eq!(owners(&HashRing::new(&eps), &eps, 4000), before);
        }
    }

    // ---- ejection ----

    fn ejection(count: usize) -> Ejection {
        Ejection::new(
            &endpoints(&vec![1; count]),
            EjectionConfig {
                consecutive_failures: 3,
                base: SEC,
                max: 5 * SEC,
            },
        )
    }

    /// Fails endpoint `index` until it is ejected; returns the ejection length.
    fn eject(e: &mut Ejection, index: usize, now: Instant) -> Duration {
        assert_eq!(e.record_failure(index, now), None);
        assert_eq!(e.record_failure(index, now), None);
        e.record_failure(index, now).expect("third failure ejects")
    }

    #[test]
    fn consecutive_failures_eject_until_the_period_ends_exactly() {
        let t0 = Instant::now();
        let mut e = ejection(2);
        e.record_failure(0, t0);
        e.record_failure(0, t0);
        e.record_success(0);
        e.record_failure(0, t0);
        assert_eq!(
            e.record_failure(0, t0),
            None,
            "the success broke the streak"
        );
        assert_eq!(e.record_failure(0, t0), Some(SEC));
        assert!(!e.is_available(0, t0));
        assert!(e.is_available(1, t0));
        assert_eq!(e.available_count(t0), 1);
        assert_eq!(e.ejected_until(0, t0), Some(t0 + SEC));
        assert!(!e.is_available(0, t0 + SEC - Duration::from_nanos(1)));
        assert!(e.is_available(0, t0 + SEC));
        assert_eq!(e.ejected_until(0, t0 + SEC), None);
        assert!(!e.is_available(9, t0), "unknown index");
        assert_eq!(e.record_failure(9, t0), None);
        e.record_success(9);
    }

    #[test]
    fn repeated_ejections_double_up_to_the_cap_and_reset_after_a_healthy_spell() {
        let t0 = Instant::now();
        let mut e = ejection(1);
        let mut now = t0;
        let mut lengths = Vec::new();
        for _ in 0..5 {
            let length = eject(&mut e, 0, now);
            lengths.push(length);
            now += length; // re-admitted, fails again at once
        }
        assert_eq!(lengths, [SEC, 2 * SEC, 4 * SEC, 5 * SEC, 5 * SEC]);
        // In for just under `max` after re-admission: still doubling (capped).
        assert_eq!(eject(&mut e, 0, now + 5 * SEC - MS), 5 * SEC);
        now += 5 * SEC - MS + 5 * SEC;
        // In for `max`: starts from `base` again.
        assert_eq!(eject(&mut e, 0, now + 5 * SEC), SEC);
    }

    #[test]
    fn failures_while_ejected_do_not_extend_or_re_eject() {
        let t0 = Instant::now();
        let mut e = ejection(1);
        eject(&mut e, 0, t0);
        for _ in 0..10 {
            assert_eq!(e.record_failure(0, t0 + 500 * MS), None);
        }
        assert!(e.is_available(0, t0 + SEC));
        assert_eq!(
            e.record_failure(0, t0 + SEC),
            None,
            "a fresh streak is needed"
        );
    }

    #[test]
    fn balancers_skip_ejected_endpoints_and_pick_nothing_when_all_are_out() {
        let t0 = Instant::now();
        let eps = endpoints(&[1, 1, 1]);
        let mut e = Ejection::new(&eps, EjectionConfig::default());
        let mut wrr = WeightedRoundRobin::new(&eps);
        let mut lb = PowerOfTwoChoices::new(&eps, P2cConfig::default(), 9);
        let ring = HashRing::new(&eps);
        for _ in 0..5 {
            e.record_failure(0, t0);
            e.record_failure(1, t0);
        }
        for k in 0..50 {
            assert_eq!(wrr.pick(|i| e.is_available(i, t0)), Some(2));
            assert_eq!(lb.pick(|i| e.is_available(i, t0)), Some(2));
            assert_eq!(ring.pick(mix64(k), |i| e.is_available(i, t0)), Some(2));
        }
        for _ in 0..5 {
            e.record_failure(2, t0);
        }
        assert_eq!(e.available_count(t0), 0);
        assert_eq!(wrr.pick(|i| e.is_available(i, t0)), None);
        assert_eq!(lb.pick(|i| e.is_available(i, t0)), None);
        assert_eq!(ring.pick(1, |i| e.is_available(i, t0)), None);
        assert_eq!(
            e.available_count(t0 + SEC),
            3,
            "all back after the base period"
        );
    }

    #[test]
    fn ejection_state_follows_the_endpoint_id_across_membership_changes() {
        let t0 = Instant::now();
        let eps = endpoints(&[1, 1, 1]);
        let mut e = ejection(3);
        eject(&mut e, 2, t0);
        e.record_failure(1, t0);
        e.record_failure(1, t0);
        e.set_endpoints(&[eps[2], eps[1], Endpoint { id: 77, weight: 1 }]);
        assert!(!e.is_available(0, t0), "still ejected at its new index");
        assert_eq!(e.record_failure(1, t0), Some(SEC), "its streak was kept");
        assert!(e.is_available(2, t0), "a new endpoint starts clean");
    }

    #[test]
    fn degenerate_ejection_configs_are_clamped() {
        let t0 = Instant::now();
        let mut e = Ejection::new(
            &endpoints(&[1]),
            EjectionConfig {
                consecutive_failures: 0,
                base: Duration::MAX,
                max: Duration::ZERO,
            },
        );
        assert_eq!(e.record_failure(0, t0), Some(Duration::MAX));
        assert!(!e.is_available(0, t0 + 3600 * SEC));
        assert_eq!(e.ejected_until(0, t0), None, "beyond what Instant can hold");
    }
}
