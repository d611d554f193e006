//! The message envelope: [`MessageHeader`] (method name, [`MessageType`], sequence id).

use crate::bytes_str::BytesStr;

/// The kind of a Thrift message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// A request that expects a reply.
    Call = 1,
    /// A successful reply (the result struct may still carry a declared exception).
    Reply = 2,
    /// An undeclared failure: the body is a
    /// [`ApplicationException`](crate::ApplicationException).
    Exception = 3,
    /// A request that gets no reply.
    Oneway = 4,
}

impl MessageType {
    /// Maps a wire code to a message type.
    #[inline]
    pub const fn from_code(code: u8) -> Option<MessageType> {
        Some(match code {
            1 => MessageType::Call,
            2 => MessageType::Reply,
            3 => MessageType::Exception,
            4 => MessageType::Oneway,
            _ => return None,
        })
    }
}

/// A decoded message envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeader {
    /// The method name (`Service:method` when multiplexed), a view into the frame.
    pub name: BytesStr,
    /// Call, reply, exception or oneway.
    pub kind: MessageType,
    /// The sequence id that pairs a reply with its call.
    pub seq_id: i32,
}
