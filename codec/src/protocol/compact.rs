//! The Thrift Compact protocol: zigzag varints, field-id deltas, bools folded into field
//! headers, little-endian doubles.

use crate::blob::{Blob, BlobRef};

use super::cursor::Cursor;
use super::{
    FieldHeader, ListHeader, MapHeader, Protocol, ProtocolReader, ProtocolWriter, StructScope,
};
use crate::bytes_str::BytesStr;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::limits::DecodeLimits;
use crate::message::{MessageHeader, MessageType};
use crate::sink::Sink;
use crate::ttype::{ProtocolId, TType};

const PROTOCOL_ID: u8 = 0x82;
const VERSION: u8 = 1;

// Compact type nibbles.
const C_BOOL_TRUE: u8 = 1;
const C_BOOL_FALSE: u8 = 2;
const C_I8: u8 = 3;
const C_I16: u8 = 4;
const C_I32: u8 = 5;
const C_I64: u8 = 6;
const C_DOUBLE: u8 = 7;
const C_BINARY: u8 = 8;
const C_LIST: u8 = 9;
const C_SET: u8 = 10;
const C_MAP: u8 = 11;
const C_STRUCT: u8 = 12;
const C_UUID: u8 = 13;

#[inline]
const fn compact_code(ttype: TType) -> u8 {
    match ttype {
        TType::Stop | TType::Void => 0,
        TType::Bool => C_BOOL_TRUE,
        TType::I8 => C_I8,
        TType::I16 => C_I16,
        TType::I32 => C_I32,
        TType::I64 => C_I64,
        TType::Double => C_DOUBLE,
        TType::String => C_BINARY,
        TType::List => C_LIST,
        TType::Set => C_SET,
        TType::Map => C_MAP,
        TType::Struct => C_STRUCT,
        TType::Uuid => C_UUID,
    }
}

#[inline]
const fn ttype_of(code: u8) -> Option<TType> {
    Some(match code {
        C_BOOL_TRUE | C_BOOL_FALSE => TType::Bool,
        C_I8 => TType::I8,
        C_I16 => TType::I16,
        C_I32 => TType::I32,
        C_I64 => TType::I64,
        C_DOUBLE => TType::Double,
        C_BINARY => TType::String,
        C_LIST => TType::List,
        C_SET => TType::Set,
        C_MAP => TType::Map,
        C_STRUCT => TType::Struct,
        C_UUID => TType::Uuid,
        _ => return None,
    })
}

#[inline]
const fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

#[inline]
const fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
const fn unzigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

#[inline]
const fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// The Thrift Compact protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compact;

impl Protocol for Compact {
    const ID: ProtocolId = ProtocolId::Compact;
    type Writer<S: Sink> = CompactWriter<S>;
    type Reader<'a> = CompactReader<'a>;

    #[inline]
    fn writer<S: Sink>(sink: S) -> CompactWriter<S> {
        CompactWriter {
            sink,
            last_field_id: 0,
            pending_bool_field: None,
        }
    }

    #[inline]
    fn into_sink<S: Sink>(writer: CompactWriter<S>) -> S {
        writer.sink
    }

    #[inline]
    fn reader<'a>(input: impl Into<BlobRef<'a>>, limits: DecodeLimits) -> CompactReader<'a> {
        CompactReader {
            cur: Cursor::new(input.into(), limits),
            last_field_id: 0,
            pending_bool: None,
        }
    }

    fn slice_reader(input: &[u8], limits: DecodeLimits) -> CompactReader<'_> {
        CompactReader {
            cur: Cursor::from_slice(input, limits),
            last_field_id: 0,
            pending_bool: None,
        }
    }
}

/// Compact-protocol writer over a [`Sink`].
#[derive(Debug)]
pub struct CompactWriter<S> {
    sink: S,
    last_field_id: i16,
    /// A `bool` field whose header waits for its value.
    pending_bool_field: Option<i16>,
}

impl<S: Sink> CompactWriter<S> {
    /// Returns the sink.
    pub fn into_inner(self) -> S {
        self.sink
    }

