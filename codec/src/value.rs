//! [`Encode`] and [`Decode`]: what generated types implement, and their implementations
//! for Thrift's base types and containers.
//!
//! | IDL | Rust |
//! |---|---|
//! | `bool`, `byte`/`i8`, `i16`, `i32`, `i64`, `double` | `bool`, `i8`, `i16`, `i32`, `i64`, `f64` |
//! | `string` | [`BytesStr`] (zero-copy), or `String` (copies) |
//! | `binary` | [`Blob`] (zero-copy), or `Bytes` (zero-copy unless pooled) |
//! | `uuid` | [`uuid::Uuid`] |
//! | `list<T>` | `Vec<T>` |
//! | `set<T>` | [`HashSet<T>`] (aHash), any `std::collections::HashSet<T, S>`, `BTreeSet<T>` |
//! | `map<K, V>` | [`HashMap<K, V>`] (aHash), any `std::collections::HashMap<K, V, S>`, `BTreeMap<K, V>` |
//!
//! `Box<T>` and `Arc<T>` encode and decode as `T` (for recursive types). [`VecSet`] and
//! [`VecMap`] hold sets and maps whose elements cannot be hashed (`set<double>`,
//! `map<set<i32>, …>`), in wire order.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use bytes::Bytes;

use crate::blob::Blob;
use crate::bytes_str::BytesStr;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, PathSegment};
use crate::protocol::{Protocol, ProtocolReader, ProtocolWriter};
use crate::sink::LenCounter;
use crate::ttype::TType;

/// The map type for `map<K, V>` in generated code: std's `HashMap` hashed with aHash
/// (fast, and seeded per process so peers cannot choose colliding keys).
pub type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// The set type for `set<T>` in generated code (see [`HashMap`]).
pub type HashSet<T> = std::collections::HashSet<T, ahash::RandomState>;

/// Preallocation for decoded containers is capped at this many bytes of elements, so a
/// lying length cannot make the decoder reserve memory the input does not back.
const PREALLOC_BYTES: usize = 64 * 1024;

#[inline]
fn prealloc<T>(len: usize) -> usize {
    len.min(PREALLOC_BYTES / size_of::<T>().max(1))
}

/// A value that can be written with any Thrift protocol.
pub trait Encode {
    /// Its wire type.
    const TTYPE: TType;

    /// Writes the value.
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError>;

    /// The exact number of bytes [`encode`](Self::encode) writes with protocol `P`,
    /// computed by a dry run that stores nothing.
    #[inline]
    fn encoded_len<P: Protocol>(&self) -> usize {
        let mut w = P::writer(LenCounter::default());
        // A value too long to encode fails `encode` itself; its length is moot.
        let _ = self.encode(&mut w);
        P::into_sink(w).0
    }
}

/// A value that can be read with any Thrift protocol.
pub trait Decode: Sized {
    /// Its wire type.
    const TTYPE: TType;

    /// Reads the value.
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError>;

    /// Whether a field whose wire type is `ttype` (with the reader positioned at its
    /// value) can be decoded as `Self`. Generated code skips fields for which this is
    /// false, as Apache does for a known field id with the wrong type. Containers also
    /// compare their element types.
    #[inline]
    fn wire_matches<R: ProtocolReader>(r: &R, ttype: TType) -> bool {
        let _ = r;
        ttype == Self::TTYPE
    }
}

macro_rules! scalar {
    ($ty:ty, $ttype:ident, $write:ident, $read:ident) => {
        impl Encode for $ty {
            const TTYPE: TType = TType::$ttype;
            #[inline]
            fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
                w.$write(*self);
                Ok(())
            }
        }
        impl Decode for $ty {
            const TTYPE: TType = TType::$ttype;
            #[inline]
            fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
                r.$read()
            }
        }
    };
}

scalar!(bool, Bool, write_bool, read_bool);
scalar!(i8, I8, write_i8, read_i8);
scalar!(i16, I16, write_i16, read_i16);
scalar!(i32, I32, write_i32, read_i32);
scalar!(i64, I64, write_i64, read_i64);
scalar!(f64, Double, write_double, read_double);

