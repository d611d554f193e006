//! ringrpc-etcd: etcd for ringrpc's control plane (live policy overrides) and service
//! discovery.
//!
//! ringrpc's workers are monoio threads, while the etcd client (`etcd-client`, on tonic) needs
//! tokio. So each handle here owns one dedicated OS thread running a tokio current-thread
//! runtime, and results come back through plain callbacks or blocking calls: nothing in this
//! crate needs, or touches, the caller's runtime.
//!
//! - [`PrefixWatch`] ([`watch`]): the complete contents of a key prefix, delivered to a
//!   callback as a [`Snapshot`] on start and after every change; reconnects with backoff.
//! - [`Registration`] ([`registration`]): a key kept alive under a lease while the handle
//!   lives; dropping it deletes the key. How a server announces itself.
//! - [`EtcdWriter`] ([`writer`]): blocking put/delete for tools, tests and benchmarks.
//! - [`testing::EtcdServer`]: a real throw-away `etcd` on loopback for tests.
//! - [`EtcdError`] ([`error`]): every failure, naming the endpoints and the operation.
//! - [`ringrpc`](mod@ringrpc): live policy overrides and service instances in etcd, fed
//!   to ringrpc's [`LivePolicy`](::ringrpc::policy::LivePolicy) and
//!   [`Discovery`](::ringrpc::client::Discovery).
//!
//! ```no_run
//! use ringrpc_etcd::{EtcdWriter, PrefixWatch, Registration, WatchConfig};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), ringrpc_etcd::EtcdError> {
//! let endpoints = ["http://127.0.0.1:2379"];
//! let watch = PrefixWatch::start(WatchConfig::new(endpoints, "/policy/echo/"), |snapshot| {
//!     println!("revision {}: {} keys", snapshot.revision, snapshot.entries.len());
//! })?;
//! let _me = Registration::register(endpoints, "/services/echo/10.0.0.1:9000", "{}", Duration::from_secs(10))?;
//! EtcdWriter::connect(endpoints)?.put("/policy/echo/timeout_ms", "250")?;
//! println!("{:?}", watch.status());
//! # Ok(())
//! # }
//! ```
//!
//! No TLS: connections are plain HTTP/2 (`http://` endpoints).

mod backoff;
pub mod error;
pub mod registration;
pub mod ringrpc;
mod side;
pub mod testing;
pub mod watch;
pub mod writer;

pub use error::EtcdError;
pub use registration::Registration;
pub use ringrpc::{register, watch_instances, watch_policy};
pub use watch::{PrefixWatch, Snapshot, WatchConfig, WatchStatus};
pub use writer::EtcdWriter;
