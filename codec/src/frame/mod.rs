//! Framing: how messages are delimited on a byte stream, and per-connection dialect
//! detection.
//!
//! | [`Framing`] | layout |
//! |---|---|
//! | `Unframed` ("buffered") | the bare message; its end is found by parsing it |
//! | `Framed` | `u32` big-endian length, then the message |
//! | `TTHeader` | Kitex's header (magic `0x1000`, fixed-width fields, string and integer key/values) |
//! | `THeader` | Apache's header (magic `0x0FFF`, varint fields, string key/values) |
//!
//! TTHeader and THeader are not wire-compatible, so they are two codecs behind one
//! [`Metadata`] type. All functions here are sans-IO: they look at bytes
//! the caller has read and tell it how many make a frame.
//!
//! ```
//! use ringrpc_codec::frame::{self, Framing, FrameDecoder};
//! use ringrpc_codec::{Binary, BytesMut, MessageHeader, MessageType, BytesStr};
//!
//! let header = MessageHeader {
//!     name: BytesStr::from_static("ping"),
//!     kind: MessageType::Call,
//!     seq_id: 1,
//! };
//! let mut wire = BytesMut::new();
//! frame::encode_frame::<Binary, _, _>(Framing::Framed, None, &header, &(), &mut wire).unwrap();
//!
//! let mut decoder = FrameDecoder::default();
//! let frame = decoder.decode(&mut wire).unwrap().expect("a whole frame");
//! assert_eq!(frame.dialect.framing, Framing::Framed);
//! ```

mod detect;
mod theader;
mod ttheader;

use bytes::{BufMut, BytesMut};

use crate::blob::{Blob, BlobRef};

pub use detect::detect;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::limits::DecodeLimits;
use crate::message::MessageHeader;
use crate::metadata::Metadata;
use crate::protocol::cursor::Cursor;
use crate::protocol::{Binary, Compact, Protocol, ProtocolReader, ProtocolWriter};
use crate::sink::LenCounter;
use crate::ttype::{ProtocolId, TType};
use crate::value::Encode;

/// How messages are delimited on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// No framing ("buffered" transport): message boundaries are found by parsing.
    Unframed,
    /// A 4-byte big-endian length before each message.
    Framed,
    /// Kitex TTHeader.
    TTHeader,
    /// Apache THeader.
    THeader,
}

/// What a connection speaks: framing and payload protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dialect {
    /// The framing.
    pub framing: Framing,
    /// The payload protocol.
    pub protocol: ProtocolId,
}

impl Dialect {
    /// A dialect.
    pub const fn new(framing: Framing, protocol: ProtocolId) -> Self {
        Dialect { framing, protocol }
    }
}

/// The header fields of a TTHeader or THeader frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Header flags (TTHeader: `0x01` out-of-order support, `0x02` streaming, …).
    pub flags: u16,
    /// The header's sequence number (normally the message's seq id; encoding always
    /// writes the message's).
    pub seq_id: i32,
    /// Key/values.
    pub metadata: Metadata,
    /// TTHeader only: the payload carries its own 4-byte length (Kitex "TTHeaderFramed").
    pub payload_framed: bool,
}

/// One decoded frame: its dialect, header (TTHeader/THeader only) and the message bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// How it was framed.
    pub dialect: Dialect,
    /// The TTHeader/THeader header.
    pub header: Option<HeaderInfo>,
    /// The whole Thrift message (envelope and body), a view into the read buffer.
    pub payload: Blob,
}

/// How many bytes at the start of `buf` form one frame of `dialect`: `Ok(None)` when more
/// bytes are needed, an error when they can never form a valid frame (bad length, over
/// the limit, malformed unframed message).
pub fn frame_len(
    dialect: Dialect,
    buf: &[u8],
    limits: DecodeLimits,
) -> Result<Option<usize>, DecodeError> {
    match dialect.framing {
        Framing::Framed | Framing::TTHeader | Framing::THeader => length_prefixed(buf, limits),
        Framing::Unframed => match dialect.protocol {
            ProtocolId::Binary => scan_unframed::<Binary>(buf, limits),
            ProtocolId::Compact => scan_unframed::<Compact>(buf, limits),
        },
    }
}

