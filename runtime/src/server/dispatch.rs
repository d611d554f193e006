//! [`Dispatch`]: what the server runs for each call. Generated code implements it for each
//! service's `Server<H>` (a handler wrapped for the runtime); a hand-written router can too.

use std::future::Future;

use ringrpc_codec::{EncodeError, ProtocolReader};

use crate::call::{MethodInfo, ReplySink};

/// Runs one call: reads the arguments of `method` from `r` and writes the reply to `sink`
/// (nothing for a oneway method). Built once per worker, so it need not be `Send`.
pub trait Dispatch {
    /// Handles a call of `method`; an unknown method is answered with a
    /// `TApplicationException` (`UNKNOWN_METHOD`). An error means the reply could not be
    /// encoded.
    fn dispatch<R: ProtocolReader, S: ReplySink>(
        &self,
        method: &str,
        r: &mut R,
        sink: &mut S,
    ) -> impl Future<Output = Result<(), EncodeError>>;

    /// What the runtime knows about the method named `name` (its `@control_plane`
    /// policy, for server-side governance such as rate limits); `None` for an unknown
    /// method or a hand-written dispatcher that does not say.
    fn method(&self, name: &str) -> Option<&'static MethodInfo> {
        let _ = name;
        None
    }

    /// Every method it answers, for introspection (`/policies` lists them before their
    /// first call); empty for a dispatcher that does not say.
    fn methods(&self) -> Vec<&'static MethodInfo> {
        Vec::new()
    }
}
