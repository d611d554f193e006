//! [`MethodPolicy`]: the policy one method runs with, typed, resolved from its layers —
//! live overrides over builder options over the IDL's `@control_plane` — with where each
//! value came from (for `rpcctl policies` and logs).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::keys::{KEYS, PolicyValue};
use super::overrides::{Overrides, Scope};
use crate::call::{MethodInfo, PolicyConst};
use crate::governance::PolicyError;
use crate::governance::balance::{LoadBalance, TrafficSplit};
use crate::governance::breaker::{BreakerConfig, BreakerKeys};
use crate::governance::retry::{RetryKeys, RetryPolicy};

/// Where a value of the effective policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The method's or service's `@control_plane` annotation.
    Idl,
    /// A builder option.
    Builder,
    /// A live override (a watched file or etcd).
    Live,
}

/// Injected faults, for chaos tests (`fault.*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPolicy {
    /// How long a delayed call waits before it is sent (`fault.delay_ms`).
    pub delay: Option<Duration>,
    /// Percentage of calls delayed (`fault.delay_percent`; 100 when only a delay is set).
    pub delay_percent: f64,
    /// Percentage of calls failed without being sent (`fault.abort_percent`).
    pub abort_percent: f64,
}

impl FaultPolicy {
    /// Whether any fault is injected.
    pub fn is_active(&self) -> bool {
        (self.delay.is_some() && self.delay_percent > 0.0) || self.abort_percent > 0.0
    }
}

/// The policy a method runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodPolicy {
    /// Time a call may take, retries included (`timeout_ms`); the client's default timeout
    /// when unset.
    pub timeout: Duration,
    /// Time a connection attempt started by a call may take (`connect_timeout_ms`); the
    /// client's connect timeout when unset.
    pub connect_timeout: Duration,
    /// Retries (`retry.*`, `idempotent`).
    pub retry: RetryPolicy,
    /// Retries allowed as a percentage of calls (`retry.budget_percent`, default 20).
    pub retry_budget_percent: f64,
    /// Send one backup request after this long without a reply (`backup_request_ms`;
    /// idempotent methods only).
    pub backup_after: Option<Duration>,
    /// Circuit breaking per endpoint and method; `None` (off) unless a
    /// `circuit_breaker.*` key is set.
    pub breaker: Option<BreakerConfig>,
    /// Server-side rate limit: calls per second and burst (`rate_limit.*`).
    pub rate_limit: Option<(u64, u64)>,
    /// How an endpoint is picked (`load_balance`).
    pub load_balance: LoadBalance,
    /// The request metadata key `consistent_hash` and weighted gray splits hash
    /// (`load_balance.hash_key`).
    pub hash_key: Option<Arc<str>>,
    /// Gray release: the tags whose endpoints get a share of untagged calls, with that
    /// share in percent (`weight.<tag>`), sorted by tag.
    pub weights: Vec<(Arc<str>, u64)>,
    /// The split those weights make.
    pub split: TrafficSplit,
    /// Injected faults.
    pub fault: FaultPolicy,
    /// Where each key that is set came from.
    pub sources: BTreeMap<String, (PolicyValue, Source)>,
}

/// The layers a method's policy is resolved from, lowest precedence first.
#[derive(Debug, Clone, Copy)]
pub struct Layers<'a> {
    /// The client's (or server's) default timeout, for methods without `timeout_ms`.
    pub default_timeout: Duration,
    /// The client's connect timeout, for methods without `connect_timeout_ms`.
    pub default_connect_timeout: Duration,
    /// Builder options.
    pub builder: &'a Overrides,
    /// Live overrides.
    pub live: &'a Overrides,
}

impl MethodPolicy {
    /// The policy of `method` under `layers`. An error names the key whose combined value
    /// is refused (a backoff maximum below its base, gray weights over 100 %).
    pub fn resolve(method: &MethodInfo, layers: Layers<'_>) -> Result<MethodPolicy, PolicyError> {
        Self::resolve_parts(method.service, method.name, method.policy, layers)
    }

    /// [`resolve`](Self::resolve) that never fails, for the request path: a combination
    /// that does not resolve (a live update whose backoff maximum is below the IDL's
    /// base, gray weights over 100 % between the IDL and the builder) keeps `previous`,
    /// the method's last good policy, else leaves out the live overrides, then the
    /// builder's options too; the reason is logged.
    pub fn resolve_or_keep(
        method: &MethodInfo,
        layers: Layers<'_>,
        previous: Option<&MethodPolicy>,
    ) -> MethodPolicy {
        let error = match Self::resolve(method, layers) {
            Ok(policy) => return policy,
            Err(e) => e,
        };
        tracing::warn!(
            service = method.service,
            method = method.name,
            "the method's policy layers do not combine ({error}); it keeps its last good policy"
        );
        if let Some(previous) = previous {
            return previous.clone();
        }
        let none = Overrides::new();
        Self::resolve(
            method,
            Layers {
                live: &none,
                ..layers
            },
        )
        .or_else(|_| {
            Self::resolve(
                method,
                Layers {
                    live: &none,
                    builder: &none,
                    ..layers
                },
            )
        })
        .unwrap_or_else(|_| Self::defaults(layers))
    }

