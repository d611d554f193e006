//! [`LivePolicy`]: the live overrides every core reads, published as versioned snapshots.
//! A publisher (a watched file, etcd) replaces the whole set; each core notices the new
//! version with one atomic load per call and re-resolves its methods' policies, so the
//! request path takes no lock. An update that does not validate is refused with a logged
//! reason and the last good set stays in force.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::overrides::{OverrideError, Overrides};
pub use crate::watch::FileWatch;

#[derive(Debug)]
struct Shared {
    current: ArcSwap<Overrides>,
    /// Bumped after `current` is replaced.
    version: AtomicU64,
    /// Refused updates, for status reports.
    rejected: AtomicU64,
    /// Who published the current overrides (`file …`, `etcd …`), for status reports.
    source: Mutex<String>,
}

/// Live policy overrides shared by clients and servers on every core; clones share them.
#[derive(Debug, Clone)]
pub struct LivePolicy {
    shared: Arc<Shared>,
}

impl Default for LivePolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl LivePolicy {
    /// No overrides yet (version 0).
    pub fn new() -> Self {
        LivePolicy {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(Overrides::new()),
                version: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                source: Mutex::new(String::new()),
            }),
        }
    }

    /// Replaces the overrides; returns the new version.
    pub fn publish(&self, overrides: Overrides) -> u64 {
        self.shared.current.store(Arc::new(overrides));
        self.shared.version.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Replaces the overrides with a JSON document (see [`Overrides::from_json`]). A
    /// document that does not validate is refused: the error is logged and returned, and
    /// the current overrides stay.
    pub fn publish_json(&self, source: &str, text: &str) -> Result<u64, OverrideError> {
        match Overrides::from_json(text) {
            Ok(overrides) => {
                *self.shared.source.lock().unwrap_or_else(|p| p.into_inner()) = source.into();
                let version = self.publish(overrides);
                tracing::info!(source, version, "policy overrides updated");
                Ok(version)
            }
            Err(e) => Err(self.reject(source, e)),
        }
    }

    /// Records a refused update from `source` and logs why.
    pub fn reject(&self, source: &str, error: OverrideError) -> OverrideError {
        self.shared.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            source,
            "policy update refused, the last good policy stays: {error}"
        );
        error
    }

    /// The version of the current overrides: 0 before the first publish.
    pub fn version(&self) -> u64 {
        self.shared.version.load(Ordering::Acquire)
    }

    /// Updates refused so far.
    pub fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    /// Who published the current overrides through [`publish_json`](Self::publish_json)
    /// (`None` before that).
    pub fn last_source(&self) -> Option<String> {
        let source = self.shared.source.lock().unwrap_or_else(|p| p.into_inner());
        (!source.is_empty()).then(|| source.clone())
    }

    /// Whether `other` is a clone of this policy.
    pub(crate) fn same_as(&self, other: &LivePolicy) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// How many clones of this policy exist.
    pub(crate) fn clones(&self) -> usize {
        Arc::strong_count(&self.shared)
    }

    /// The current overrides.
    pub fn current(&self) -> Arc<Overrides> {
        self.shared.current.load_full()
    }

    /// Publishes the JSON document at `path` now and whenever it changes (checked every
    /// `every`), until the returned watch is dropped. A missing or invalid file is
    /// refused (logged) and the last good overrides stay; the first read must succeed
    /// and validate.
    pub fn watch_file(
        &self,
        path: impl AsRef<Path>,
        every: Duration,
    ) -> Result<FileWatch, OverrideError> {
        let path = path.as_ref();
        let source = format!("file {}", path.display());
        let first = std::cell::Cell::new(true);
        let first_error = Arc::new(std::sync::Mutex::new(None));
        let (live, live2, source2, errors) = (
            self.clone(),
            self.clone(),
            source.clone(),
            first_error.clone(),
        );
        let watch = FileWatch::start(
            path,
            every,
            move |text| {
                let result = live.publish_json(&source, text);
                if first.replace(false) {
                    if let Err(e) = result {
                        *errors.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    }
                }
            },
            move |e| {
                live2.reject(
                    &source2,
                    OverrideError::Json(format!("cannot read it: {e}")),
                );
            },
        )
        .map_err(|e| OverrideError::Json(e.to_string()))?;
        match first_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(watch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::keys::PolicyValue;

    #[test]
    fn invalid_updates_keep_the_last_good_policy() {
        let live = LivePolicy::new();
        assert_eq!(live.version(), 0);
        let v = live
            .publish_json("test", r#"{"Echo": {"timeout_ms": 300}}"#)
            .unwrap();
        assert_eq!(v, 1);
        assert!(
            live.publish_json("test", r#"{"Echo": {"timeout_ms": -3}}"#)
                .is_err()
        );
        assert_eq!((live.version(), live.rejected()), (1, 1));
        assert_eq!(
            live.current().lookup("Echo", "echo", "timeout_ms"),
            Some(&PolicyValue::Int(300))
        );
    }

    #[test]
    fn a_watched_file_is_published_when_it_changes() {
        let dir = std::env::temp_dir().join(format!("ringrpc-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("policy.json");
        std::fs::write(&path, r#"{"*": {"timeout_ms": 100}}"#).unwrap();
        let live = LivePolicy::new();
        let watch = live.watch_file(&path, Duration::from_millis(5)).unwrap();
        assert_eq!(live.version(), 1);
        std::fs::write(&path, r#"{"*": {"timeout_ms": 200}}"#).unwrap();
        let changed = (0..400).any(|_| {
            std::thread::sleep(Duration::from_millis(5));
            live.version() == 2
        });
        assert!(changed, "the change was not picked up within 2 s");
        // A loaded machine can deschedule `fs::write` between its truncate and its write
        // for two looks, so the empty file may already have been refused: count from here.
        let refused_before = live.rejected();
        std::fs::write(&path, r#"{"*": {"timeout_ms": "soon"}}"#).unwrap();
        let refused = (0..400).any(|_| {
            std::thread::sleep(Duration::from_millis(5));
            live.rejected() > refused_before
        });
        assert!(refused, "the bad file was not refused within 2 s");
        assert_eq!(
            live.current().lookup("X", "y", "timeout_ms"),
            Some(&PolicyValue::Int(200))
        );
        drop(watch);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