fn length_prefixed(buf: &[u8], limits: DecodeLimits) -> Result<Option<usize>, DecodeError> {
    let total = declared_len(buf, limits)?;
    Ok(total.filter(|&total| buf.len() >= total))
}

/// The whole length (prefix included) a length-prefixed frame at the front of `buf`
/// declares, once its prefix has arrived; an error if it is negative or over the limit.
fn declared_len(buf: &[u8], limits: DecodeLimits) -> Result<Option<usize>, DecodeError> {
    let Some(word) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let len = i32::from_be_bytes(*word);
    if len < 0 {
        return Err(DecodeError::new(
            DecodeErrorKind::NegativeLength {
                what: "frame",
                len: len as i64,
            },
            0,
        ));
    }
    if len as usize > limits.max_frame_len {
        return Err(DecodeError::new(
            DecodeErrorKind::FrameTooLarge {
                len: len as u64,
                limit: limits.max_frame_len,
            },
            0,
        ));
    }
    Ok(Some(4 + len as usize))
}

fn scan_unframed<P: Protocol>(
    buf: &[u8],
    limits: DecodeLimits,
) -> Result<Option<usize>, DecodeError> {
    let mut r = P::slice_reader(buf, limits);
    let scanned = r
        .read_message_begin()
        .and_then(|_| r.skip(TType::Struct))
        .map(|()| r.position());
    match scanned {
        Ok(len) if len > limits.max_frame_len => Err(too_large(len, limits)),
        Ok(len) => Ok(Some(len)),
        Err(e) if e.is_truncation() => {
            if buf.len() >= limits.max_frame_len {
                Err(too_large(buf.len(), limits))
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(e),
    }
}

#[cold]
fn too_large(len: usize, limits: DecodeLimits) -> DecodeError {
    DecodeError::new(
        DecodeErrorKind::FrameTooLarge {
            len: len as u64,
            limit: limits.max_frame_len,
        },
        0,
    )
}

/// Parses one whole frame (as delimited by [`frame_len`]).
pub fn decode_frame(
    dialect: Dialect,
    frame: impl Into<Blob>,
    limits: DecodeLimits,
) -> Result<Frame, DecodeError> {
    let frame = frame.into();
    let format = match dialect.framing {
        Framing::Unframed => None,
        Framing::Framed => Some("framed"),
        Framing::TTHeader => Some("TTHeader"),
        Framing::THeader => Some("THeader"),
    };
    if let Some(format) = format {
        check_length_field(&frame, format)?;
    }
    match dialect.framing {
        Framing::Unframed => Ok(Frame {
            dialect,
            header: None,
            payload: frame,
        }),
        Framing::Framed => Ok(Frame {
            dialect,
            header: None,
            payload: frame.slice(4..),
        }),
        Framing::TTHeader => {
            let (header, payload) = ttheader::decode(&frame, limits)?;
            Ok(Frame {
                dialect,
                header: Some(header),
                payload,
            })
        }
        Framing::THeader => {
            let (header, protocol, payload) = theader::decode(&frame, limits)?;
            Ok(Frame {
                dialect: Dialect::new(Framing::THeader, protocol),
                header: Some(header),
                payload,
            })
        }
    }
}

/// The 14-byte prefix TTHeader and THeader share: length, magic, flags, sequence number,
/// header size in 4-byte words.
struct FixedHeader<'a> {
    flags: u16,
    seq_id: i32,
    /// A cursor over the variable header (offsets relative to the frame).
    header: Cursor<'a>,
    /// Where the payload starts.
    header_end: usize,
}

/// Reads the fixed prefix of a `format` frame whose magic must be `magic`.
fn read_fixed_header<'a>(
    frame: &'a Blob,
    limits: DecodeLimits,
    magic: u16,
    format: &'static str,
    what: &'static str,
) -> Result<FixedHeader<'a>, DecodeError> {
    let bad = |reason, at| DecodeError::new(DecodeErrorKind::BadHeader { format, reason }, at);
    let mut cur = Cursor::new(BlobRef::Blob(frame), limits);
    let _len = cur.array::<4>()?;
    if u16::from_be_bytes(cur.array()?) != magic {
        return Err(bad("wrong magic", 4));
    }
    let flags = u16::from_be_bytes(cur.array()?);
    let seq_id = i32::from_be_bytes(cur.array()?);
    let words = u16::from_be_bytes(cur.array()?) as usize;
    if words == 0 {
        return Err(bad("header size is 0", 12));
    }
    let header_end = 14 + words * 4;
    if header_end > frame.len() {
        return Err(DecodeError::new(
            DecodeErrorKind::LengthPastEnd {
                what,
                len: (words * 4) as u64,
                remaining: frame.len() - 14,
            },
            12,
        ));
    }
    Ok(FixedHeader {
        flags,
        seq_id,
        header: Cursor::range(frame, 14, header_end, limits),
        header_end,
    })
}

