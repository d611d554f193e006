//! [`FrameReplySink`]: writes a call's reply frame in the caller's dialect (framing,
//! protocol, TTHeader/THeader flags), with the call's name and sequence id.

use std::marker::PhantomData;

use bytes::BytesMut;
use ringrpc_codec::frame::{Framing, HeaderInfo, encode_frame};
use ringrpc_codec::{
    ApplicationException, BytesStr, Encode, EncodeError, MessageHeader, MessageType, Protocol,
};

use crate::call::ReplySink;

/// The reply to one call, encoded into `out`.
#[derive(Debug)]
pub(crate) struct FrameReplySink<'a, P> {
    pub(crate) framing: Framing,
    pub(crate) header: Option<&'a HeaderInfo>,
    pub(crate) call: &'a MessageHeader,
    pub(crate) out: &'a mut BytesMut,
    pub(crate) _protocol: PhantomData<P>,
}

impl<P: Protocol> FrameReplySink<'_, P> {
    fn write<T: Encode + ?Sized>(
        &mut self,
        kind: MessageType,
        body: &T,
    ) -> Result<(), EncodeError> {
        let header = MessageHeader {
            name: reply_name(&self.call.name),
            kind,
            seq_id: self.call.seq_id,
        };
        let start = self.out.len();
        let written = encode_frame::<P, _, _>(self.framing, self.header, &header, body, self.out);
        if written.is_err() {
            // Never leave half a frame behind.
            self.out.truncate(start);
        }
        written
    }
}

/// The name a reply carries: the call's, without a multiplexed `Service:` prefix. Apache's
/// multiplexed servers answer `ThriftTest:testVoid` as `testVoid`, and Apache's Go and Rust
/// clients check it; a Thrift identifier has no `:`, so only multiplexed names lose one.
fn reply_name(name: &BytesStr) -> BytesStr {
    match name.find(':') {
        Some(colon) => {
            BytesStr::try_from(name.as_blob().slice(colon + 1..)).unwrap_or_else(|_| name.clone())
        }
        None => name.clone(),
    }
}

impl<P: Protocol> ReplySink for FrameReplySink<'_, P> {
    fn reply<T: Encode>(&mut self, result: &T) -> Result<(), EncodeError> {
        self.write(MessageType::Reply, result)
    }

    fn exception(&mut self, error: &ApplicationException) -> Result<(), EncodeError> {
        self.write(MessageType::Exception, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplexed_replies_drop_the_service_prefix() {
        let name = |s: &'static str| reply_name(&BytesStr::from_static(s));
        assert_eq!(name("ThriftTest:testVoid"), "testVoid");
        assert_eq!(name("testVoid"), "testVoid");
        assert_eq!(name(":odd"), "odd");
    }
}