impl Encode for uuid::Uuid {
    const TTYPE: TType = TType::Uuid;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_uuid(self.as_bytes());
        Ok(())
    }
}

impl Decode for uuid::Uuid {
    const TTYPE: TType = TType::Uuid;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        Ok(uuid::Uuid::from_bytes(r.read_uuid()?))
    }
}

impl Encode for BytesStr {
    const TTYPE: TType = TType::String;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_string(self)
    }
}

impl Decode for BytesStr {
    const TTYPE: TType = TType::String;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        r.read_string()
    }
}

impl Encode for Blob {
    const TTYPE: TType = TType::String;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_binary(self)
    }
}

impl Decode for Blob {
    const TTYPE: TType = TType::String;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        r.read_binary()
    }
}

impl Encode for Bytes {
    const TTYPE: TType = TType::String;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_binary(self)
    }
}

/// For hand-written types that want `Bytes`: free for heap input; a view into a pooled
/// buffer costs one allocation ([`Blob::into_bytes`]). Generated code uses [`Blob`].
impl Decode for Bytes {
    const TTYPE: TType = TType::String;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        r.read_binary().map(Blob::into_bytes)
    }
}

impl Encode for str {
    const TTYPE: TType = TType::String;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_string(self)
    }
}

impl Encode for String {
    const TTYPE: TType = TType::String;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        w.write_string(self)
    }
}

impl Decode for String {
    const TTYPE: TType = TType::String;
    /// Copies the string out of the input; prefer [`BytesStr`] on hot paths.
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        Ok(r.read_string()?.as_str().to_owned())
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    const TTYPE: TType = T::TTYPE;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        (**self).encode(w)
    }
}

macro_rules! smart_pointer {
    ($ptr:ident) => {
        impl<T: Encode + ?Sized> Encode for $ptr<T> {
            const TTYPE: TType = T::TTYPE;
            #[inline]
            fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
                (**self).encode(w)
            }
        }
        impl<T: Decode> Decode for $ptr<T> {
            const TTYPE: TType = T::TTYPE;
            #[inline]
            fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
                T::decode(r).map($ptr::new)
            }
            #[inline]
            fn wire_matches<R: ProtocolReader>(r: &R, ttype: TType) -> bool {
                T::wire_matches(r, ttype)
            }
        }
    };
}

smart_pointer!(Box);
smart_pointer!(Arc);

/// Whether a container element of wire type `found` can decode as `expected`.
#[cold]
fn element_mismatch(
    container: &'static str,
    expected: TType,
    found: TType,
    at: usize,
) -> DecodeError {
    DecodeError::new(
        DecodeErrorKind::ElementTypeMismatch {
            container,
            expected,
            found,
        },
        at,
    )
}

/// Writes `len` elements of a list.
#[inline]
pub fn encode_list<'a, W, T, I>(w: &mut W, len: usize, items: I) -> Result<(), EncodeError>
where
    W: ProtocolWriter,
    T: Encode + 'a,
    I: IntoIterator<Item = &'a T>,
{
    w.write_list_begin(T::TTYPE, len)?;
    for item in items {
        item.encode(w)?;
    }
    Ok(())
}

/// Writes `len` elements of a set.
#[inline]
pub fn encode_set<'a, W, T, I>(w: &mut W, len: usize, items: I) -> Result<(), EncodeError>
where
    W: ProtocolWriter,
    T: Encode + 'a,
    I: IntoIterator<Item = &'a T>,
{
    w.write_set_begin(T::TTYPE, len)?;
    for item in items {
        item.encode(w)?;
    }
    Ok(())
}

/// Writes `len` entries of a map.
#[inline]
pub fn encode_map<'a, W, K, V, I>(w: &mut W, len: usize, entries: I) -> Result<(), EncodeError>
where
    W: ProtocolWriter,
    K: Encode + 'a,
    V: Encode + 'a,
    I: IntoIterator<Item = (&'a K, &'a V)>,
{
    w.write_map_begin(K::TTYPE, V::TTYPE, len)?;
    for (k, v) in entries {
        k.encode(w)?;
        v.encode(w)?;
    }
    Ok(())
}