/// Checks that a length-prefixed frame's length field matches its size.
fn check_length_field(frame: &[u8], format: &'static str) -> Result<(), DecodeError> {
    let Some(word) = frame.first_chunk::<4>() else {
        return Err(DecodeError::new(
            DecodeErrorKind::UnexpectedEof {
                needed: 4,
                remaining: frame.len(),
            },
            0,
        ));
    };
    if u32::from_be_bytes(*word) as usize != frame.len() - 4 {
        return Err(DecodeError::new(
            DecodeErrorKind::BadHeader {
                format,
                reason: "the length field does not match the frame's size",
            },
            0,
        ));
    }
    Ok(())
}

/// Bytes [`encode_frame`] will write.
pub fn encoded_frame_len<P: Protocol, T: Encode + ?Sized>(
    framing: Framing,
    header: Option<&HeaderInfo>,
    message: &MessageHeader,
    body: &T,
) -> Result<usize, EncodeError> {
    let payload = message_len::<P, T>(message, body)?;
    Ok(match framing {
        Framing::Unframed => payload,
        Framing::Framed => 4 + payload,
        Framing::TTHeader => {
            let framed = header.is_some_and(|h| h.payload_framed);
            14 + ttheader::header_len(header.map(|h| &h.metadata))? + payload + 4 * framed as usize
        }
        Framing::THeader => 14 + theader::header_len(header.map(|h| &h.metadata))? + payload,
    })
}

fn message_len<P: Protocol, T: Encode + ?Sized>(
    message: &MessageHeader,
    body: &T,
) -> Result<usize, EncodeError> {
    let mut w = P::writer(LenCounter::default());
    w.write_message_begin(&message.name, message.kind, message.seq_id)?;
    body.encode(&mut w)?;
    Ok(P::into_sink(w).0)
}

/// Writes one message (`message` envelope, then `body`) framed as `framing`, payload in
/// protocol `P`. Sizes are computed first, so nothing is patched afterwards and `out`
/// can be any [`BufMut`].
///
/// `header` supplies TTHeader/THeader flags and metadata (`None`: none). TTHeader
/// carries Binary payloads only (as Kitex); THeader carries no integer keys or ACL token
/// (they are not written).
pub fn encode_frame<P: Protocol, T: Encode + ?Sized, B: BufMut>(
    framing: Framing,
    header: Option<&HeaderInfo>,
    message: &MessageHeader,
    body: &T,
    out: &mut B,
) -> Result<(), EncodeError> {
    let payload_len = message_len::<P, T>(message, body)?;
    match framing {
        Framing::Unframed => {}
        Framing::Framed => put_len(out, "frame", payload_len)?,
        Framing::TTHeader => {
            if P::ID != ProtocolId::Binary {
                return Err(EncodeError::Unsupported {
                    format: "TTHeader",
                    what: "a compact payload (Kitex accepts binary only)",
                });
            }
            ttheader::encode_header(header, message.seq_id, payload_len, out)?;
            if header.is_some_and(|h| h.payload_framed) {
                put_len(out, "frame", payload_len)?;
            }
        }
        Framing::THeader => {
            theader::encode_header(header, P::ID, message.seq_id, payload_len, out)?;
        }
    }
    let mut w = P::writer(&mut *out);
    w.write_message_begin(&message.name, message.kind, message.seq_id)?;
    body.encode(&mut w)
}

