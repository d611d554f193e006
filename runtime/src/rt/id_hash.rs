//! [`IdHasher`]: the hasher of the per-core maps keyed by ids and pointers (clients by id,
//! method policies by `MethodInfo` address), which need no SipHash.

use std::hash::Hasher;

/// Hashes a client id or a pointer by spreading its bits (one multiplication).
#[derive(Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        // The high bits folded into the low ones: pointers are aligned, and a product
        // keeps their zero low bits, which would leave most buckets unused.
        let h = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }

    fn write_usize(&mut self, id: usize) {
        self.write_u64(id as u64);
    }
}
