//! Dialect detection from the first bytes of a connection, so that one server port serves
//! every client kind and replies in its dialect.

use super::{Dialect, Framing};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::ttype::ProtocolId;

const COMPACT_ID: u8 = 0x82;

/// Detects a connection's dialect from its first bytes (`Ok(None)`: need more bytes).
///
/// Recognises unframed strict Binary (`80 01`), unframed Compact (`82`), and, behind a
/// 4-byte length, THeader (`0F FF`), TTHeader (`10 00`), framed strict Binary and framed
/// Compact; old non-strict Binary is recognised framed and unframed when its method name
/// is printable ASCII.
pub fn detect(buf: &[u8]) -> Result<Option<Dialect>, DecodeError> {
    use Framing::*;
    use ProtocolId::*;
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    match b0 {
        0x80 => return Ok(Some(Dialect::new(Unframed, Binary))),
        COMPACT_ID => return Ok(Some(Dialect::new(Unframed, Compact))),
        _ => {}
    }
    let Some(head) = buf.first_chunk::<8>() else {
        return Ok(None);
    };
    match [head[4], head[5]] {
        [0x0f, 0xff] => {
            // The payload protocol id is the first header byte (a varint; 0 or 2).
            return Ok(buf
                .get(14)
                .map(|&id| Dialect::new(THeader, if id == 2 { Compact } else { Binary })));
        }
        [0x10, 0x00] => return Ok(Some(Dialect::new(TTHeader, Binary))),
        [0x80, 0x01] => return Ok(Some(Dialect::new(Framed, Binary))),
        [COMPACT_ID, _] => return Ok(Some(Dialect::new(Framed, Compact))),
        _ => {}
    }
    // Non-strict Binary: `name_len name type seq_id`, either bare or behind a frame length.
    let word0 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let word1 = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
    match looks_non_strict(&buf[4..], word1) {
        Some(true) if word1 + 9 <= word0 => return Ok(Some(Dialect::new(Framed, Binary))),
        None => return Ok(None),
        _ => {}
    }
    match looks_non_strict(buf, word0) {
        Some(true) => Ok(Some(Dialect::new(Unframed, Binary))),
        None => Ok(None),
        Some(false) => Err(DecodeError::new(
            DecodeErrorKind::UnknownDialect {
                first_bytes: head.to_vec(),
            },
            0,
        )),
    }
}

/// Whether `buf` starts with a non-strict message header with a name of `name_len`
/// printable bytes and a valid message type (`None`: need more bytes).
fn looks_non_strict(buf: &[u8], name_len: usize) -> Option<bool> {
    const MAX_NAME: usize = 256;
    if name_len == 0 || name_len > MAX_NAME {
        return Some(false);
    }
    let name = match buf.get(4..4 + name_len) {
        Some(name) => name,
        None => {
            let partial = buf.get(4..).unwrap_or(&[]);
            return if partial.iter().all(|b| b.is_ascii_graphic()) {
                None
            } else {
                Some(false)
            };
        }
    };
    if !name.iter().all(|b| b.is_ascii_graphic()) {
        return Some(false);
    }
    let ty = *buf.get(4 + name_len)?;
    Some((1..=4).contains(&ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(f: Framing, p: ProtocolId) -> Option<Dialect> {
        Some(Dialect::new(f, p))
    }

    #[test]
    fn detects_every_dialect() {
        use Framing::*;
        use ProtocolId::*;
        assert_eq!(detect(&[0x80, 0x01, 0, 1]).unwrap(), d(Unframed, Binary));
        assert_eq!(detect(&[0x82, 0x21]).unwrap(), d(Unframed, Compact));
        let theader = [0, 0, 0, 0x27, 0x0f, 0xff, 0, 0, 0, 0, 0, 7, 0, 1, 2, 0];
        assert_eq!(detect(&theader[..14]).unwrap(), None);
        assert_eq!(detect(&theader).unwrap(), d(THeader, Compact));
        assert_eq!(
            detect(&[0, 0, 0, 0x3b, 0x10, 0, 0, 0]).unwrap(),
            d(TTHeader, Binary)
        );
        assert_eq!(
            detect(&[0, 0, 0, 9, 0x80, 1, 0, 1]).unwrap(),
            d(Framed, Binary)
        );
        assert_eq!(
            detect(&[0, 0, 0, 9, 0x82, 0x21, 0, 1]).unwrap(),
            d(Framed, Compact)
        );
        let mut non_strict = vec![0, 0, 0, 4];
        non_strict.extend_from_slice(b"ping\x01\0\0\0\x01");
        assert_eq!(detect(&non_strict).unwrap(), d(Unframed, Binary));
        let mut framed_non_strict = vec![0, 0, 0, 14];
        framed_non_strict.extend_from_slice(&non_strict);
        assert_eq!(detect(&framed_non_strict).unwrap(), d(Framed, Binary));
    }

    #[test]
    fn asks_for_more_or_rejects() {
        assert_eq!(detect(&[]).unwrap(), None);
        assert_eq!(detect(&[0, 0, 0]).unwrap(), None);
        assert_eq!(detect(&[0, 0, 0, 4, b'p', b'i']).unwrap(), None);
        let err = detect(b"GET / HTTP/1.1\r\n").unwrap_err();
        assert!(
            matches!(err.kind(), DecodeErrorKind::UnknownDialect { .. }),
            "{err}"
        );
    }
}
