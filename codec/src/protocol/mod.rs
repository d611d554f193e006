//! The protocol layer: [`ProtocolWriter`] and [`ProtocolReader`], the operations generated
//! code calls, and their two implementations, [`Binary`] and [`Compact`].
//!
//! A protocol is a zero-sized type implementing [`Protocol`]; code is generic over it, so
//! each (type, protocol) pair compiles to straight-line code with no dynamic dispatch.
//!
//! Struct nesting is explicit and allocation-free: `*_struct_begin` returns a
//! [`StructScope`] (the Compact protocol's previous field id) that the caller hands back to
//! `*_struct_end`, so the state stack lives on the caller's own stack.

/// The [`ProtocolReader`] methods that are the same for every protocol: they delegate to
/// the reader's `cur: Cursor` and its `read_bytes_len`/`read_list_like` helpers.
macro_rules! cursor_reader_methods {
    () => {
        #[inline]
        fn read_i8(&mut self) -> Result<i8, DecodeError> {
            Ok(self.cur.u8()? as i8)
        }

        #[inline]
        fn read_uuid(&mut self) -> Result<[u8; 16], DecodeError> {
            self.cur.array()
        }

        // Inlined whole (as `Cursor::take_str` is) so a view reaches its field from registers.
        #[inline(always)]
        fn read_binary(&mut self) -> Result<Blob, DecodeError> {
            let len = self.read_bytes_len("binary")?;
            Ok(self.cur.take_bytes(len))
        }

        #[inline(always)]
        fn read_string(&mut self) -> Result<BytesStr, DecodeError> {
            let len = self.read_bytes_len("string")?;
            self.cur.take_str(len)
        }

        #[inline]
        fn skip_binary(&mut self) -> Result<(), DecodeError> {
            let len = self.read_bytes_len("binary")?;
            self.cur.advance(len)
        }

        #[inline]
        fn read_list_begin(&mut self) -> Result<ListHeader, DecodeError> {
            self.read_list_like("list")
        }

        #[inline]
        fn read_list_end(&mut self) {
            self.cur.exit();
        }

        #[inline]
        fn read_set_begin(&mut self) -> Result<ListHeader, DecodeError> {
            self.read_list_like("set")
        }

        #[inline]
        fn read_set_end(&mut self) {
            self.cur.exit();
        }

        #[inline]
        fn read_map_end(&mut self) {
            self.cur.exit();
        }

        #[inline]
        fn skip_bytes(&mut self, n: usize) -> Result<(), DecodeError> {
            self.cur.advance(n)
        }

        #[inline]
        fn position(&self) -> usize {
            self.cur.pos()
        }

        #[inline]
        fn remaining(&self) -> usize {
            self.cur.remaining()
        }

        fn limits(&self) -> &DecodeLimits {
            &self.cur.limits
        }

        #[inline]
        fn finish(&self) -> Result<(), DecodeError> {
            self.cur.finish()
        }
    };
}

mod binary;
mod compact;
pub(crate) mod cursor;
mod skip;

use crate::blob::{Blob, BlobRef};

pub use binary::{Binary, BinaryReader, BinaryWriter};
pub use compact::{Compact, CompactReader, CompactWriter};

use crate::bytes_str::BytesStr;
use crate::error::{DecodeError, EncodeError};
use crate::limits::DecodeLimits;
use crate::message::{MessageHeader, MessageType};
use crate::sink::Sink;
use crate::ttype::{ProtocolId, TType};

/// A Thrift protocol: a factory for its reader and writer.
pub trait Protocol: Copy + Default + std::fmt::Debug + Send + Sync + 'static {
    /// Which protocol this is.
    const ID: ProtocolId;
    /// Its writer over a sink `S`.
    type Writer<S: Sink>: ProtocolWriter;
    /// Its reader over borrowed input.
    type Reader<'a>: ProtocolReader;

    /// A writer appending to `sink`.
    fn writer<S: Sink>(sink: S) -> Self::Writer<S>;
    /// Unwraps a writer's sink.
    fn into_sink<S: Sink>(writer: Self::Writer<S>) -> S;
    /// A reader over `input` (a `&Blob` or `&Bytes`); `string`/`binary` values become views
    /// into it.
    fn reader<'a>(input: impl Into<BlobRef<'a>>, limits: DecodeLimits) -> Self::Reader<'a>;
    /// A reader over a plain slice. `string`/`binary` values are copied out of it, so use
    /// this only for scanning (finding frame ends, skipping), not on the decode hot path.
    fn slice_reader(input: &[u8], limits: DecodeLimits) -> Self::Reader<'_>;
}

/// Saved per-struct writer/reader state, returned by `*_struct_begin`, given back to
/// `*_struct_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructScope(pub(crate) i16);

/// A field header as read from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldHeader {
    /// The value's wire type ([`TType::Stop`] ends the struct).
    pub ttype: TType,
    /// The field id.
    pub id: i16,
}

/// A list or set header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListHeader {
    /// The element type.
    pub elem: TType,
    /// The element count (already checked against the input and limits).
    pub len: usize,
}

/// A map header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapHeader {
    /// The key type.
    pub key: TType,
    /// The value type.
    pub value: TType,
    /// The entry count (already checked against the input and limits).
    pub len: usize,
}

