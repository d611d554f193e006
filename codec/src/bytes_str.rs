//! [`BytesStr`]: a cheap-to-clone UTF-8 string over a [`Blob`], validated once.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

use crate::blob::Blob;

/// An immutable UTF-8 string that shares its memory with a [`Blob`].
///
/// Decoding a Thrift `string` yields a `BytesStr` that points into the received frame
/// (a pooled slot, when the runtime read it): no copy, no allocation. Cloning bumps a reference count. UTF-8 is checked once, when
/// the value is created.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct BytesStr(Blob);

impl BytesStr {
    /// An empty string (no allocation).
    pub const fn new() -> Self {
        BytesStr(Blob::new())
    }

    /// Wraps a `'static` string without copying it.
    pub const fn from_static(s: &'static str) -> Self {
        BytesStr(Blob::from_static(s.as_bytes()))
    }

    /// Wraps `bytes` if they are valid UTF-8; otherwise returns them unchanged with the error.
    pub fn from_utf8(bytes: impl Into<Blob>) -> Result<Self, (Blob, std::str::Utf8Error)> {
        let bytes = bytes.into();
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(BytesStr(bytes)),
            Err(e) => Err((bytes, e)),
        }
    }

    /// Wraps bytes the caller has already checked are UTF-8.
    #[inline]
    pub(crate) fn from_validated(bytes: Blob) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        BytesStr(bytes)
    }

    /// Copies `s` into a new buffer.
    pub fn copy_from_str(s: &str) -> Self {
        BytesStr(Blob::copy_from_slice(s.as_bytes()))
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks that the bytes are UTF-8 (`from_utf8`; the decoder
        // validates before `from_validated`), or takes
        // them from a `str`/`String` (`from_static`, `copy_from_str`, `From<String>`), and
        // the bytes are immutable afterwards. Tested by `tests::invalid_utf8_is_rejected`.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    pub fn as_blob(&self) -> &Blob {
        &self.0
    }

    /// Unwraps the underlying bytes.
    pub fn into_blob(self) -> Blob {
        self.0
    }

    /// The string in memory of its own when it is a view into a pooled buffer slot (one
    /// copy), else itself: keep long-lived strings unpooled, or they hold their whole slot
    /// out of the pool ([`Blob::unpooled`]).
    pub fn unpooled(self) -> Self {
        BytesStr(self.0.unpooled())
    }
}

impl Deref for BytesStr {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for BytesStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for BytesStr {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<str> for BytesStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for BytesStr {
    // Hash like `str` so that `Borrow<str>` lookups in hash maps agree.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for BytesStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for BytesStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl From<String> for BytesStr {
    fn from(s: String) -> Self {
        BytesStr(Blob::from(s))
    }
}

impl From<&'static str> for BytesStr {
    fn from(s: &'static str) -> Self {
        BytesStr::from_static(s)
    }
}

impl From<BytesStr> for Blob {
    fn from(s: BytesStr) -> Blob {
        s.0
    }
}

impl From<BytesStr> for Bytes {
    fn from(s: BytesStr) -> Bytes {
        s.0.into_bytes()
    }
}

impl TryFrom<Bytes> for BytesStr {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        BytesStr::from_utf8(bytes).map_err(|(_, e)| e)
    }
}

impl TryFrom<Blob> for BytesStr {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: Blob) -> Result<Self, Self::Error> {
        BytesStr::from_utf8(bytes).map_err(|(_, e)| e)
    }
}

impl PartialEq<str> for BytesStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for BytesStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<BytesStr> for str {
    fn eq(&self, other: &BytesStr) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<BytesStr> for &str {
    fn eq(&self, other: &BytesStr) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn invalid_utf8_is_rejected() {
        let bad = Bytes::from_static(&[b'a', 0xff, b'b']);
        let (back, err) = BytesStr::from_utf8(bad.clone()).unwrap_err();
        assert_eq!(back, bad);
        assert_eq!(err.valid_up_to(), 1);
        let good = BytesStr::from_utf8(Bytes::from_static("héllo".as_bytes())).unwrap();
        assert_eq!(good.as_str(), "héllo");
        assert_eq!(good.len(), 6);
    }

    #[test]
    fn views_share_memory_and_hash_like_str() {
        let buf = Bytes::from(String::from("key-value"));
        let key = BytesStr::try_from(buf.slice(0..3)).unwrap();
        assert_eq!(key.as_blob().as_ptr(), buf.as_ptr());
        let mut map = HashMap::new();
        map.insert(key, 1);
        assert_eq!(map.get("key"), Some(&1));
        assert_eq!(BytesStr::from("x"), "x");
        assert_eq!(format!("{:?}", BytesStr::from("q\"")), "\"q\\\"\"");
    }
}
