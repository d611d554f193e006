//! [`Health`]: whether a process serves, per service, as load balancers and orchestrators
//! ask it (the admin endpoint's `/health`, modelled on gRPC's `grpc.health.v1`: serving,
//! not serving, unknown service; plus draining while a server shuts down). Clones share
//! the state; a server given one ([`ServerBuilder::health`](crate::server::ServerBuilder::health))
//! reports itself serving once it listens, draining while it shuts down and not serving
//! after.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The state of a service, or of the whole process (the service named `""`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingStatus {
    /// Taking calls.
    Serving,
    /// Not taking calls (not started, stopped, or marked down by the application).
    NotServing,
    /// Shutting down: finishing the calls it has, taking no new connections.
    Draining,
}

impl ServingStatus {
    /// The status as text: `SERVING`, `NOT_SERVING`, `DRAINING`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServingStatus::Serving => "SERVING",
            ServingStatus::NotServing => "NOT_SERVING",
            ServingStatus::Draining => "DRAINING",
        }
    }
}

/// Serving status by service name (`""`: the process as a whole).
#[derive(Debug, Clone, Default)]
pub struct Health {
    statuses: Arc<Mutex<BTreeMap<String, ServingStatus>>>,
}

impl Health {
    /// No status yet: every service is unknown, the process not serving.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, ServingStatus>> {
        self.statuses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets the status of `service` (`""`: the process).
    pub fn set(&self, service: &str, status: ServingStatus) {
        self.lock().insert(service.to_owned(), status);
    }

    /// Sets every known service and the process to `status` (what a server does as it
    /// starts and stops).
    pub fn set_all(&self, status: ServingStatus) {
        let mut statuses = self.lock();
        statuses.values_mut().for_each(|s| *s = status);
        statuses.insert(String::new(), status);
    }

    /// The status of `service`; `None` for a service never set. The process (`""`) is
    /// `NotServing` until set.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        let status = self.lock().get(service).copied();
        match (status, service.is_empty()) {
            (None, true) => Some(ServingStatus::NotServing),
            (status, _) => status,
        }
    }

    /// Every service's status, the process's (`""`) first.
    pub fn all(&self) -> Vec<(String, ServingStatus)> {
        let mut all: Vec<_> = self.lock().iter().map(|(k, v)| (k.clone(), *v)).collect();
        if all.first().is_none_or(|(name, _)| !name.is_empty()) {
            all.insert(0, (String::new(), ServingStatus::NotServing));
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_what_was_set() {
        let health = Health::new();
        assert_eq!(health.status(""), Some(ServingStatus::NotServing));
        assert_eq!(health.status("Echo"), None);
        health.set("Echo", ServingStatus::NotServing);
        health.set_all(ServingStatus::Serving);
        assert_eq!(health.status("Echo"), Some(ServingStatus::Serving));
        assert_eq!(health.status(""), Some(ServingStatus::Serving));
        health.clone().set("Echo", ServingStatus::Draining);
        assert_eq!(
            health.all(),
            vec![
                (String::new(), ServingStatus::Serving),
                ("Echo".to_owned(), ServingStatus::Draining)
            ]
        );
    }
}
