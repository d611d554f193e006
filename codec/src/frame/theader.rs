//! Apache THeader: magic `0x0FFF`, varint header fields, string key/values.
//!
//! ```text
//! u32 length | u16 0x0FFF | u16 flags | u32 seq id | u16 header size (×4 bytes)
//! varint protocol id | varint transform count, varint ids | info blocks | padding | payload
//! info 0x01 KV and 0x02 persistent KV: varint n, n × (varint len key, varint len value);
//! any other id ends the info blocks (the rest of the header is skipped)
//! ```

use bytes::BufMut;

use crate::blob::Blob;

use super::HeaderInfo;
use crate::bytes_str::BytesStr;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::limits::DecodeLimits;
use crate::metadata::Metadata;
use crate::protocol::cursor::Cursor;
use crate::sink::{Sink, varint_len};
use crate::ttype::ProtocolId;

const FORMAT: &str = "THeader";
const MAGIC: u16 = 0x0fff;
const INFO_KEYVALUE: u64 = 0x01;
const INFO_PKEYVALUE: u64 = 0x02;
const MAX_FRAME: usize = 0x3fff_ffff;

/// Parses a whole THeader frame into its header, payload protocol and payload.
pub(super) fn decode(
    frame: &Blob,
    limits: DecodeLimits,
) -> Result<(HeaderInfo, ProtocolId, Blob), DecodeError> {
    let super::FixedHeader {
        flags,
        seq_id,
        header: mut cur,
        header_end,
    } = super::read_fixed_header(frame, limits, MAGIC, FORMAT, "THeader header")?;
    let protocol = match cur.varint64()? {
        0 => ProtocolId::Binary,
        2 => ProtocolId::Compact,
        id => {
            return Err(DecodeError::new(
                DecodeErrorKind::UnsupportedProtocol { format: FORMAT, id },
                14,
            ));
        }
    };
    let transforms = cur.varint64()?;
    if transforms > 0 {
        let at = cur.pos();
        let id = cur.varint64()?;
        return Err(DecodeError::new(
            DecodeErrorKind::UnsupportedTransform { format: FORMAT, id },
            at,
        ));
    }
    let mut metadata = Metadata::new();
    while cur.remaining() > 0 {
        let persistent = match cur.varint64()? {
            INFO_KEYVALUE => false,
            INFO_PKEYVALUE => true,
            // Padding (0) or an unknown block: the rest of the header is skipped.
            _ => break,
        };
        let count = cur.varint32()? as u64;
        // Each pair takes at least two bytes.
        let count = cur.check_container_len("THeader key/value", count, 2)?;
        for _ in 0..count {
            let key = read_str(&mut cur, "THeader key")?;
            let value = read_str(&mut cur, "THeader value")?;
            if persistent {
                metadata.push_persistent_header(key, value);
            } else {
                metadata.push_str(key, value);
            }
        }
    }
    let header = HeaderInfo {
        flags,
        seq_id,
        metadata,
        payload_framed: false,
    };
    Ok((header, protocol, frame.slice(header_end..)))
}

fn read_str(cur: &mut Cursor<'_>, what: &'static str) -> Result<BytesStr, DecodeError> {
    let len = cur.varint32()? as u64;
    let len = cur.check_bytes_len(what, len)?;
    cur.take_str(len)
}

fn kv_block_len(pairs: &[(BytesStr, BytesStr)]) -> usize {
    if pairs.is_empty() {
        return 0;
    }
    1 + varint_len(pairs.len() as u64)
        + pairs
            .iter()
            .map(|(k, v)| {
                varint_len(k.len() as u64) + k.len() + varint_len(v.len() as u64) + v.len()
            })
            .sum::<usize>()
}

/// Bytes of the header block (protocol id through padding).
pub(super) fn header_len(metadata: Option<&Metadata>) -> Result<usize, EncodeError> {
    let mut len = 2;
    if let Some(md) = metadata {
        len += kv_block_len(md.strs()) + kv_block_len(md.persistent_header());
    }
    let len = len.next_multiple_of(4);
    if len / 4 > u16::MAX as usize {
        return Err(EncodeError::TooLong {
            what: "THeader header",
            len,
            max: u16::MAX as usize * 4,
        });
    }
    Ok(len)
}

fn put_kv_block<B: BufMut>(out: &mut B, id: u64, pairs: &[(BytesStr, BytesStr)]) {
    if pairs.is_empty() {
        return;
    }
    out.put_varint(id);
    out.put_varint(pairs.len() as u64);
    for (k, v) in pairs {
        out.put_varint(k.len() as u64);
        BufMut::put_slice(out, k.as_bytes());
        out.put_varint(v.len() as u64);
        BufMut::put_slice(out, v.as_bytes());
    }
}

/// Writes the length, fixed fields and header block for a payload of `payload_len` bytes.
pub(super) fn encode_header<B: BufMut>(
    header: Option<&HeaderInfo>,
    protocol: ProtocolId,
    seq_id: i32,
    payload_len: usize,
    out: &mut B,
) -> Result<(), EncodeError> {
    let metadata = header.map(|h| &h.metadata);
    let header_len = header_len(metadata)?;
    let total = 10 + header_len + payload_len;
    if total > MAX_FRAME {
        return Err(EncodeError::TooLong {
            what: "THeader frame",
            len: total,
            max: MAX_FRAME,
        });
    }
    out.put_u32(total as u32);
    out.put_u16(MAGIC);
    out.put_u16(header.map_or(0, |h| h.flags));
    out.put_i32(seq_id);
    out.put_u16((header_len / 4) as u16);
    out.put_varint(protocol.header_id() as u64);
    out.put_varint(0); // no transforms
    let mut written = 2;
    if let Some(md) = metadata {
        put_kv_block(out, INFO_KEYVALUE, md.strs());
        put_kv_block(out, INFO_PKEYVALUE, md.persistent_header());
        written += kv_block_len(md.strs()) + kv_block_len(md.persistent_header());
    }
    out.put_bytes(0, header_len - written);
    Ok(())
}