/// Reads a list or set, calling `push` for each decoded element.
#[inline]
fn decode_elements<R, T>(
    r: &mut R,
    set: bool,
    mut push: impl FnMut(T, usize),
) -> Result<(), DecodeError>
where
    R: ProtocolReader,
    T: Decode,
{
    let at = r.position();
    let header = if set {
        r.read_set_begin()?
    } else {
        r.read_list_begin()?
    };
    let container = if set { "set" } else { "list" };
    if header.len > 0 && header.elem != T::TTYPE {
        return Err(element_mismatch(container, T::TTYPE, header.elem, at));
    }
    for i in 0..header.len {
        let item = T::decode(r).map_err(|e| e.in_segment(PathSegment::Element(i)))?;
        push(item, header.len);
    }
    if set {
        r.read_set_end();
    } else {
        r.read_list_end();
    }
    Ok(())
}

/// Reads a map, calling `insert` for each decoded entry (with the entry count).
#[inline]
fn decode_entries<R, K, V>(
    r: &mut R,
    mut insert: impl FnMut(K, V, usize),
) -> Result<(), DecodeError>
where
    R: ProtocolReader,
    K: Decode,
    V: Decode,
{
    let at = r.position();
    let header = r.read_map_begin()?;
    if header.len > 0 {
        if header.key != K::TTYPE {
            return Err(element_mismatch("map key", K::TTYPE, header.key, at));
        }
        if header.value != V::TTYPE {
            return Err(element_mismatch("map value", V::TTYPE, header.value, at));
        }
    }
    for i in 0..header.len {
        let k = K::decode(r).map_err(|e| e.in_segment(PathSegment::MapKey(i)))?;
        let v = V::decode(r).map_err(|e| e.in_segment(PathSegment::MapValue(i)))?;
        insert(k, v, header.len);
    }
    r.read_map_end();
    Ok(())
}

#[inline]
fn list_matches<R: ProtocolReader, T: Decode>(r: &R, ttype: TType, container: TType) -> bool {
    ttype == container
        && r.peek_container_types(container)
            .is_none_or(|(elem, _)| elem == T::TTYPE)
}

#[inline]
fn map_matches<R: ProtocolReader, K: Decode, V: Decode>(r: &R, ttype: TType) -> bool {
    ttype == TType::Map
        && r.peek_container_types(TType::Map)
            .is_none_or(|(k, v)| k == K::TTYPE && v == V::TTYPE)
}

impl<T: Encode> Encode for Vec<T> {
    const TTYPE: TType = TType::List;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        encode_list(w, self.len(), self.iter())
    }
}

impl<T: Encode> Encode for [T] {
    const TTYPE: TType = TType::List;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        encode_list(w, self.len(), self.iter())
    }
}

impl<T: Decode> Decode for Vec<T> {
    const TTYPE: TType = TType::List;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Vec::new();
        decode_elements(r, false, |item, len| {
            if out.capacity() == 0 {
                out.reserve_exact(prealloc::<T>(len));
            }
            out.push(item)
        })?;
        Ok(out)
    }
    #[inline]
    fn wire_matches<R: ProtocolReader>(r: &R, ttype: TType) -> bool {
        list_matches::<R, T>(r, ttype, TType::List)
    }
}

impl<T: Encode, S> Encode for std::collections::HashSet<T, S> {
    const TTYPE: TType = TType::Set;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        encode_set(w, self.len(), self.iter())
    }
}

impl<T: Decode + Eq + Hash, S: BuildHasher + Default> Decode for std::collections::HashSet<T, S> {
    const TTYPE: TType = TType::Set;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = std::collections::HashSet::with_hasher(S::default());
        decode_elements(r, true, |item, len| {
            if out.capacity() == 0 {
                out.reserve(prealloc::<T>(len));
            }
            out.insert(item);
        })?;
        Ok(out)
    }
    #[inline]
    fn wire_matches<R: ProtocolReader>(r: &R, ttype: TType) -> bool {
        list_matches::<R, T>(r, ttype, TType::Set)
    }
}