    /// The policy of a method nothing configures.
    fn defaults(layers: Layers<'_>) -> MethodPolicy {
        MethodPolicy {
            timeout: layers.default_timeout,
            connect_timeout: layers.default_connect_timeout,
            retry: RetryPolicy::default(),
            retry_budget_percent: 20.0,
            backup_after: None,
            breaker: None,
            rate_limit: None,
            load_balance: LoadBalance::default(),
            hash_key: None,
            weights: Vec::new(),
            split: TrafficSplit::default(),
            fault: FaultPolicy {
                delay: None,
                delay_percent: 0.0,
                abort_percent: 0.0,
            },
            sources: BTreeMap::new(),
        }
    }

    /// Checks that the builder's options combine on their own (on a method the IDL gives
    /// no policy): a backoff maximum below its base, gray weights over 100 %, … are
    /// refused when the client or server is built, naming the scope.
    pub fn check_options(options: &Overrides) -> Result<(), super::OverrideError> {
        let none = Overrides::new();
        for (scope, _) in options.iter() {
            let (service, name) = match scope {
                Scope::All => ("", ""),
                Scope::Service(service) => (service.as_str(), ""),
                Scope::Method(service, method) => (service.as_str(), method.as_str()),
            };
            let layers = Layers {
                default_timeout: Duration::from_secs(1),
                default_connect_timeout: Duration::from_secs(1),
                builder: options,
                live: &none,
            };
            Self::resolve_parts(service, name, &[], layers).map_err(|error| {
                super::OverrideError::Value {
                    scope: scope.clone(),
                    error,
                }
            })?;
        }
        Ok(())
    }

