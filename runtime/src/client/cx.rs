//! What crosses a client's layer stack: the per-call context ([`ClientCx`]: method, its
//! effective policy, deadline, the endpoint chosen for this attempt) and the call's
//! arguments, type-erased ([`Args`]) so layers are written once for every method and a
//! retry re-encodes them from the caller's borrow.

use std::fmt;
use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use ringrpc_codec::frame::{Framing, HeaderInfo, encode_frame};
use ringrpc_codec::{Binary, Compact, Encode, EncodeError, MessageHeader, ProtocolId};

use super::core::{CoreClient, CoreEndpoint, MethodState};
use crate::call::MethodInfo;
use crate::policy::MethodPolicy;

/// Encodes one call frame of some arguments type; object-safe, so layers see no types.
pub(crate) trait EncodeCall {
    fn encode_call(
        &self,
        protocol: ProtocolId,
        framing: Framing,
        header: Option<&HeaderInfo>,
        message: &MessageHeader,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError>;
}

impl<A: Encode> EncodeCall for A {
    fn encode_call(
        &self,
        protocol: ProtocolId,
        framing: Framing,
        header: Option<&HeaderInfo>,
        message: &MessageHeader,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        match protocol {
            ProtocolId::Binary => encode_frame::<Binary, _, _>(framing, header, message, self, out),
            ProtocolId::Compact => {
                encode_frame::<Compact, _, _>(framing, header, message, self, out)
            }
        }
    }
}

/// A call's arguments, borrowed from the caller; cheap to copy, so a retry or a backup
/// request sends the same arguments again.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    pub(crate) args: &'a dyn EncodeCall,
}

impl fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Args")
    }
}

/// The context of one call as it crosses the client's layers. Layers read the method and
/// its policy, and the balancer records the endpoint each attempt goes to.
#[derive(Clone)]
pub struct ClientCx {
    pub(crate) method: &'static MethodInfo,
    pub(crate) state: Rc<MethodState>,
    pub(crate) core: Rc<CoreClient>,
    /// When the call started.
    pub(crate) started: Instant,
    /// The same moment on the metrics clock: the first attempt's start too.
    pub(crate) started_tsc: quanta::Instant,
    /// When the last attempt ended, on the metrics clock: the call's end too, unless the
    /// call fails before or after its attempts.
    pub(crate) ended_tsc: Option<quanta::Instant>,
    /// When the whole call (retries included) must be done.
    pub(crate) deadline: Instant,
    /// The time the call was given (what a timeout error reports).
    pub(crate) budget: std::time::Duration,
    /// The endpoint of the current attempt, once the balancer chose it.
    pub(crate) endpoint: Option<Rc<CoreEndpoint>>,
    /// The endpoint the previous attempt failed on: the balancer avoids it if it can.
    pub(crate) avoid: Option<u64>,
    /// 1 for the first attempt.
    pub(crate) attempt: u32,
    /// Where the balancer records the endpoint it chose (a hedged call's first attempt,
    /// which its backup request avoids).
    pub(crate) picked: Option<Rc<std::cell::Cell<Option<u64>>>>,
    /// The call's own exported span (`otel`, span enabled): the `traceparent` it sends, so
    /// the server's span is a child of this call's `rpc.client` span.
    #[cfg(feature = "otel")]
    pub(crate) traceparent: Option<crate::metainfo::TraceContext>,
}

impl fmt::Debug for ClientCx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCx")
            .field("service", &self.method.service)
            .field("method", &self.method.name)
            .field("deadline", &self.deadline)
            .field("endpoint", &self.endpoint.as_ref().map(|e| e.address()))
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl ClientCx {
    /// The method being called.
    pub fn method(&self) -> &'static MethodInfo {
        self.method
    }

    /// The method's effective policy (IDL, builder options and live overrides resolved).
    pub fn policy(&self) -> &MethodPolicy {
        &self.state.policy
    }

    /// When the call must be done, retries included.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline earlier (a layer may shorten a call, never lengthen it).
    pub fn shorten_deadline(&mut self, deadline: Instant) {
        self.deadline = self.deadline.min(deadline);
    }

    /// The address of the endpoint the current attempt goes to, once chosen.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_ref().map(|e| e.address())
    }

    /// The attempt number: 1 for the first, 2 for the first retry or backup request, ….
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}
