//! The Thrift Binary protocol: big-endian fixed-width integers, `i32` lengths.
//!
//! Message headers are read in both the strict (`0x8001` version word) and the old
//! non-strict form; the strict form is always written.

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

const VERSION_1: u32 = 0x8001_0000;
const VERSION_MASK: u32 = 0xffff_0000;

/// The Thrift Binary protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Binary;

impl Protocol for Binary {
    const ID: ProtocolId = ProtocolId::Binary;
    type Writer<S: Sink> = BinaryWriter<S>;
    type Reader<'a> = BinaryReader<'a>;

    #[inline]
    fn writer<S: Sink>(sink: S) -> BinaryWriter<S> {
        BinaryWriter { sink }
    }

    #[inline]
    fn into_sink<S: Sink>(writer: BinaryWriter<S>) -> S {
        writer.sink
    }

    #[inline]
    fn reader<'a>(input: impl Into<BlobRef<'a>>, limits: DecodeLimits) -> BinaryReader<'a> {
        BinaryReader {
            cur: Cursor::new(input.into(), limits),
        }
    }

    fn slice_reader(input: &[u8], limits: DecodeLimits) -> BinaryReader<'_> {
        BinaryReader {
            cur: Cursor::from_slice(input, limits),
        }
    }
}

/// Binary-protocol writer over a [`Sink`].
#[derive(Debug)]
pub struct BinaryWriter<S> {
    sink: S,
}

impl<S: Sink> BinaryWriter<S> {
    /// Returns the sink.
    pub fn into_inner(self) -> S {
        self.sink
    }

    #[inline]
    fn write_len(&mut self, what: &'static str, len: usize) -> Result<(), EncodeError> {
        if len > i32::MAX as usize {
            return Err(EncodeError::TooLong {
                what,
                len,
                max: i32::MAX as usize,
            });
        }
        self.sink.put_slice(&(len as i32).to_be_bytes());
        Ok(())
    }
}

impl<S: Sink> ProtocolWriter for BinaryWriter<S> {
    fn write_message_begin(
        &mut self,
        name: &str,
        kind: MessageType,
        seq_id: i32,
    ) -> Result<(), EncodeError> {
        self.sink
            .put_slice(&(VERSION_1 | kind as u32).to_be_bytes());
        self.write_binary(name.as_bytes())?;
        self.sink.put_slice(&seq_id.to_be_bytes());
        Ok(())
    }

    #[inline]
    fn write_struct_begin(&mut self) -> StructScope {
        StructScope(0)
    }

    #[inline]
    fn write_struct_end(&mut self, _scope: StructScope) {
        self.sink.put_u8(TType::Stop as u8);
    }

    #[inline]
    fn write_field_begin(&mut self, ttype: TType, id: i16) {
        let id = id.to_be_bytes();
        self.sink.put_slice(&[ttype as u8, id[0], id[1]]);
    }

    #[inline]
    fn write_bool(&mut self, v: bool) {
        self.sink.put_u8(v as u8);
    }

    #[inline]
    fn write_i8(&mut self, v: i8) {
        self.sink.put_u8(v as u8);
    }

    #[inline]
    fn write_i16(&mut self, v: i16) {
        self.sink.put_slice(&v.to_be_bytes());
    }

    #[inline]
    fn write_i32(&mut self, v: i32) {
        self.sink.put_slice(&v.to_be_bytes());
    }

    #[inline]
    fn write_i64(&mut self, v: i64) {
        self.sink.put_slice(&v.to_be_bytes());
    }

    #[inline]
    fn write_double(&mut self, v: f64) {
        self.sink.put_slice(&v.to_bits().to_be_bytes());
    }

    #[inline]
    fn write_uuid(&mut self, v: &[u8; 16]) {
        self.sink.put_slice(v);
    }

    #[inline]
    fn write_binary(&mut self, v: &[u8]) -> Result<(), EncodeError> {
        self.write_len("binary", v.len())?;
        self.sink.put_slice(v);
        Ok(())
    }

    #[inline]
    fn write_list_begin(&mut self, elem: TType, len: usize) -> Result<(), EncodeError> {
        self.sink.put_u8(elem as u8);
        self.write_len("list", len)
    }

    #[inline]
    fn write_set_begin(&mut self, elem: TType, len: usize) -> Result<(), EncodeError> {
        self.sink.put_u8(elem as u8);
        self.write_len("set", len)
    }

    #[inline]
    fn write_map_begin(&mut self, key: TType, value: TType, len: usize) -> Result<(), EncodeError> {
        self.sink.put_slice(&[key as u8, value as u8]);
        self.write_len("map", len)
    }
}

/// Binary-protocol reader over borrowed input.
#[derive(Debug, Clone)]
pub struct BinaryReader<'a> {
    cur: Cursor<'a>,
}