    fn resolve_parts(
        service: &str,
        name: &str,
        idl: &[(&'static str, PolicyConst)],
        layers: Layers<'_>,
    ) -> Result<MethodPolicy, PolicyError> {
        let idl_value = |key: &str| idl.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let mut sources = BTreeMap::new();
        for spec in KEYS.iter().filter(|k| k.key != "weight.*") {
            let key = spec.key;
            let found = layers
                .live
                .lookup(service, name, key)
                .map(|v| (v.clone(), Source::Live))
                .or_else(|| {
                    layers
                        .builder
                        .lookup(service, name, key)
                        .map(|v| (v.clone(), Source::Builder))
                })
                .or_else(|| idl_value(key).map(|v| (v.into(), Source::Idl)));
            if let Some(found) = found {
                sources.insert(key.to_owned(), found);
            }
        }
        let mut weights: BTreeMap<String, (u64, Source)> = BTreeMap::new();
        for (key, value) in idl {
            if let (Some(tag), Some(n)) = (
                key.strip_prefix("weight."),
                PolicyValue::from(*value).as_u64(),
            ) {
                weights.insert(tag.to_owned(), (n, Source::Idl));
            }
        }
        for (layer, source) in [
            (layers.builder, Source::Builder),
            (layers.live, Source::Live),
        ] {
            for (tag, n) in layer.weights(service, name) {
                weights.insert(tag, (n, source));
            }
        }
        for (tag, (n, source)) in &weights {
            sources.insert(format!("weight.{tag}"), (PolicyValue::Int(*n), *source));
        }

        let value = |key: &str| sources.get(key).map(|(v, _)| v);
        let int = |key: &str| value(key).and_then(PolicyValue::as_u64);
        let num = |key: &str| value(key).and_then(PolicyValue::as_f64);
        let flag = |key: &str| match value(key) {
            Some(PolicyValue::Bool(b)) => Some(*b),
            _ => None,
        };
        let text = |key: &str| match value(key) {
            Some(PolicyValue::Text(t)) => Some(t.clone()),
            _ => None,
        };

        let retry_keys = RetryKeys {
            max_attempts: int("retry.max_attempts"),
            backoff_base_ms: int("retry.backoff_base_ms"),
            backoff_max_ms: int("retry.backoff_max_ms"),
            budget_percent: num("retry.budget_percent"),
            idempotent: flag("idempotent"),
        };
        let breaker_keys = BreakerKeys {
            failure_rate: num("circuit_breaker.failure_rate"),
            min_requests: int("circuit_breaker.min_requests"),
            window_ms: int("circuit_breaker.window_ms"),
            open_ms: int("circuit_breaker.open_ms"),
            half_open_probes: int("circuit_breaker.half_open_probes"),
        };
        let breaker = if breaker_keys == BreakerKeys::default() {
            None
        } else {
            Some(BreakerConfig::from_policy(&breaker_keys)?)
        };
        let rate_limit = int("rate_limit.qps").map(|qps| {
            // An unset burst is one second's worth, as `TokenBucket::from_policy` takes it.
            let burst = int("rate_limit.burst").unwrap_or(qps);
            (qps, burst)
        });
        let load_balance = match text("load_balance") {
            Some(word) => LoadBalance::from_policy(&word)?,
            None => LoadBalance::default(),
        };
        let percents: Vec<u64> = weights.values().map(|(n, _)| *n).collect();
        let split = TrafficSplit::from_policy(&percents)?;
        let delay = int("fault.delay_ms").map(Duration::from_millis);
        Ok(MethodPolicy {
            timeout: int("timeout_ms").map_or(layers.default_timeout, Duration::from_millis),
            connect_timeout: int("connect_timeout_ms")
                .map_or(layers.default_connect_timeout, Duration::from_millis),
            retry: RetryPolicy::from_policy(&retry_keys)?,
            retry_budget_percent: num("retry.budget_percent").unwrap_or(20.0),
            backup_after: int("backup_request_ms").map(Duration::from_millis),
            breaker,
            rate_limit,
            load_balance,
            hash_key: text("load_balance.hash_key"),
            weights: weights
                .into_iter()
                .map(|(tag, (n, _))| (Arc::from(tag), n))
                .collect(),
            split,
            fault: FaultPolicy {
                delay,
                delay_percent: num("fault.delay_percent").unwrap_or(if delay.is_some() {
                    100.0
                } else {
                    0.0
                }),
                abort_percent: num("fault.abort_percent").unwrap_or(0.0),
            },
            sources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ECHO: MethodInfo = MethodInfo {
        service: "Echo",
        name: "echo",
        oneway: false,
        policy: &[
            ("idempotent", PolicyConst::Bool(true)),
            ("retry.max_attempts", PolicyConst::Int(2)),
            ("timeout_ms", PolicyConst::Int(200)),
            ("weight.gray", PolicyConst::Int(10)),
        ],
    };

    fn layers<'a>(builder: &'a Overrides, live: &'a Overrides) -> Layers<'a> {
        Layers {
            default_timeout: Duration::from_secs(1),
            default_connect_timeout: Duration::from_secs(1),
            builder,
            live,
        }
    }

    #[test]
    fn live_beats_builder_beats_idl() {
        let none = Overrides::new();
        let p = MethodPolicy::resolve(&ECHO, layers(&none, &none)).unwrap();
        assert_eq!(p.timeout, Duration::from_millis(200));
        assert_eq!((p.retry.max_attempts, p.retry.idempotent), (2, true));
        assert_eq!(p.weights, [("gray".into(), 10)]);
        assert_eq!(p.sources["timeout_ms"].1, Source::Idl);
        assert_eq!(p.breaker, None);

        let mut builder = Overrides::new();
        builder.set("Echo", "timeout_ms", 300u64).unwrap();
        builder.set("*", "retry.max_attempts", 3u64).unwrap();
        let mut live = Overrides::new();
        live.set("Echo.echo", "timeout_ms", 50u64).unwrap();
        live.set("Echo", "weight.gray", 0u64).unwrap();
        live.set("Echo", "circuit_breaker.open_ms", 500u64).unwrap();
        let p = MethodPolicy::resolve(&ECHO, layers(&builder, &live)).unwrap();
        assert_eq!(p.timeout, Duration::from_millis(50));
        assert_eq!(p.sources["timeout_ms"].1, Source::Live);
        assert_eq!(p.retry.max_attempts, 3);
        assert_eq!(p.sources["retry.max_attempts"].1, Source::Builder);
        assert_eq!(p.weights, [("gray".into(), 0)]);
        assert_eq!(p.breaker.unwrap().open_for, Duration::from_millis(500));
        assert_eq!(p.breaker.unwrap().min_requests, 20);
    }

    #[test]
    fn combinations_are_checked() {
        let none = Overrides::new();
        let mut live = Overrides::new();
        live.set("*", "retry.backoff_base_ms", 2000u64).unwrap();
        live.set("*", "retry.backoff_max_ms", 100u64).unwrap();
        let e = MethodPolicy::resolve(&ECHO, layers(&none, &live)).unwrap_err();
        assert!(e.to_string().contains("retry.backoff_max_ms"), "{e}");
        let mut live = Overrides::new();
        live.set("*", "weight.blue", 95u64).unwrap();
        let e = MethodPolicy::resolve(&ECHO, layers(&none, &live)).unwrap_err();
        assert_eq!(e, PolicyError::WeightsOver100 { total: 105 });
    }

    #[test]
    fn a_delay_alone_delays_every_call() {
        let none = Overrides::new();
        let mut live = Overrides::new();
        live.set("*", "fault.delay_ms", 5u64).unwrap();
        let p = MethodPolicy::resolve(&ECHO, layers(&none, &live)).unwrap();
        assert_eq!(p.fault.delay_percent, 100.0);
        assert!(p.fault.is_active());
    }
}
