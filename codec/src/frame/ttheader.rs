//! Kitex TTHeader: magic `0x1000`, fixed-width (`u8`/`u16`) header fields, string and
//! integer key/values, ACL token.
//!
//! ```text
//! u32 length | u16 0x1000 | u16 flags | u32 seq id | u16 header size (×4 bytes)
//! u8 protocol id | u8 transform count, u8 ids | info blocks | zero padding | payload
//! info 0x00 padding; 0x01 string KV: u16 n, n × (u16 len key, u16 len value);
//! 0x10 int KV: u16 n, n × (u16 key, u16 len value); 0x11 ACL token: u16 len value
//! ```

use bytes::BufMut;

use crate::blob::Blob;

use super::HeaderInfo;
use crate::bytes_str::BytesStr;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::limits::DecodeLimits;
use crate::metadata::Metadata;
use crate::protocol::cursor::Cursor;

const FORMAT: &str = "TTHeader";
const MAGIC: u16 = 0x1000;
const INFO_PADDING: u8 = 0x00;
const INFO_KEYVALUE: u8 = 0x01;
const INFO_INTKEYVALUE: u8 = 0x10;
const INFO_ACL_TOKEN: u8 = 0x11;

/// Parses a whole TTHeader frame into its header and payload.
pub(super) fn decode(
    frame: &Blob,
    limits: DecodeLimits,
) -> Result<(HeaderInfo, Blob), DecodeError> {
    let super::FixedHeader {
        flags,
        seq_id,
        header: mut cur,
        header_end,
    } = super::read_fixed_header(frame, limits, MAGIC, FORMAT, "TTHeader header")?;
    let protocol = cur.u8()?;
    if protocol != 0 {
        return Err(DecodeError::new(
            DecodeErrorKind::UnsupportedProtocol {
                format: FORMAT,
                id: protocol as u64,
            },
            14,
        ));
    }
    let transforms = cur.u8()?;
    if transforms > 0 {
        let at = cur.pos();
        let id = cur.u8()?;
        return Err(DecodeError::new(
            DecodeErrorKind::UnsupportedTransform {
                format: FORMAT,
                id: id as u64,
            },
            at,
        ));
    }
    let mut metadata = Metadata::new();
    while cur.remaining() > 0 {
        let at = cur.pos();
        match cur.u8()? {
            INFO_PADDING => {}
            INFO_KEYVALUE => {
                let count = u16::from_be_bytes(cur.array()?);
                for _ in 0..count {
                    let key = read_str(&mut cur, "TTHeader key")?;
                    let value = read_str(&mut cur, "TTHeader value")?;
                    metadata.push_str(key, value);
                }
            }
            INFO_INTKEYVALUE => {
                let count = u16::from_be_bytes(cur.array()?);
                for _ in 0..count {
                    let key = u16::from_be_bytes(cur.array()?);
                    let value = read_str(&mut cur, "TTHeader value")?;
                    metadata.push_int(key, value);
                }
            }
            INFO_ACL_TOKEN => {
                let token = read_str(&mut cur, "TTHeader ACL token")?;
                metadata.set_acl_token(Some(token));
            }
            id => {
                return Err(DecodeError::new(
                    DecodeErrorKind::UnknownInfoId {
                        format: FORMAT,
                        id: id as u64,
                    },
                    at,
                ));
            }
        }
    }
    let mut payload = frame.slice(header_end..);
    // Kitex "TTHeaderFramed": the payload repeats a 4-byte length before the message.
    let payload_framed = payload.len() >= 6
        && u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) as usize
            == payload.len() - 4
        && payload[4] == 0x80;
    if payload_framed {
        payload = payload.slice(4..);
    }
    let header = HeaderInfo {
        flags,
        seq_id,
        metadata,
        payload_framed,
    };
    Ok((header, payload))
}