    #[inline]
    fn write_field_header(&mut self, code: u8, id: i16) {
        let delta = id.wrapping_sub(self.last_field_id);
        if id > self.last_field_id && delta <= 15 {
            self.sink.put_u8(((delta as u8) << 4) | code);
        } else {
            self.sink.put_u8(code);
            self.sink.put_varint(zigzag32(id as i32) as u64);
        }
        self.last_field_id = id;
    }

    #[inline]
    fn write_size(&mut self, what: &'static str, len: usize) -> Result<(), EncodeError> {
        if len > i32::MAX as usize {
            return Err(EncodeError::TooLong {
                what,
                len,
                max: i32::MAX as usize,
            });
        }
        self.sink.put_varint(len as u64);
        Ok(())
    }

    #[inline]
    fn write_collection_begin(
        &mut self,
        what: &'static str,
        elem: TType,
        len: usize,
    ) -> Result<(), EncodeError> {
        let code = compact_code(elem);
        if len < 15 {
            self.sink.put_u8(((len as u8) << 4) | code);
            Ok(())
        } else {
            self.sink.put_u8(0xf0 | code);
            self.write_size(what, len)
        }
    }
}

impl<S: Sink> ProtocolWriter for CompactWriter<S> {
    fn write_message_begin(
        &mut self,
        name: &str,
        kind: MessageType,
        seq_id: i32,
    ) -> Result<(), EncodeError> {
        self.sink.put_u8(PROTOCOL_ID);
        self.sink.put_u8(((kind as u8) << 5) | VERSION);
        // The seq id is the varint of its u32 bit pattern, not zigzag.
        self.sink.put_varint(seq_id as u32 as u64);
        self.write_binary(name.as_bytes())
    }

    #[inline]
    fn write_struct_begin(&mut self) -> StructScope {
        let scope = StructScope(self.last_field_id);
        self.last_field_id = 0;
        scope
    }

    #[inline]
    fn write_struct_end(&mut self, scope: StructScope) {
        self.sink.put_u8(0);
        self.last_field_id = scope.0;
    }

    #[inline]
    fn write_field_begin(&mut self, ttype: TType, id: i16) {
        if ttype == TType::Bool {
            self.pending_bool_field = Some(id);
        } else {
            self.write_field_header(compact_code(ttype), id);
        }
    }

    #[inline]
    fn write_bool(&mut self, v: bool) {
        let code = if v { C_BOOL_TRUE } else { C_BOOL_FALSE };
        match self.pending_bool_field.take() {
            Some(id) => self.write_field_header(code, id),
            None => self.sink.put_u8(code),
        }
    }

    #[inline]
    fn write_i8(&mut self, v: i8) {
        self.sink.put_u8(v as u8);
    }

    #[inline]
    fn write_i16(&mut self, v: i16) {
        self.sink.put_varint(zigzag32(v as i32) as u64);
    }

    #[inline]
    fn write_i32(&mut self, v: i32) {
        self.sink.put_varint(zigzag32(v) as u64);
    }

    #[inline]
    fn write_i64(&mut self, v: i64) {
        self.sink.put_varint(zigzag64(v));
    }

    #[inline]
    fn write_double(&mut self, v: f64) {
        self.sink.put_slice(&v.to_bits().to_le_bytes());
    }

    #[inline]
    fn write_uuid(&mut self, v: &[u8; 16]) {
        self.sink.put_slice(v);
    }

    #[inline]
    fn write_binary(&mut self, v: &[u8]) -> Result<(), EncodeError> {
        self.write_size("binary", v.len())?;
        self.sink.put_slice(v);
        Ok(())
    }

    #[inline]
    fn write_list_begin(&mut self, elem: TType, len: usize) -> Result<(), EncodeError> {
        self.write_collection_begin("list", elem, len)
    }

    #[inline]
    fn write_set_begin(&mut self, elem: TType, len: usize) -> Result<(), EncodeError> {
        self.write_collection_begin("set", elem, len)
    }