impl<T: Encode> Encode for BTreeSet<T> {
    const TTYPE: TType = TType::Set;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        encode_set(w, self.len(), self.iter())
    }
}

impl<T: Decode + Ord> Decode for BTreeSet<T> {
    const TTYPE: TType = TType::Set;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = BTreeSet::new();
        decode_elements(r, true, |item, _| {
            out.insert(item);
        })?;
        Ok(out)
    }
    #[inline]
    fn wire_matches<R: ProtocolReader>(r: &R, ttype: TType) -> bool {
        list_matches::<R, T>(r, ttype, TType::Set)
    }
}

impl<K: Encode, V: Encode, S> Encode for std::collections::HashMap<K, V, S> {
    const TTYPE: TType = TType::Map;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        encode_map(w, self.len(), self.iter())
    }
}

impl<K, V, S> Decode for std::collections::HashMap<K, V, S>
where
    K: Decode + Eq + Hash,
    V: Decode,
    S: BuildHasher + Default,
{
    const TTYPE: TType = TType::Map;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = std::collections::HashMap::with_hasher(S::default());
        decode_entries(r, |k, v, len| {
            if out.capacity() == 0 {
                out.reserve(prealloc::<(K, V)>(len));
            }
            out.insert(k, v);
        })?;
        Ok(out)
    }
    #[inline]
    fn wire_matches<R: ProtocolReader>(r: &R, ttype: TType) -> bool {
        map_matches::<R, K, V>(r, ttype)
    }
}

impl<K: Encode, V: Encode> Encode for BTreeMap<K, V> {
    const TTYPE: TType = TType::Map;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        encode_map(w, self.len(), self.iter())
    }
}

impl<K: Decode + Ord, V: Decode> Decode for BTreeMap<K, V> {
    const TTYPE: TType = TType::Map;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = BTreeMap::new();
        decode_entries(r, |k, v, _| {
            out.insert(k, v);
        })?;
        Ok(out)
    }
    #[inline]
    fn wire_matches<R: ProtocolReader>(r: &R, ttype: TType) -> bool {
        map_matches::<R, K, V>(r, ttype)
    }
}

/// `()` is the empty struct: the arguments of a method without parameters, or the result
/// of a `void` method. Decoding skips any fields a newer peer sent.
impl Encode for () {
    const TTYPE: TType = TType::Struct;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        let scope = w.write_struct_begin();
        w.write_struct_end(scope);
        Ok(())
    }
}

impl Decode for () {
    const TTYPE: TType = TType::Struct;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        r.skip(TType::Struct)
    }
}

/// A `set<T>` kept as a `Vec` in wire order, for element types that cannot be hashed
/// (`double`, maps, sets, structs holding them). Duplicates are not removed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VecSet<T>(pub Vec<T>);

impl<T: Encode> Encode for VecSet<T> {
    const TTYPE: TType = TType::Set;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        encode_set(w, self.0.len(), self.0.iter())
    }
}

impl<T: Decode> Decode for VecSet<T> {
    const TTYPE: TType = TType::Set;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Vec::new();
        decode_elements(r, true, |item, len| {
            if out.capacity() == 0 {
                out.reserve_exact(prealloc::<T>(len));
            }
            out.push(item)
        })?;
        Ok(VecSet(out))
    }
    #[inline]
    fn wire_matches<R: ProtocolReader>(r: &R, ttype: TType) -> bool {
        list_matches::<R, T>(r, ttype, TType::Set)
    }
}

/// A `map<K, V>` kept as entries in wire order, for key types that cannot be hashed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VecMap<K, V>(pub Vec<(K, V)>);

