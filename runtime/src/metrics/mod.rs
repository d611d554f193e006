//! Request metrics: recorded per core without locks or shared atomics on the request path,
//! summed over cores when read ([`Registry::snapshot`]), and written in the OpenMetrics
//! text format Prometheus scrapes ([`encode_text`], served by [`crate::admin`]).
//!
//! What is recorded, into the process-wide [`global`] registry:
//! - servers, per service and method: calls, errors by [`ErrorKind`], calls in flight,
//!   latency histogram (`ringrpc_server_*`);
//! - clients, per service and method (`ringrpc_client_call*`, a call with all its retries)
//!   and per service, method and endpoint (`ringrpc_client_request*`, one per attempt);
//! - per core: connections accepted, open and refused by servers, opened, failed and open
//!   by clients (calls per connection opened is ConnShard's reuse);
//! - live policies: version and refused updates.
//!
//! Each thread writes cells of its own (`local.rs`: a plain load and store per add), which
//! the callers keep in their per-core state; a scrape reads every thread's cells.

mod connections;
mod encode;
mod inspect;
mod local;
mod registry;

pub(crate) use connections::ConnectionCells;
pub use connections::{ConnectionInfo, Side};
pub use encode::{CONTENT_TYPE, encode_text};
pub(crate) use inspect::{BreakerCells, Inspect, SeenMethods, report};
pub use inspect::{BreakerInfo, PolicyEntry, PolicyReport};
pub use local::{LATENCY_BUCKETS, bucket_upper_bound};
pub use registry::{
    CallMetrics, CoreMetrics, ErrorKind, Family, PolicyMetrics, Registry, Snapshot, global,
};
pub(crate) use registry::{CallSeries, CoreSeries, LocalSeries, SeriesKey};

/// Calibrates the TSC clock calls are timed with, once per process. `quanta` calibrates on
/// its first reading, spinning for up to 200 ms: servers and clients call this as they are
/// built, so that cost never lands on a call.
pub fn warm_up_clock() {
    let _ = quanta::Instant::now();
}
