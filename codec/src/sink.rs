//! [`Sink`]: where protocol writers put bytes — any [`BufMut`], or a [`LenCounter`] that
//! only counts, which is how [`Encode::encoded_len`](crate::Encode::encoded_len) gets an
//! exact size without writing anything.

use bytes::BufMut;

/// A byte destination for protocol writers.
pub trait Sink {
    /// Appends one byte.
    fn put_u8(&mut self, b: u8);
    /// Appends a slice.
    fn put_slice(&mut self, s: &[u8]);
    /// Appends `v` as an unsigned LEB128 varint.
    #[inline]
    fn put_varint(&mut self, mut v: u64) {
        let mut buf = [0u8; 10];
        let mut n = 0;
        while v >= 0x80 {
            buf[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        buf[n] = v as u8;
        self.put_slice(&buf[..=n]);
    }
}

impl<B: BufMut + ?Sized> Sink for B {
    #[inline]
    fn put_u8(&mut self, b: u8) {
        BufMut::put_u8(self, b)
    }
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        BufMut::put_slice(self, s)
    }
}

/// A [`Sink`] that counts the bytes it is given and stores none.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LenCounter(pub usize);

impl Sink for LenCounter {
    #[inline]
    fn put_u8(&mut self, _: u8) {
        self.0 += 1;
    }
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        self.0 += s.len();
    }
    #[inline]
    fn put_varint(&mut self, v: u64) {
        self.0 += varint_len(v);
    }
}

/// Bytes an unsigned LEB128 varint of `v` takes.
#[inline]
pub const fn varint_len(v: u64) -> usize {
    // 1 byte per started 7-bit group; `| 1` makes 0 take one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_agrees_with_writes() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            out.put_varint(v);
            let mut c = LenCounter::default();
            c.put_varint(v);
            assert_eq!(out.len(), c.0, "varint {v}");
            assert_eq!(varint_len(v), c.0);
        }
    }
}
