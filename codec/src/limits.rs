//! [`DecodeLimits`]: the bounds every decoder enforces on untrusted input.

/// Bounds applied while decoding untrusted input.
///
/// Every length read from the wire is checked against the bytes actually present *and*
/// against these limits before anything is allocated. Nesting depth also bounds the
/// decoder's recursion, so keep `max_depth` modest (the default is Apache's 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest frame accepted, in bytes (default 16 MiB).
    pub max_frame_len: usize,
    /// Longest `string`/`binary` value, in bytes (default 16 MiB).
    pub max_string_len: usize,
    /// Most elements in one list, set or map (default 16 Mi).
    pub max_container_len: usize,
    /// Deepest nesting of structs and containers (default 64).
    pub max_depth: u32,
}

impl DecodeLimits {
    /// Upper bound for `max_depth`: deeper limits could overflow the decoder's stack.
    pub const MAX_DEPTH_CEILING: u32 = 1024;

    /// Returns these limits with `max_frame_len` set.
    pub const fn with_max_frame_len(mut self, len: usize) -> Self {
        self.max_frame_len = len;
        self
    }

    /// Returns these limits with `max_string_len` set.
    pub const fn with_max_string_len(mut self, len: usize) -> Self {
        self.max_string_len = len;
        self
    }

    /// Returns these limits with `max_container_len` set.
    pub const fn with_max_container_len(mut self, len: usize) -> Self {
        self.max_container_len = len;
        self
    }

    /// Returns these limits with `max_depth` set (clamped to [`Self::MAX_DEPTH_CEILING`]).
    pub const fn with_max_depth(mut self, depth: u32) -> Self {
        self.max_depth = if depth > Self::MAX_DEPTH_CEILING {
            Self::MAX_DEPTH_CEILING
        } else {
            depth
        };
        self
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_frame_len: 16 << 20,
            max_string_len: 16 << 20,
            max_container_len: 16 << 20,
            max_depth: 64,
        }
    }
}
