//! ringrpc-codec: the Thrift wire formats of ringrpc, with no I/O.
//!
//! - **Protocols** ([`protocol`]): [`Binary`] (strict and non-strict headers read, strict
//!   written) and [`Compact`]. They are zero-sized types used as generic parameters, so every
//!   encode and decode path is monomorphised: no `dyn` on the hot path.
//! - **Values** ([`Encode`], [`Decode`]): what generated code implements. Decoding reads a
//!   [`Blob`] or [`Bytes`] in place ([`BlobRef`]); `string` fields decode to [`BytesStr`] and
//!   `binary` fields to [`Blob`], both views into the input (no copy, no allocation per
//!   field). A `Blob` is a view into a pooled buffer slot ([`SlotRefs`]), a [`Bytes`], or
//!   static bytes. [`Encode::encoded_len`] gives the exact encoded size before a single byte is
//!   written.
//! - **Framing** ([`frame`]): Framed, Buffered (unframed), Kitex TTHeader and Apache THeader,
//!   with per-connection dialect detection from the first bytes ([`frame::detect`]) and header
//!   [`Metadata`] (Kitex `RPC_TRANSIT_`/`RPC_PERSIST_`/`RPC_BACKWARD_` conventions).
//! - **Bad input** never panics and never allocates what the peer merely claims: every length
//!   is checked against the bytes present and against [`DecodeLimits`]; every failure is a
//!   [`DecodeError`] naming what was wrong, the byte offset and the struct/field path.
//!
//! ```
//! use ringrpc_codec::{Binary, BytesStr, Compact, Decode, Encode};
//!
//! let s = BytesStr::from_static("hello");
//! let bytes = ringrpc_codec::to_bytes::<Compact, _>(&s).unwrap();
//! assert_eq!(bytes.len(), s.encoded_len::<Compact>());
//! let back: BytesStr = ringrpc_codec::from_bytes::<Compact, _>(&bytes).unwrap();
//! assert_eq!(back, "hello");
//! # let _ = Binary;
//! ```

pub mod app_exception;
pub mod blob;
pub mod bytes_str;
pub mod error;
pub mod frame;
pub mod limits;
pub mod message;
pub mod metadata;
pub mod protocol;
pub mod sink;
pub mod ttype;
pub mod value;

pub use app_exception::{ApplicationErrorKind, ApplicationException};
pub use blob::{Blob, BlobRef, SlotRefs};
pub use bytes::{Bytes, BytesMut};
pub use bytes_str::BytesStr;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, PathSegment};
pub use limits::DecodeLimits;
pub use message::{MessageHeader, MessageType};
pub use metadata::Metadata;
pub use protocol::{
    Binary, Compact, FieldHeader, ListHeader, MapHeader, Protocol, ProtocolReader, ProtocolWriter,
    StructScope,
};
pub use sink::{LenCounter, Sink};
pub use ttype::{ProtocolId, TType};
pub use uuid::Uuid;
pub use value::{Decode, Encode, HashMap, HashSet, UnionSlot, VecMap, VecSet};

/// Encodes `value` with protocol `P` into a new buffer of exactly the right size.
pub fn to_bytes<P: Protocol, T: Encode + ?Sized>(value: &T) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::with_capacity(value.encoded_len::<P>());
    {
        let mut writer = P::writer(&mut buf);
        value.encode(&mut writer)?;
    }
    Ok(buf.freeze())
}

/// Decodes one `T` from the whole of `bytes` with protocol `P` and the default limits.
///
/// `bytes` is a `&Blob` or `&Bytes` (read in place), or anything a [`Blob`] is made from
/// ([`DecodeInput`]). `string` and `binary` fields of the result are views into it, never
/// copies. Bytes left over after the value are an error
/// ([`DecodeErrorKind::TrailingBytes`]).
pub fn from_bytes<P: Protocol, T: Decode>(bytes: impl DecodeInput) -> Result<T, DecodeError> {
    from_bytes_with_limits::<P, T>(bytes, DecodeLimits::default())
}

/// [`from_bytes`] with explicit [`DecodeLimits`].
pub fn from_bytes_with_limits<P: Protocol, T: Decode>(
    bytes: impl DecodeInput,
    limits: DecodeLimits,
) -> Result<T, DecodeError> {
    bytes.with_ref(|input| {
        let mut reader = P::reader(input, limits);
        let value = T::decode(&mut reader)?;
        reader.finish()?;
        Ok(value)
    })
}

/// Bytes [`from_bytes`] decodes from: borrowed ones (`&Blob`, `&Bytes`) are read in place,
/// without a reference count taken for the decode; owned ones (a `Blob`, `Bytes`, `Vec<u8>`,
/// `String`, static bytes, …) are kept for the decode's duration.
pub trait DecodeInput {
    /// Calls `f` with these bytes, borrowed.
    fn with_ref<R>(self, f: impl FnOnce(BlobRef<'_>) -> R) -> R;
}

impl DecodeInput for &Blob {
    #[inline]
    fn with_ref<R>(self, f: impl FnOnce(BlobRef<'_>) -> R) -> R {
        f(BlobRef::Blob(self))
    }
}

impl DecodeInput for &Bytes {
    #[inline]
    fn with_ref<R>(self, f: impl FnOnce(BlobRef<'_>) -> R) -> R {
        f(BlobRef::Bytes(self))
    }
}

impl DecodeInput for Bytes {
    #[inline]
    fn with_ref<R>(self, f: impl FnOnce(BlobRef<'_>) -> R) -> R {
        f(BlobRef::Bytes(&self))
    }
}

/// Owned inputs become a [`Blob`] without copying, as `Blob`'s `From` impls do.
macro_rules! owned_decode_input {
    ($($input:ty),* $(,)?) => {$(
        impl DecodeInput for $input {
            #[inline]
            fn with_ref<R>(self, f: impl FnOnce(BlobRef<'_>) -> R) -> R {
                let blob = Blob::from(self);
                f(BlobRef::Blob(&blob))
            }
        }
    )*};
}

owned_decode_input!(
    Blob,
    BytesMut,
    Vec<u8>,
    Box<[u8]>,
    String,
    &'static [u8],
    &'static str,
);

impl<const N: usize> DecodeInput for &'static [u8; N] {
    #[inline]
    fn with_ref<R>(self, f: impl FnOnce(BlobRef<'_>) -> R) -> R {
        let blob = Blob::from_static(self);
        f(BlobRef::Blob(&blob))
    }
}
