//! [`ApplicationException`]: Thrift's `TApplicationException`, the body of an
//! [`Exception`](crate::MessageType::Exception) reply.

use std::fmt;

use crate::bytes_str::BytesStr;
use crate::error::{DecodeError, EncodeError};
use crate::protocol::{ProtocolReader, ProtocolWriter};
use crate::ttype::TType;
use crate::value::{Decode, Encode};

/// The `type` code of an [`ApplicationException`]. Unknown codes from newer peers are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplicationErrorKind(pub i32);

impl ApplicationErrorKind {
    /// Unspecified.
    pub const UNKNOWN: Self = Self(0);
    /// The server does not know the method.
    pub const UNKNOWN_METHOD: Self = Self(1);
    /// The message type was not valid here.
    pub const INVALID_MESSAGE_TYPE: Self = Self(2);
    /// The reply names another method.
    pub const WRONG_METHOD_NAME: Self = Self(3);
    /// The reply's sequence id matches no call.
    pub const BAD_SEQUENCE_ID: Self = Self(4);
    /// The reply carries no result.
    pub const MISSING_RESULT: Self = Self(5);
    /// The handler failed with an undeclared error.
    pub const INTERNAL_ERROR: Self = Self(6);
    /// The request could not be decoded.
    pub const PROTOCOL_ERROR: Self = Self(7);
    /// A header transform is not supported.
    pub const INVALID_TRANSFORM: Self = Self(8);
    /// The payload protocol is not supported.
    pub const INVALID_PROTOCOL: Self = Self(9);
    /// The client type is not supported.
    pub const UNSUPPORTED_CLIENT_TYPE: Self = Self(10);

    /// Apache's name for the code.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "UNKNOWN",
            1 => "UNKNOWN_METHOD",
            2 => "INVALID_MESSAGE_TYPE",
            3 => "WRONG_METHOD_NAME",
            4 => "BAD_SEQUENCE_ID",
            5 => "MISSING_RESULT",
            6 => "INTERNAL_ERROR",
            7 => "PROTOCOL_ERROR",
            8 => "INVALID_TRANSFORM",
            9 => "INVALID_PROTOCOL",
            10 => "UNSUPPORTED_CLIENT_TYPE",
            _ => "UNRECOGNISED",
        }
    }
}

/// Thrift's `TApplicationException`: `struct { 1: string message, 2: i32 type }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationException {
    /// What happened.
    pub kind: ApplicationErrorKind,
    /// A human-readable message.
    pub message: BytesStr,
}

impl ApplicationException {
    /// A new exception.
    pub fn new(kind: ApplicationErrorKind, message: impl Into<BytesStr>) -> Self {
        ApplicationException {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ApplicationException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind.name(),
            self.kind.0,
            self.message
        )
    }
}

impl std::error::Error for ApplicationException {}

impl Encode for ApplicationException {
    const TTYPE: TType = TType::Struct;
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        let scope = w.write_struct_begin();
        w.write_field_begin(TType::String, 1);
        w.write_string(&self.message)?;
        w.write_field_begin(TType::I32, 2);
        w.write_i32(self.kind.0);
        w.write_struct_end(scope);
        Ok(())
    }
}

impl Decode for ApplicationException {
    const TTYPE: TType = TType::Struct;
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let scope = r.read_struct_begin()?;
        let mut out = ApplicationException::new(ApplicationErrorKind::UNKNOWN, BytesStr::new());
        loop {
            let field = r.read_field_begin()?;
            match (field.id, field.ttype) {
                (_, TType::Stop) => break,
                (1, TType::String) => {
                    out.message = r
                        .read_string()
                        .map_err(|e| e.in_field("TApplicationException", "message", 1))?
                }
                (2, TType::I32) => out.kind = ApplicationErrorKind(r.read_i32()?),
                (_, ttype) => r.skip(ttype)?,
            }
        }
        r.read_struct_end(scope);
        Ok(out)
    }
}
