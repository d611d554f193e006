//! The seam between generated code and the runtime: method descriptors ([`MethodInfo`]),
//! the client side ([`Channel`]: send one call, get its result) and the server side
//! ([`ReplySink`]: where a dispatcher writes a reply), with their error ([`CallError`]).
//! The io_uring client and server implement these; tests can connect a client straight to
//! a dispatcher.

use std::fmt;
use std::future::Future;

use ringrpc_codec::{
    ApplicationErrorKind, ApplicationException, Decode, DecodeError, Encode, EncodeError,
};

use crate::metrics::ErrorKind;

/// A `@control_plane` value as a typed constant in generated code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PolicyConst {
    /// Milliseconds or a count.
    Int(u64),
    /// A ratio or percentage.
    Number(f64),
    /// A flag.
    Bool(bool),
    /// A choice or text.
    Text(&'static str),
}

/// What the runtime knows about a method, generated from the IDL.
#[derive(Debug, Clone, Copy)]
pub struct MethodInfo {
    /// The IDL service name.
    pub service: &'static str,
    /// The IDL method name (the message name on the wire).
    pub name: &'static str,
    /// `oneway`: no reply is sent or awaited.
    pub oneway: bool,
    /// The effective `@control_plane` policy (method keys over service keys), sorted by key.
    pub policy: &'static [(&'static str, PolicyConst)],
}

impl MethodInfo {
    /// The policy value of `key`, if the IDL sets it.
    pub fn policy(&self, key: &str) -> Option<PolicyConst> {
        self.policy.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// Why a call failed, other than with a declared exception.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallError {
    /// The server answered with a `TApplicationException` (unknown method, internal error,
    /// protocol error, …), or a handler reports one.
    Application(ApplicationException),
    /// The reply could not be decoded.
    Decode(DecodeError),
    /// The request could not be encoded.
    Encode(EncodeError),
    /// The transport failed (connection refused, reset, closed, …).
    Transport(String),
    /// No reply within the call's timeout.
    Timeout(std::time::Duration),
    /// The call was not sent: no endpoint could take it (none discovered, not connected,
    /// circuit breaker open, every one ejected) or a fault was injected before sending.
    /// Always safe to retry.
    Unavailable(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Application(e) => write!(f, "application exception: {e}"),
            CallError::Decode(e) => write!(f, "cannot decode the reply: {e}"),
            CallError::Encode(e) => write!(f, "cannot encode the request: {e}"),
            CallError::Transport(e) => write!(f, "transport error: {e}"),
            CallError::Timeout(t) => write!(f, "no reply within {} ms", t.as_millis()),
            CallError::Unavailable(why) => write!(f, "the call was not sent: {why}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<ApplicationException> for CallError {
    fn from(e: ApplicationException) -> Self {
        CallError::Application(e)
    }
}

impl CallError {
    /// The `TApplicationException` a server sends for this error.
    pub fn to_application_exception(&self) -> ApplicationException {
        match self {
            CallError::Application(e) => e.clone(),
            other => {
                ApplicationException::new(ApplicationErrorKind::INTERNAL_ERROR, other.to_string())
            }
        }
    }
}

/// Sends calls: what generated clients are built on.
pub trait Channel {
    /// Sends `args` as a call of `method` and decodes the result struct `R` (for a oneway
    /// method, returns `R::default()`-like `()` without waiting).
    fn call<A, R>(
        &self,
        method: &'static MethodInfo,
        args: &A,
    ) -> impl Future<Output = Result<R, CallError>>
    where
        A: Encode,
        R: Decode + OnewayResult;
}

/// The result type of a method; `()` for oneway methods, which get no reply.
pub trait OnewayResult: Sized {
    /// The value of a oneway call (only `()` has one).
    fn oneway() -> Option<Self> {
        None
    }
}

impl OnewayResult for () {
    fn oneway() -> Option<Self> {
        Some(())
    }
}

impl<C: Channel> Channel for &C {
    fn call<A, R>(
        &self,
        method: &'static MethodInfo,
        args: &A,
    ) -> impl Future<Output = Result<R, CallError>>
    where
        A: Encode,
        R: Decode + OnewayResult,
    {
        (**self).call(method, args)
    }
}

/// Where a server-side dispatcher writes the reply to one call; the runtime frames it in
/// the caller's dialect with the call's name and sequence id.
pub trait ReplySink {
    /// A `REPLY` message with this result struct.
    fn reply<T: Encode>(&mut self, result: &T) -> Result<(), EncodeError>;
    /// An `EXCEPTION` message.
    fn exception(&mut self, error: &ApplicationException) -> Result<(), EncodeError>;
    /// The next reply carries one of the method's declared exceptions (for metrics; the
    /// default does nothing).
    fn declared_exception(&mut self) {}
    /// The call failed with `kind`, as `description` says (the handler raised a
    /// `TApplicationException`, a layer refused the call, …): the runtime marks the call's
    /// `rpc.server` span with it. The default does nothing.
    fn failed(&mut self, kind: ErrorKind, description: &dyn fmt::Display) {
        let _ = (kind, description);
    }
}