impl BinaryReader<'_> {
    #[inline]
    fn read_type(&mut self) -> Result<TType, DecodeError> {
        let code = self.cur.u8()?;
        match TType::from_code(code) {
            Some(t) if t != TType::Stop && t != TType::Void => Ok(t),
            _ => Err(DecodeError::new(
                DecodeErrorKind::InvalidType {
                    protocol: "binary",
                    code,
                },
                self.cur.pos() - 1,
            )),
        }
    }

    /// Reads an `i32` length, rejecting negative values.
    #[inline]
    fn read_raw_len(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let len = i32::from_be_bytes(self.cur.array()?);
        if len < 0 {
            return Err(DecodeError::new(
                DecodeErrorKind::NegativeLength {
                    what,
                    len: len as i64,
                },
                self.cur.pos() - 4,
            ));
        }
        Ok(len as u64)
    }

    #[inline]
    fn read_bytes_len(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let len = self.read_raw_len(what)?;
        self.cur.check_bytes_len(what, len)
    }

    fn read_list_like(&mut self, what: &'static str) -> Result<ListHeader, DecodeError> {
        let elem = self.read_type()?;
        let len = self.read_raw_len(what)?;
        let len = self.cur.check_container_len(what, len, 1)?;
        self.cur.enter()?;
        Ok(ListHeader { elem, len })
    }
}

impl ProtocolReader for BinaryReader<'_> {
    fn read_message_begin(&mut self) -> Result<MessageHeader, DecodeError> {
        let start = self.cur.pos();
        let word = u32::from_be_bytes(self.cur.array()?);
        if word & 0x8000_0000 != 0 {
            if word & VERSION_MASK != VERSION_1 {
                return Err(DecodeError::new(
                    DecodeErrorKind::BadVersion {
                        protocol: "binary",
                        version: word >> 16,
                    },
                    start,
                ));
            }
            let code = (word & 0xff) as u8;
            let kind = match MessageType::from_code(code) {
                Some(kind) if word & 0xff00 == 0 => kind,
                _ => {
                    return Err(DecodeError::new(
                        DecodeErrorKind::BadMessageType { found: code },
                        start + 3,
                    ));
                }
            };
            let len = self.read_bytes_len("message name")?;
            let name = self.cur.take_str(len)?;
            let seq_id = self.read_i32()?;
            Ok(MessageHeader { name, kind, seq_id })
        } else {
            // Non-strict: the word is the name length.
            let len = self.cur.check_bytes_len("message name", word as u64)?;
            let name = self.cur.take_str(len)?;
            let code = self.cur.u8()?;
            let kind = MessageType::from_code(code).ok_or_else(|| {
                DecodeError::new(
                    DecodeErrorKind::BadMessageType { found: code },
                    self.cur.pos() - 1,
                )
            })?;
            let seq_id = self.read_i32()?;
            Ok(MessageHeader { name, kind, seq_id })
        }
    }

    #[inline]
    fn read_struct_begin(&mut self) -> Result<StructScope, DecodeError> {
        self.cur.enter()?;
        Ok(StructScope(0))
    }

    #[inline]
    fn read_struct_end(&mut self, _scope: StructScope) {
        self.cur.exit();
    }

    #[inline]
    fn read_field_begin(&mut self) -> Result<FieldHeader, DecodeError> {
        let code = self.cur.u8()?;
        if code == 0 {
            return Ok(FieldHeader {
                ttype: TType::Stop,
                id: 0,
            });
        }
        let ttype = match TType::from_code(code) {
            Some(t) if t != TType::Void => t,
            _ => {
                return Err(DecodeError::new(
                    DecodeErrorKind::InvalidType {
                        protocol: "binary",
                        code,
                    },
                    self.cur.pos() - 1,
                ));
            }
        };
        let id = i16::from_be_bytes(self.cur.array()?);
        Ok(FieldHeader { ttype, id })
    }

    #[inline]
    fn read_bool(&mut self) -> Result<bool, DecodeError> {
        // Like Apache's readers: any non-zero byte is true.
        Ok(self.cur.u8()? != 0)
    }

    cursor_reader_methods!();

    #[inline]
    fn read_i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.cur.array()?))
    }

    #[inline]
    fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.cur.array()?))
    }

    #[inline]
    fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.cur.array()?))
    }

    #[inline]
    fn read_double(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(u64::from_be_bytes(self.cur.array()?)))
    }

    #[inline]
    fn read_map_begin(&mut self) -> Result<MapHeader, DecodeError> {
        let key = self.read_type()?;
        let value = self.read_type()?;
        let len = self.read_raw_len("map")?;
        let len = self.cur.check_container_len("map", len, 2)?;
        self.cur.enter()?;
        Ok(MapHeader { key, value, len })
    }

    fn peek_container_types(&self, container: TType) -> Option<(TType, TType)> {
        let rest = self.cur.rest();
        match container {
            TType::List | TType::Set => {
                let len = i32::from_be_bytes(*rest.get(1..)?.first_chunk::<4>()?);
                let elem = TType::from_code(*rest.first()?)?;
                (len > 0).then_some((elem, elem))
            }
            TType::Map => {
                let len = i32::from_be_bytes(*rest.get(2..)?.first_chunk::<4>()?);
                let key = TType::from_code(*rest.first()?)?;
                let value = TType::from_code(*rest.get(1)?)?;
                (len > 0).then_some((key, value))
            }
            _ => None,
        }
    }

    #[inline]
    fn fixed_width(&self, ttype: TType) -> Option<usize> {
        match ttype {
            TType::Bool | TType::I8 => Some(1),
            TType::I16 => Some(2),
            TType::I32 => Some(4),
            TType::I64 | TType::Double => Some(8),
            TType::Uuid => Some(16),
            _ => None,
        }
    }
}