    #[inline]
    fn write_map_begin(&mut self, key: TType, value: TType, len: usize) -> Result<(), EncodeError> {
        if len == 0 {
            self.sink.put_u8(0);
            return Ok(());
        }
        self.write_size("map", len)?;
        self.sink
            .put_u8((compact_code(key) << 4) | compact_code(value));
        Ok(())
    }
}

/// Compact-protocol reader over borrowed input.
#[derive(Debug, Clone)]
pub struct CompactReader<'a> {
    cur: Cursor<'a>,
    last_field_id: i16,
    /// The value of a `bool` field, carried in its header.
    pending_bool: Option<bool>,
}

impl CompactReader<'_> {
    #[inline]
    fn read_varint64(&mut self) -> Result<u64, DecodeError> {
        self.cur.varint64()
    }

    #[inline]
    fn read_varint32(&mut self) -> Result<u32, DecodeError> {
        self.cur.varint32()
    }

    /// A length or size: a plain varint that must fit in an `i32`.
    #[inline]
    fn read_size(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let start = self.cur.pos();
        let v = self.read_varint32()?;
        if v > i32::MAX as u32 {
            return Err(DecodeError::new(
                DecodeErrorKind::NegativeLength {
                    what,
                    len: v as i32 as i64,
                },
                start,
            ));
        }
        Ok(v as u64)
    }

    #[inline]
    fn read_bytes_len(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let len = self.read_size(what)?;
        self.cur.check_bytes_len(what, len)
    }

    #[inline]
    fn element_type(&self, code: u8, at: usize) -> Result<TType, DecodeError> {
        ttype_of(code).ok_or_else(|| {
            DecodeError::new(
                DecodeErrorKind::InvalidType {
                    protocol: "compact",
                    code,
                },
                at,
            )
        })
    }

    fn read_list_like(&mut self, what: &'static str) -> Result<ListHeader, DecodeError> {
        let at = self.cur.pos();
        let b = self.cur.u8()?;
        let elem = self.element_type(b & 0x0f, at)?;
        let len = match b >> 4 {
            15 => self.read_size(what)?,
            short => short as u64,
        };
        let len = self.cur.check_container_len(what, len, 1)?;
        self.cur.enter()?;
        Ok(ListHeader { elem, len })
    }

    #[inline]
    fn read_i16_checked(&mut self, target: &'static str) -> Result<i16, DecodeError> {
        let start = self.cur.pos();
        let v = unzigzag32(self.read_varint32()?);
        i16::try_from(v).map_err(|_| {
            DecodeError::new(
                DecodeErrorKind::IntegerOverflow {
                    value: v as i64,
                    target,
                },
                start,
            )
        })
    }
}

