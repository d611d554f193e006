//! Service discovery: the instances a client balances over ([`Instance`]: address, weight,
//! tags), shared by its clones on every core as a versioned snapshot ([`Discovery`]). The
//! list comes from code (a static list), a watched JSON file, or etcd (`ringrpc-etcd`);
//! each core notices a new version with one atomic load per call and rebuilds its
//! balancer, keeping the state (connections, latency, ejections) of instances that stay.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::transport::{Address, AddressError};
use crate::watch::FileWatch;

/// The weight of an instance that does not give one (Kitex's default).
pub const DEFAULT_WEIGHT: u32 = 10;

/// One server instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Where it listens.
    pub address: Address,
    /// Relative share of calls; 0 drains it.
    pub weight: u32,
    /// Labels (a gray release's `canary`, a zone …): a call whose route tag names one goes
    /// to the instances carrying it.
    pub tags: Vec<Arc<str>>,
}

impl Instance {
    /// An instance at `address` (`tcp://host:port`, `unix:///path` or `host:port`) with
    /// the default weight and no tags.
    pub fn new(address: &str) -> Result<Instance, AddressError> {
        Ok(Instance {
            address: address.parse()?,
            weight: DEFAULT_WEIGHT,
            tags: Vec::new(),
        })
    }

    /// With `weight`.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// With the tag `tag` added.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Whether it carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| &**t == tag)
    }

    /// An instance from its JSON form:
    /// `{"address": "tcp://127.0.0.1:9000", "weight": 10, "tags": ["canary"]}`.
    pub fn from_json(value: &serde_json::Value) -> Result<Instance, DiscoveryError> {
        let bad = |why: String| DiscoveryError::Json(format!("instance {value}: {why}"));
        let address = value
            .get("address")
            .and_then(|a| a.as_str())
            .ok_or_else(|| bad("needs an \"address\" string".into()))?;
        let mut instance = Instance::new(address).map_err(|e| bad(e.to_string()))?;
        if let Some(weight) = value.get("weight") {
            instance.weight = weight
                .as_u64()
                .and_then(|w| u32::try_from(w).ok())
                .ok_or_else(|| bad("\"weight\" must be a whole number from 0".into()))?;
        }
        if let Some(tags) = value.get("tags") {
            let tags = tags
                .as_array()
                .ok_or_else(|| bad("\"tags\" must be a list of strings".into()))?;
            for tag in tags {
                let tag = tag
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| bad("each tag must be a non-empty string".into()))?;
                instance.tags.push(tag.into());
            }
        }
        Ok(instance)
    }
}

/// Why an instance list was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum DiscoveryError {
    /// Not JSON of the expected shape.
    Json(String),
    /// Two instances with one address.
    Duplicate(String),
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::Json(why) => write!(f, "bad instance list: {why}"),
            DiscoveryError::Duplicate(address) => {
                write!(f, "bad instance list: {address} is listed twice")
            }
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// Parses a JSON list of instances (see [`Instance::from_json`]).
pub fn instances_from_json(text: &str) -> Result<Vec<Instance>, DiscoveryError> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| DiscoveryError::Json(e.to_string()))?;
    let list = doc
        .as_array()
        .ok_or_else(|| DiscoveryError::Json("expected a list of instances".into()))?;
    list.iter().map(Instance::from_json).collect()
}

#[derive(Debug)]
struct Shared {
    instances: ArcSwap<Vec<Instance>>,
    version: AtomicU64,
}

/// The instances of one service, shared by every core; clones share them.
#[derive(Debug, Clone)]
pub struct Discovery {
    shared: Arc<Shared>,
}

impl Discovery {
    /// A fixed list.
    pub fn fixed(instances: Vec<Instance>) -> Result<Discovery, DiscoveryError> {
        let discovery = Discovery {
            shared: Arc::new(Shared {
                instances: ArcSwap::from_pointee(Vec::new()),
                version: AtomicU64::new(0),
            }),
        };
        discovery.update(instances)?;
        Ok(discovery)
    }

    /// A list with no instances yet, for a source to fill with [`update`](Self::update).
    pub fn empty() -> Discovery {
        Discovery {
            shared: Arc::new(Shared {
                instances: ArcSwap::from_pointee(Vec::new()),
                version: AtomicU64::new(0),
            }),
        }
    }

    /// Replaces the instances; returns the new version. A list naming one address twice
    /// is refused and the current one stays.
    pub fn update(&self, instances: Vec<Instance>) -> Result<u64, DiscoveryError> {
        let mut seen = HashSet::new();
        for instance in &instances {
            if !seen.insert(&instance.address) {
                return Err(DiscoveryError::Duplicate(instance.address.to_string()));
            }
        }
        self.shared.instances.store(Arc::new(instances));
        Ok(self.shared.version.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// The current instances.
    pub fn instances(&self) -> Arc<Vec<Instance>> {
        self.shared.instances.load_full()
    }

    /// The version of the current list (bumped by every update).
    pub fn version(&self) -> u64 {
        self.shared.version.load(Ordering::Acquire)
    }

    /// Follows a JSON file listing the instances (see [`instances_from_json`]), checked
    /// every `every`, until the returned watch is dropped. A list that does not parse is
    /// refused (logged) and the current one stays; the first read must succeed.
    pub fn watch_file(
        &self,
        path: impl AsRef<Path>,
        every: Duration,
    ) -> std::io::Result<FileWatch> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let first = std::cell::Cell::new(true);
        let first_error = Arc::new(std::sync::Mutex::new(None));
        let (this, source2, errors) = (self.clone(), source.clone(), first_error.clone());
        let watch = FileWatch::start(
            path,
            every,
            move |text| {
                let first = first.replace(false);
                match instances_from_json(text).and_then(|list| this.update(list)) {
                    Ok(version) => tracing::info!(file = %source, version, "instances updated"),
                    Err(e) if first => {
                        *errors.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    }
                    Err(e) => tracing::warn!(
                        file = %source,
                        "instance list refused, the last good one stays: {e}"
                    ),
                }
            },
            move |e| tracing::warn!(file = %source2, "cannot read the instance list: {e}"),
        )?;
        match first_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            None => Ok(watch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_parse_from_json_with_clear_errors() {
        let list = instances_from_json(
            r#"[{"address": "127.0.0.1:1", "weight": 5, "tags": ["canary"]},
                {"address": "unix:///tmp/x.sock"}]"#,
        )
        .unwrap();
        assert_eq!(list[0].weight, 5);
        assert!(list[0].has_tag("canary"));
        assert_eq!(list[1].weight, DEFAULT_WEIGHT);
        let e = instances_from_json(r#"[{"weight": 1}]"#).unwrap_err();
        assert!(e.to_string().contains("needs an \"address\""), "{e}");
        let e = instances_from_json(r#"[{"address": "127.0.0.1:1", "weight": -1}]"#).unwrap_err();
        assert!(e.to_string().contains("\"weight\""), "{e}");
        let e = instances_from_json(r#"{"address": "x"}"#).unwrap_err();
        assert!(e.to_string().contains("expected a list"), "{e}");
    }

    #[test]
    fn updates_bump_the_version_and_refuse_duplicates() {
        let d = Discovery::fixed(vec![Instance::new("127.0.0.1:1").unwrap()]).unwrap();
        assert_eq!(d.version(), 1);
        let twice = vec![
            Instance::new("127.0.0.1:2").unwrap(),
            Instance::new("127.0.0.1:2").unwrap().weight(3),
        ];
        assert!(matches!(d.update(twice), Err(DiscoveryError::Duplicate(_))));
        assert_eq!((d.version(), d.instances().len()), (1, 1));
    }
}