fn read_str(cur: &mut Cursor<'_>, what: &'static str) -> Result<BytesStr, DecodeError> {
    let len = u16::from_be_bytes(cur.array()?) as u64;
    let len = cur.check_bytes_len(what, len)?;
    cur.take_str(len)
}

/// Bytes of the header block (protocol id through padding).
pub(super) fn header_len(metadata: Option<&Metadata>) -> Result<usize, EncodeError> {
    let mut len = 2;
    if let Some(md) = metadata {
        if let Some(token) = md.acl_token() {
            len += 3 + u16_len("TTHeader ACL token", token.len())?;
        }
        let strs = md.strs().len() + md.persistent_header().len();
        if strs > 0 {
            count("TTHeader string keys", strs)?;
            len += 3;
            for (k, v) in md.strs().iter().chain(md.persistent_header()) {
                len += 4 + u16_len("TTHeader key", k.len())? + u16_len("TTHeader value", v.len())?;
            }
        }
        if !md.ints().is_empty() {
            count("TTHeader integer keys", md.ints().len())?;
            len += 3;
            for (_, v) in md.ints() {
                len += 4 + u16_len("TTHeader value", v.len())?;
            }
        }
    }
    Ok(len.next_multiple_of(4))
}

fn u16_len(what: &'static str, len: usize) -> Result<usize, EncodeError> {
    if len > u16::MAX as usize {
        return Err(EncodeError::TooLong {
            what,
            len,
            max: u16::MAX as usize,
        });
    }
    Ok(len)
}

fn count(what: &'static str, n: usize) -> Result<u16, EncodeError> {
    u16::try_from(n).map_err(|_| EncodeError::TooLong {
        what,
        len: n,
        max: u16::MAX as usize,
    })
}

fn put_str<B: BufMut>(out: &mut B, s: &str) {
    out.put_u16(s.len() as u16);
    out.put_slice(s.as_bytes());
}

/// Writes the length, fixed fields and header block for a payload of `payload_len` bytes.
pub(super) fn encode_header<B: BufMut>(
    header: Option<&HeaderInfo>,
    seq_id: i32,
    payload_len: usize,
    out: &mut B,
) -> Result<(), EncodeError> {
    let metadata = header.map(|h| &h.metadata);
    let header_len = header_len(metadata)?;
    let framed = header.is_some_and(|h| h.payload_framed);
    let total = 10 + header_len + payload_len + 4 * framed as usize;
    if total > i32::MAX as usize || header_len / 4 > u16::MAX as usize {
        return Err(EncodeError::TooLong {
            what: "TTHeader frame",
            len: total,
            max: i32::MAX as usize,
        });
    }
    out.put_u32(total as u32);
    out.put_u16(MAGIC);
    out.put_u16(header.map_or(0, |h| h.flags));
    out.put_i32(seq_id);
    out.put_u16((header_len / 4) as u16);
    out.put_u8(0); // protocol: binary
    out.put_u8(0); // no transforms
    let mut written = 2;
    if let Some(md) = metadata {
        if let Some(token) = md.acl_token() {
            out.put_u8(INFO_ACL_TOKEN);
            put_str(out, token);
            written += 3 + token.len();
        }
        let strs = md.strs().len() + md.persistent_header().len();
        if strs > 0 {
            out.put_u8(INFO_KEYVALUE);
            out.put_u16(strs as u16);
            written += 3;
            for (k, v) in md.strs().iter().chain(md.persistent_header()) {
                put_str(out, k);
                put_str(out, v);
                written += 4 + k.len() + v.len();
            }
        }
        if !md.ints().is_empty() {
            out.put_u8(INFO_INTKEYVALUE);
            out.put_u16(md.ints().len() as u16);
            written += 3;
            for (k, v) in md.ints() {
                out.put_u16(*k);
                put_str(out, v);
                written += 4 + v.len();
            }
        }
    }
    out.put_bytes(0, header_len - written);
    Ok(())
}