impl ProtocolReader for CompactReader<'_> {
    fn read_message_begin(&mut self) -> Result<MessageHeader, DecodeError> {
        let start = self.cur.pos();
        let id = self.cur.u8()?;
        if id != PROTOCOL_ID {
            return Err(DecodeError::new(
                DecodeErrorKind::BadProtocolId { found: id },
                start,
            ));
        }
        let b = self.cur.u8()?;
        if b & 0x1f != VERSION {
            return Err(DecodeError::new(
                DecodeErrorKind::BadVersion {
                    protocol: "compact",
                    version: (b & 0x1f) as u32,
                },
                start + 1,
            ));
        }
        let code = b >> 5;
        let kind = MessageType::from_code(code).ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::BadMessageType { found: code }, start + 1)
        })?;
        let seq_id = self.read_varint32()? as i32;
        let len = self.read_bytes_len("message name")?;
        let name = self.cur.take_str(len)?;
        Ok(MessageHeader { name, kind, seq_id })
    }

    #[inline]
    fn read_struct_begin(&mut self) -> Result<StructScope, DecodeError> {
        self.cur.enter()?;
        let scope = StructScope(self.last_field_id);
        self.last_field_id = 0;
        Ok(scope)
    }

    #[inline]
    fn read_struct_end(&mut self, scope: StructScope) {
        self.cur.exit();
        self.last_field_id = scope.0;
    }

    #[inline]
    fn read_field_begin(&mut self) -> Result<FieldHeader, DecodeError> {
        let at = self.cur.pos();
        let b = self.cur.u8()?;
        if b == 0 {
            return Ok(FieldHeader {
                ttype: TType::Stop,
                id: 0,
            });
        }
        let code = b & 0x0f;
        let ttype = self.element_type(code, at)?;
        let delta = (b >> 4) as i16;
        let id = if delta == 0 {
            self.read_i16_checked("field id")?
        } else {
            self.last_field_id.checked_add(delta).ok_or_else(|| {
                DecodeError::new(
                    DecodeErrorKind::IntegerOverflow {
                        value: self.last_field_id as i64 + delta as i64,
                        target: "field id",
                    },
                    at,
                )
            })?
        };
        if ttype == TType::Bool {
            self.pending_bool = Some(code == C_BOOL_TRUE);
        }
        self.last_field_id = id;
        Ok(FieldHeader { ttype, id })
    }

    #[inline]
    fn read_bool(&mut self) -> Result<bool, DecodeError> {
        if let Some(v) = self.pending_bool.take() {
            return Ok(v);
        }
        // Container elements: 1 is true; 0 (some writers) and 2 are false.
        match self.cur.u8()? {
            C_BOOL_TRUE => Ok(true),
            0 | C_BOOL_FALSE => Ok(false),
            found => Err(DecodeError::new(
                DecodeErrorKind::InvalidBool { found },
                self.cur.pos() - 1,
            )),
        }
    }

    cursor_reader_methods!();

    #[inline]
    fn read_i16(&mut self) -> Result<i16, DecodeError> {
        self.read_i16_checked("i16")
    }

    #[inline]
    fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(unzigzag32(self.read_varint32()?))
    }

    #[inline]
    fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(unzigzag64(self.read_varint64()?))
    }

    #[inline]
    fn read_double(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(u64::from_le_bytes(self.cur.array()?)))
    }

    fn read_map_begin(&mut self) -> Result<MapHeader, DecodeError> {
        let len = self.read_size("map")?;
        let (key, value, len) = if len == 0 {
            // An empty map is the single byte 0x00: no type byte follows.
            (TType::Stop, TType::Stop, 0)
        } else {
            let len = self.cur.check_container_len("map", len, 2)?;
            let at = self.cur.pos();
            let types = self.cur.u8()?;
            let key = self.element_type(types >> 4, at)?;
            let value = self.element_type(types & 0x0f, at)?;
            (key, value, len)
        };
        self.cur.enter()?;
        Ok(MapHeader { key, value, len })
    }

    fn peek_container_types(&self, container: TType) -> Option<(TType, TType)> {
        match container {
            TType::List | TType::Set => {
                let b = self.cur.peek(0)?;
                let elem = ttype_of(b & 0x0f)?;
                // A long-form size of 0 is possible but unusual; treat it as non-empty.
                (b >> 4 != 0).then_some((elem, elem))
            }
            TType::Map => {
                // varint size, then the type byte.
                let mut i = 0;
                loop {
                    let b = self.cur.peek(i)?;
                    i += 1;
                    if i == 1 && b == 0 {
                        return None;
                    }
                    if b & 0x80 == 0 {
                        break;
                    }
                    if i >= 5 {
                        return None;
                    }
                }
                let types = self.cur.peek(i)?;
                Some((ttype_of(types >> 4)?, ttype_of(types & 0x0f)?))
            }
            _ => None,
        }
    }

    #[inline]
    fn fixed_width(&self, ttype: TType) -> Option<usize> {
        match ttype {
            TType::I8 => Some(1),
            TType::Double => Some(8),
            TType::Uuid => Some(16),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips() {
        for v in [0, 1, -1, i32::MAX, i32::MIN, 12345, -12345] {
            assert_eq!(unzigzag32(zigzag32(v)), v);
        }
        for v in [0, 1, -1, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag64(zigzag64(v)), v);
        }
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
    }
}