impl<K: Encode, V: Encode> Encode for VecMap<K, V> {
    const TTYPE: TType = TType::Map;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        encode_map(w, self.0.len(), self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<K: Decode, V: Decode> Decode for VecMap<K, V> {
    const TTYPE: TType = TType::Map;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Vec::new();
        decode_entries(r, |k, v, len| {
            if out.capacity() == 0 {
                out.reserve_exact(prealloc::<(K, V)>(len));
            }
            out.push((k, v));
        })?;
        Ok(VecMap(out))
    }
    #[inline]
    fn wire_matches<R: ProtocolReader>(r: &R, ttype: TType) -> bool {
        map_matches::<R, K, V>(r, ttype)
    }
}

/// Collects the one field of a union (or of a method's result struct, which is a union of
/// the return value and the declared exceptions) while a decoder reads its fields.
#[derive(Debug)]
pub struct UnionSlot<T> {
    value: Option<T>,
    count: usize,
}

impl<T> Default for UnionSlot<T> {
    fn default() -> Self {
        UnionSlot {
            value: None,
            count: 0,
        }
    }
}

impl<T> UnionSlot<T> {
    /// Reads field `id`, whose header said `ttype`, as variant `wrap` (skipped if the wire
    /// type does not match `V`, as [`read_field`] does).
    #[inline]
    pub fn read<R: ProtocolReader, V: Decode>(
        &mut self,
        r: &mut R,
        ttype: TType,
        wrap: impl FnOnce(V) -> T,
        strukt: &'static str,
        field: &'static str,
        id: i16,
    ) -> Result<(), DecodeError> {
        let mut slot = None;
        read_field(r, ttype, &mut slot, strukt, field, id)?;
        if let Some(v) = slot {
            self.value = Some(wrap(v));
            self.count += 1;
        }
        Ok(())
    }

    /// The union's value: exactly one field must have been read, else an `UnionFieldCount`
    /// error at `start`, the union's first byte.
    #[inline]
    pub fn finish(self, strukt: &'static str, start: usize) -> Result<T, DecodeError> {
        match self.value {
            Some(v) if self.count == 1 => Ok(v),
            _ => Err(DecodeError::new(
                DecodeErrorKind::UnionFieldCount {
                    strukt,
                    count: self.count,
                },
                start,
            )),
        }
    }

    /// The field read last, if any (result structs: a peer sets exactly one, and Apache
    /// readers keep the last).
    #[inline]
    pub fn last(self) -> Option<T> {
        self.value
    }
}

/// Writes field `id` holding `value` (generated code calls this for each set field).
#[inline]
pub fn write_field<W, T>(w: &mut W, id: i16, value: &T) -> Result<(), EncodeError>
where
    W: ProtocolWriter,
    T: Encode + ?Sized,
{
    w.write_field_begin(T::TTYPE, id);
    value.encode(w)
}

/// Writes field `id` if `value` is set.
#[inline]
pub fn write_optional_field<W, T>(w: &mut W, id: i16, value: &Option<T>) -> Result<(), EncodeError>
where
    W: ProtocolWriter,
    T: Encode,
{
    match value {
        Some(v) => write_field(w, id, v),
        None => Ok(()),
    }
}

/// Reads a field whose header said `ttype` into `slot` if the wire type matches `T`, and
/// skips it otherwise (a known id with another type, as Apache does). Errors name the
/// struct and field.
#[inline]
pub fn read_field<R, T>(
    r: &mut R,
    ttype: TType,
    slot: &mut Option<T>,
    strukt: &'static str,
    field: &'static str,
    id: i16,
) -> Result<(), DecodeError>
where
    R: ProtocolReader,
    T: Decode,
{
    if T::wire_matches(r, ttype) {
        *slot = Some(T::decode(r).map_err(|e| e.in_field(strukt, field, id))?);
        Ok(())
    } else {
        r.skip(ttype)
    }
}

/// The value of a required field, or the error naming it.
#[inline]
pub fn required<T>(
    slot: Option<T>,
    strukt: &'static str,
    field: &'static str,
    position: usize,
) -> Result<T, DecodeError> {
    slot.ok_or_else(|| {
        DecodeError::new(
            DecodeErrorKind::MissingRequiredField { strukt, field },
            position,
        )
    })
}