/// Writes Thrift values. Infallible except for lengths the format cannot represent.
pub trait ProtocolWriter {
    /// Writes a message envelope header.
    fn write_message_begin(
        &mut self,
        name: &str,
        kind: MessageType,
        seq_id: i32,
    ) -> Result<(), EncodeError>;
    /// Starts a struct.
    fn write_struct_begin(&mut self) -> StructScope;
    /// Writes the field-stop marker and ends the struct started with `scope`.
    fn write_struct_end(&mut self, scope: StructScope);
    /// Writes a field header. For a `bool` field the Compact protocol defers it to
    /// [`write_bool`](Self::write_bool), which folds the value into the header.
    fn write_field_begin(&mut self, ttype: TType, id: i16);
    /// Writes a `bool`.
    fn write_bool(&mut self, v: bool);
    /// Writes an `i8`.
    fn write_i8(&mut self, v: i8);
    /// Writes an `i16`.
    fn write_i16(&mut self, v: i16);
    /// Writes an `i32`.
    fn write_i32(&mut self, v: i32);
    /// Writes an `i64`.
    fn write_i64(&mut self, v: i64);
    /// Writes a `double`.
    fn write_double(&mut self, v: f64);
    /// Writes a `uuid` (16 bytes, RFC 4122 order).
    fn write_uuid(&mut self, v: &[u8; 16]);
    /// Writes a `binary` (or a `string`'s bytes).
    fn write_binary(&mut self, v: &[u8]) -> Result<(), EncodeError>;
    /// Writes a `string`.
    #[inline]
    fn write_string(&mut self, v: &str) -> Result<(), EncodeError> {
        self.write_binary(v.as_bytes())
    }
    /// Writes a list header.
    fn write_list_begin(&mut self, elem: TType, len: usize) -> Result<(), EncodeError>;
    /// Writes a set header.
    fn write_set_begin(&mut self, elem: TType, len: usize) -> Result<(), EncodeError>;
    /// Writes a map header.
    fn write_map_begin(&mut self, key: TType, value: TType, len: usize) -> Result<(), EncodeError>;
}

/// Reads Thrift values from untrusted input.
///
/// Every `*_begin` that opens a struct or container counts towards the depth limit and
/// must be paired with its `*_end`.
pub trait ProtocolReader {
    /// Reads a message envelope header (strict or, for Binary, non-strict).
    fn read_message_begin(&mut self) -> Result<MessageHeader, DecodeError>;
    /// Enters a struct.
    fn read_struct_begin(&mut self) -> Result<StructScope, DecodeError>;
    /// Leaves the struct entered with `scope`.
    fn read_struct_end(&mut self, scope: StructScope);
    /// Reads the next field header; [`TType::Stop`] ends the struct.
    fn read_field_begin(&mut self) -> Result<FieldHeader, DecodeError>;
    /// Reads a `bool`.
    fn read_bool(&mut self) -> Result<bool, DecodeError>;
    /// Reads an `i8`.
    fn read_i8(&mut self) -> Result<i8, DecodeError>;
    /// Reads an `i16`.
    fn read_i16(&mut self) -> Result<i16, DecodeError>;
    /// Reads an `i32`.
    fn read_i32(&mut self) -> Result<i32, DecodeError>;
    /// Reads an `i64`.
    fn read_i64(&mut self) -> Result<i64, DecodeError>;
    /// Reads a `double`.
    fn read_double(&mut self) -> Result<f64, DecodeError>;
    /// Reads a `uuid`.
    fn read_uuid(&mut self) -> Result<[u8; 16], DecodeError>;
    /// Reads a `binary` as a view into the input.
    fn read_binary(&mut self) -> Result<Blob, DecodeError>;
    /// Reads a `string` as a view into the input, checking UTF-8.
    fn read_string(&mut self) -> Result<BytesStr, DecodeError>;
    /// Skips a `string`/`binary` without creating a view.
    fn skip_binary(&mut self) -> Result<(), DecodeError>;
    /// Enters a list.
    fn read_list_begin(&mut self) -> Result<ListHeader, DecodeError>;
    /// Leaves a list.
    fn read_list_end(&mut self);
    /// Enters a set.
    fn read_set_begin(&mut self) -> Result<ListHeader, DecodeError>;
    /// Leaves a set.
    fn read_set_end(&mut self);
    /// Enters a map.
    fn read_map_begin(&mut self) -> Result<MapHeader, DecodeError>;
    /// Leaves a map.
    fn read_map_end(&mut self);
    /// Without consuming input, returns the element types of the container that starts
    /// here (`(elem, elem)` for lists and sets, `(key, value)` for maps), or `None` when the
    /// container is empty or its header is unreadable. Used to skip fields whose container
    /// element types differ from the declared ones.
    fn peek_container_types(&self, container: TType) -> Option<(TType, TType)>;
    /// Wire size of a value of `ttype` when it is the same for every value (used to skip
    /// containers of scalars in one step).
    fn fixed_width(&self, ttype: TType) -> Option<usize>;
    /// Skips `n` bytes.
    fn skip_bytes(&mut self, n: usize) -> Result<(), DecodeError>;
    /// Skips a value of `ttype`, with the same depth and length checks as decoding.
    fn skip(&mut self, ttype: TType) -> Result<(), DecodeError> {
        skip::skip(self, ttype)
    }
    /// Byte offset from the start of the input.
    fn position(&self) -> usize;
    /// Bytes left.
    fn remaining(&self) -> usize;
    /// The limits in force.
    fn limits(&self) -> &DecodeLimits;
    /// Fails with [`TrailingBytes`](crate::DecodeErrorKind::TrailingBytes) unless the whole
    /// input was consumed.
    fn finish(&self) -> Result<(), DecodeError>;
}
