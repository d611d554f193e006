//! The bridge to ringrpc: live policy overrides ([`watch_policy`]) and service instances
//! ([`watch_instances`], [`register`]) kept in etcd under a prefix.
//!
//! Layout (`<prefix>` is yours, e.g. `/ringrpc/echo/`):
//! - policy: one key per scope, `<prefix>*`, `<prefix>Echo` or `<prefix>Echo.echo`, whose
//!   value is a JSON object of `@control_plane` keys, e.g. `{"timeout_ms": 250}`;
//! - instances: one key per instance, `<prefix><address>`, whose value is the instance's
//!   JSON, `{"address": "tcp://10.0.0.1:9000", "weight": 10, "tags": ["canary"]}`.
//!
//! Every change delivers the prefix's whole contents, which replace what the cores use; a
//! set that does not validate is refused with a logged reason and the last good one stays.

use std::time::Duration;

use ringrpc::client::discovery::{Discovery, Instance};
use ringrpc::policy::{LivePolicy, OverrideError, Overrides};

use crate::watch::{PrefixWatch, Snapshot, WatchConfig};
use crate::{EtcdError, Registration};

/// The overrides a policy prefix holds.
pub fn overrides_from(prefix: &str, snapshot: &Snapshot) -> Result<Overrides, OverrideError> {
    let mut overrides = Overrides::new();
    for (key, value) in &snapshot.entries {
        let scope = key.strip_prefix(prefix).unwrap_or(key);
        let keys: serde_json::Value = serde_json::from_slice(value)
            .map_err(|e| OverrideError::Json(format!("etcd key {key}: {e}")))?;
        overrides.set_json(scope, &keys)?;
    }
    Ok(overrides)
}

/// Publishes the policy under `config`'s prefix to `live` now and after every change,
/// until the returned watch is dropped. Fails if etcd cannot be read within the
/// configured connect timeout, or if what it holds now does not validate.
pub fn watch_policy(live: &LivePolicy, config: WatchConfig) -> Result<PrefixWatch, EtcdError> {
    let prefix = config.prefix.clone();
    let live = live.clone();
    let first = std::sync::Arc::new(std::sync::Mutex::new(None));
    let first_error = first.clone();
    let source = format!("etcd {}", prefix);
    let watch = PrefixWatch::start(config, move |snapshot| {
        match overrides_from(&prefix, &snapshot) {
            Ok(overrides) => {
                let version = live.publish(overrides);
                tracing::info!(
                    source,
                    version,
                    revision = snapshot.revision,
                    "policy overrides updated"
                );
            }
            Err(e) => {
                let e = live.reject(&source, e);
                let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
                if first.is_none() && live.version() == 0 {
                    *first = Some(e);
                }
            }
        }
    })?;
    match first.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(e) => Err(EtcdError::Config(format!(
            "the policy in etcd is refused: {e}"
        ))),
        None => Ok(watch),
    }
}

/// The instances an instance prefix holds.
pub fn instances_from(snapshot: &Snapshot) -> Result<Vec<Instance>, String> {
    snapshot
        .entries
        .iter()
        .map(|(key, value)| {
            let json: serde_json::Value =
                serde_json::from_slice(value).map_err(|e| format!("etcd key {key}: {e}"))?;
            Instance::from_json(&json).map_err(|e| format!("etcd key {key}: {e}"))
        })
        .collect()
}

/// Keeps `discovery` equal to the instances under `config`'s prefix, until the returned
/// watch is dropped. An entry that does not parse refuses the whole update (logged).
pub fn watch_instances(
    discovery: &Discovery,
    config: WatchConfig,
) -> Result<PrefixWatch, EtcdError> {
    let discovery = discovery.clone();
    let prefix = config.prefix.clone();
    PrefixWatch::start(config, move |snapshot| {
        match instances_from(&snapshot).and_then(|list| {
            let count = list.len();
            discovery
                .update(list)
                .map(|v| (v, count))
                .map_err(|e| e.to_string())
        }) {
            Ok((version, count)) => {
                tracing::info!(prefix, version, instances = count, "instances updated")
            }
            Err(e) => tracing::warn!(
                prefix,
                "instance list refused, the last good one stays: {e}"
            ),
        }
    })
}

/// Announces `instance` under `prefix` (key `<prefix><address>`) while the returned
/// registration lives, with a lease of `ttl` kept alive meanwhile; dropping it removes the
/// instance at once (a crashed process's entry expires after `ttl`).
pub fn register<E: Into<String>>(
    endpoints: impl IntoIterator<Item = E>,
    prefix: &str,
    instance: &Instance,
    ttl: Duration,
) -> Result<Registration, EtcdError> {
    let tags: Vec<&str> = instance.tags.iter().map(|t| &**t).collect();
    let value = serde_json::json!({
        "address": instance.address.to_string(),
        "weight": instance.weight,
        "tags": tags,
    });
    Registration::register(
        endpoints,
        format!("{prefix}{}", instance.address),
        value.to_string(),
        ttl,
    )
}