fn put_len<B: BufMut>(out: &mut B, what: &'static str, len: usize) -> Result<(), EncodeError> {
    let len = u32::try_from(len)
        .ok()
        .filter(|&l| l <= i32::MAX as u32)
        .ok_or(EncodeError::TooLong {
            what,
            len,
            max: i32::MAX as usize,
        })?;
    out.put_u32(len);
    Ok(())
}

/// A read buffer that [`FrameDecoder`] takes frames from: the bytes received and not yet
/// taken, and a way to take the first of them as a [`Blob`] without copying.
pub trait FrameSource {
    /// The bytes received and not yet taken.
    fn received(&self) -> &[u8];
    /// Takes the first `len` received bytes (`len` ≤ `received().len()`).
    fn take_front(&mut self, len: usize) -> Blob;
    /// Told by [`FrameDecoder::decode`] that the frame at the front, not yet whole, is
    /// `total` bytes long (its prefix included; within the decoder's `max_frame_len`), so
    /// the source can make room for all of it at once. Does nothing by default.
    fn expect(&mut self, total: usize) {
        let _ = total;
    }
}

impl FrameSource for BytesMut {
    fn received(&self) -> &[u8] {
        self
    }

    fn take_front(&mut self, len: usize) -> Blob {
        self.split_to(len).freeze().into()
    }
}

/// Splits frames off a connection's read buffer, detecting the dialect from the first
/// bytes.
#[derive(Debug, Clone, Default)]
pub struct FrameDecoder {
    dialect: Option<Dialect>,
    limits: DecodeLimits,
}

impl FrameDecoder {
    /// A decoder that detects the dialect from the first bytes it sees.
    pub fn new(limits: DecodeLimits) -> Self {
        FrameDecoder {
            dialect: None,
            limits,
        }
    }

    /// A decoder for a known dialect (a client knows what it speaks).
    pub fn with_dialect(dialect: Dialect, limits: DecodeLimits) -> Self {
        FrameDecoder {
            dialect: Some(dialect),
            limits,
        }
    }

    /// The dialect, once known.
    pub fn dialect(&self) -> Option<Dialect> {
        self.dialect
    }

    /// Takes the next whole frame off the front of `buf`, or returns `Ok(None)` until
    /// enough bytes have arrived. After an error the connection should be closed.
    pub fn decode<S: FrameSource + ?Sized>(
        &mut self,
        buf: &mut S,
    ) -> Result<Option<Frame>, DecodeError> {
        let dialect = match self.dialect {
            Some(d) => d,
            None => match detect(buf.received())? {
                Some(d) => *self.dialect.insert(d),
                None => return Ok(None),
            },
        };
        let received = buf.received();
        let whole = match dialect.framing {
            Framing::Unframed => frame_len(dialect, received, self.limits)?,
            // The declared length is read once: it either delimits the frame or tells the
            // source how much room the rest of it needs.
            _ => match declared_len(received, self.limits)? {
                Some(total) if received.len() >= total => Some(total),
                Some(total) => {
                    buf.expect(total);
                    None
                }
                None => None,
            },
        };
        match whole {
            Some(len) => {
                let frame = decode_frame(dialect, buf.take_front(len), self.limits)?;
                // A THeader frame names its own payload protocol.
                self.dialect = Some(frame.dialect);
                Ok(Some(frame))
            }
            None => Ok(None),
        }
    }
}
