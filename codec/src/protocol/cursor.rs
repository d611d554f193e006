//! [`Cursor`]: bounds-checked reading over the input, shared by both protocol readers.

use crate::blob::{Blob, BlobRef};
use crate::bytes_str::BytesStr;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::limits::DecodeLimits;

/// Position, depth and limits over one input buffer.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    /// The buffer `data` belongs to, when values may be views into it.
    owner: Option<BlobRef<'a>>,
    pos: usize,
    depth: u32,
    pub(crate) limits: DecodeLimits,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(owner: BlobRef<'a>, limits: DecodeLimits) -> Self {
        Cursor {
            data: owner.as_slice(),
            owner: Some(owner),
            pos: 0,
            depth: 0,
            limits,
        }
    }

    pub(crate) fn from_slice(data: &'a [u8], limits: DecodeLimits) -> Self {
        Cursor {
            data,
            owner: None,
            pos: 0,
            depth: 0,
            limits,
        }
    }

    /// A cursor over `owner[start..end]` whose positions are offsets into `owner`
    /// (`end` is clamped to the owner's length).
    pub(crate) fn range(owner: &'a Blob, start: usize, end: usize, limits: DecodeLimits) -> Self {
        let end = end.min(owner.len());
        Cursor {
            data: &owner[..end],
            owner: Some(BlobRef::Blob(owner)),
            pos: start.min(end),
            depth: 0,
            limits,
        }
    }

    /// An unsigned LEB128 varint of at most 10 bytes that fits in 64 bits.
    #[inline]
    pub(crate) fn varint64(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut result = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            result |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                if i == 9 && b > 1 {
                    return Err(DecodeError::new(
                        DecodeErrorKind::VarintOverflow { bits: 64 },
                        start,
                    ));
                }
                return Ok(result);
            }
        }
        Err(DecodeError::new(
            DecodeErrorKind::VarintTooLong { max_bytes: 10 },
            start,
        ))
    }

    /// An unsigned LEB128 varint of at most 5 bytes that fits in 32 bits.
    #[inline]
    pub(crate) fn varint32(&mut self) -> Result<u32, DecodeError> {
        let start = self.pos;
        let b = self.u8()?;
        if b & 0x80 == 0 {
            return Ok(b as u32);
        }
        let mut result = (b & 0x7f) as u32;
        for i in 1..5 {
            let b = self.u8()?;
            result |= ((b & 0x7f) as u32) << (7 * i);
            if b & 0x80 == 0 {
                if i == 4 && b > 0x0f {
                    return Err(DecodeError::new(
                        DecodeErrorKind::VarintOverflow { bits: 32 },
                        start,
                    ));
                }
                return Ok(result);
            }
        }
        Err(DecodeError::new(
            DecodeErrorKind::VarintTooLong { max_bytes: 5 },
            start,
        ))
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    #[cold]
    pub(crate) fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.pos)
    }

    #[cold]
    fn eof(&self, needed: usize) -> DecodeError {
        self.error(DecodeErrorKind::UnexpectedEof {
            needed,
            remaining: self.remaining(),
        })
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        match self
            .data
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
        {
            Some(chunk) => {
                self.pos += N;
                Ok(*chunk)
            }
            None => Err(self.eof(N)),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.eof(1)),
        }
    }

    /// The byte at the current position plus `ahead`, without consuming.
    #[inline]
    pub(crate) fn peek(&self, ahead: usize) -> Option<u8> {
        self.data.get(self.pos + ahead).copied()
    }

    /// The rest of the input, without consuming.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    #[inline]
    pub(crate) fn advance(&mut self, n: usize) -> Result<(), DecodeError> {
        if n > self.remaining() {
            return Err(self.eof(n));
        }
        self.pos += n;
        Ok(())
    }

    /// Checks a string/binary length against the limit and the bytes present.
    #[inline]
    pub(crate) fn check_bytes_len(
        &self,
        what: &'static str,
        len: u64,
    ) -> Result<usize, DecodeError> {
        if len > self.limits.max_string_len as u64 {
            return Err(self.error(DecodeErrorKind::LimitExceeded {
                what,
                len,
                limit: self.limits.max_string_len,
            }));
        }
        if len > self.remaining() as u64 {
            return Err(self.error(DecodeErrorKind::LengthPastEnd {
                what,
                len,
                remaining: self.remaining(),
            }));
        }
        Ok(len as usize)
    }

    /// Checks a container element count: each element takes at least `min_entry_bytes`.
    #[inline]
    pub(crate) fn check_container_len(
        &self,
        what: &'static str,
        len: u64,
        min_entry_bytes: u64,
    ) -> Result<usize, DecodeError> {
        if len > self.limits.max_container_len as u64 {
            return Err(self.error(DecodeErrorKind::LimitExceeded {
                what,
                len,
                limit: self.limits.max_container_len,
            }));
        }
        if len.saturating_mul(min_entry_bytes) > self.remaining() as u64 {
            return Err(self.error(DecodeErrorKind::LengthPastEnd {
                what,
                len,
                remaining: self.remaining(),
            }));
        }
        Ok(len as usize)
    }

    /// A view (or, for slice readers, a copy) of the next `len` bytes, which the caller
    /// has checked are present.
    #[inline(always)]
    pub(crate) fn take_bytes(&mut self, len: usize) -> Blob {
        let start = self.pos;
        self.pos += len;
        if len == 0 {
            return Blob::new();
        }
        let view = match self.owner {
            Some(owner) => owner.view(start, len),
            None => copy_out(&self.data[start..start + len]),
        };
        // Handed on word by word: see `Blob::moved_by_words`.
        view.moved_by_words()
    }

    /// Like [`take_bytes`](Self::take_bytes), checking UTF-8.
    ///
    /// Inlined whole into the caller, so the view goes from registers into the decoded
    /// field: returned through memory, it cost a store-forwarding stall per string.
    #[inline(always)]
    pub(crate) fn take_str(&mut self, len: usize) -> Result<BytesStr, DecodeError> {
        let raw = &self.data[self.pos..self.pos + len];
        // Most strings on the wire are ASCII: std's word-at-a-time check settles those; the
        // rest go to SIMD validation, out of line.
        if !raw.is_ascii() {
            check_utf8(raw).map_err(|kind| self.error(kind))?;
        }
        let bytes = self.take_bytes(len);
        Ok(BytesStr::from_validated(bytes))
    }

    #[inline]
    pub(crate) fn enter(&mut self) -> Result<(), DecodeError> {
        if self.depth >= self.limits.max_depth {
            return Err(self.error(DecodeErrorKind::DepthExceeded {
                limit: self.limits.max_depth,
            }));
        }
        self.depth += 1;
        Ok(())
    }

    #[inline]
    pub(crate) fn exit(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    #[inline]
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(self.error(DecodeErrorKind::TrailingBytes { count })),
        }
    }
}

/// A copy of `bytes`: the slice reader's values, out of the decode's hot path.
#[inline(never)]
fn copy_out(bytes: &[u8]) -> Blob {
    Blob::copy_from_slice(bytes)
}

/// Validates a string that is not all ASCII: SIMD on the way, std only to locate an error.
#[inline(never)]
fn check_utf8(raw: &[u8]) -> Result<(), DecodeErrorKind> {
    if simdutf8::basic::from_utf8(raw).is_ok() {
        return Ok(());
    }
    let valid_up_to = std::str::from_utf8(raw)
        .err()
        .map_or(0, |e| e.valid_up_to());
    Err(DecodeErrorKind::InvalidUtf8 { valid_up_to })
}
