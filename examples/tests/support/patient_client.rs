//! A client builder for tests whose calls queue or run slowly on a loaded CI machine.

use ringrpc::Client;
use ringrpc::client::ClientBuilder;

/// A builder for `address` whose calls may take 5 s: echo's IDL timeout (200 ms) is the
/// demo's, too short for calls that queue behind others or run in a debug build under load.
pub(crate) fn patient(address: &str) -> ClientBuilder {
    Client::builder(address).policy("*", "timeout_ms", 5_000u64)
}
