//! Typed decode and encode errors: what was wrong, at which byte, on which field path.

use std::fmt;

use crate::ttype::TType;

/// One step of the path from the outermost value down to where decoding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSegment {
    /// A field of a struct, union or exception.
    Field {
        /// The IDL name of the struct.
        strukt: &'static str,
        /// The IDL name of the field.
        field: &'static str,
        /// The field id.
        id: i16,
    },
    /// The element at this index of a list or set.
    Element(usize),
    /// The key of the map entry at this index.
    MapKey(usize),
    /// The value of the map entry at this index.
    MapValue(usize),
}

/// What went wrong while decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside a value.
    #[error("unexpected end of input: {needed} bytes needed, {remaining} left")]
    UnexpectedEof {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length or size field was negative.
    #[error("negative {what} length {len}")]
    NegativeLength {
        /// What the length was of (`string`, `list`, `frame`, …).
        what: &'static str,
        /// The length read.
        len: i64,
    },
    /// A length claims more bytes than the input holds.
    #[error("{what} length {len} exceeds the {remaining} bytes left")]
    LengthPastEnd {
        /// What the length was of.
        what: &'static str,
        /// The length read.
        len: u64,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length exceeds a configured [`DecodeLimits`](crate::DecodeLimits) bound.
    #[error("{what} length {len} exceeds the limit of {limit}")]
    LimitExceeded {
        /// What the length was of.
        what: &'static str,
        /// The length read.
        len: u64,
        /// The configured limit.
        limit: usize,
    },
    /// Structs and containers nest deeper than the configured limit.
    #[error("nesting deeper than the limit of {limit}")]
    DepthExceeded {
        /// The configured depth limit.
        limit: u32,
    },
    /// A `string` field holds bytes that are not UTF-8.
    #[error("string is not valid UTF-8 (valid up to byte {valid_up_to} of the string)")]
    InvalidUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// A message header names a protocol version this decoder does not speak.
    #[error("unsupported {protocol} protocol version {version:#x}")]
    BadVersion {
        /// `binary` or `compact`.
        protocol: &'static str,
        /// The version found.
        version: u32,
    },
    /// A compact message did not start with the protocol id `0x82`.
    #[error("bad compact protocol id {found:#04x} (expected 0x82)")]
    BadProtocolId {
        /// The byte found.
        found: u8,
    },
    /// A message header carries an unknown message type.
    #[error("unknown message type {found}")]
    BadMessageType {
        /// The type code found.
        found: u8,
    },
    /// A type code on the wire is not a Thrift type (or not valid where it appears).
    #[error("invalid {protocol} type code {code}")]
    InvalidType {
        /// `binary` or `compact`.
        protocol: &'static str,
        /// The code found.
        code: u8,
    },
    /// A compact bool element byte was neither 0, 1 nor 2.
    #[error("invalid compact bool byte {found:#04x}")]
    InvalidBool {
        /// The byte found.
        found: u8,
    },
    /// A varint ran past its maximum length.
    #[error("varint longer than {max_bytes} bytes")]
    VarintTooLong {
        /// Maximum bytes for the target width.
        max_bytes: usize,
    },
    /// A varint encodes a value wider than its target.
    #[error("varint value does not fit in {bits} bits")]
    VarintOverflow {
        /// The target width.
        bits: u32,
    },
    /// A decoded integer does not fit its target width.
    #[error("integer {value} does not fit in {target}")]
    IntegerOverflow {
        /// The decoded value.
        value: i64,
        /// The target type (`i16`, `i32`, `field id`).
        target: &'static str,
    },
    /// A required field was absent.
    #[error("required field `{field}` of `{strukt}` is missing")]
    MissingRequiredField {
        /// The struct's IDL name.
        strukt: &'static str,
        /// The field's IDL name.
        field: &'static str,
    },
    /// A union had no field set, or more than one.
    #[error("union `{strukt}` has {count} fields set; exactly one is required")]
    UnionFieldCount {
        /// The union's IDL name.
        strukt: &'static str,
        /// How many fields were set.
        count: usize,
    },
    /// A container's element type differs from the declared one.
    #[error("{container} element type is {found}, expected {expected}")]
    ElementTypeMismatch {
        /// `list`, `set`, `map key` or `map value`.
        container: &'static str,
        /// The declared element type.
        expected: TType,
        /// The type on the wire.
        found: TType,
    },
    /// A value was expected at the top level but another type was on the wire.
    #[error("expected a {expected}, found a {found}")]
    UnexpectedType {
        /// The expected type.
        expected: TType,
        /// The type found.
        found: TType,
    },
    /// Bytes were left after a complete value or message.
    #[error("{count} trailing bytes after the end of the message")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A frame length exceeds the configured maximum.
    #[error("frame of {len} bytes exceeds the limit of {limit}")]
    FrameTooLarge {
        /// The length the frame claims.
        len: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A header (TTHeader/THeader) is malformed.
    #[error("malformed {format} header: {reason}")]
    BadHeader {
        /// `TTHeader` or `THeader`.
        format: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A header info block has an id this format does not define.
    #[error("unknown {format} info block id {id:#04x}")]
    UnknownInfoId {
        /// `TTHeader` or `THeader`.
        format: &'static str,
        /// The id found.
        id: u64,
    },
    /// A header names a transform (zlib, snappy, …) this codec does not apply.
    #[error("unsupported {format} transform id {id}")]
    UnsupportedTransform {
        /// `TTHeader` or `THeader`.
        format: &'static str,
        /// The transform id.
        id: u64,
    },
    /// A header names a payload protocol this codec does not speak.
    #[error("unsupported {format} payload protocol id {id}")]
    UnsupportedProtocol {
        /// `TTHeader` or `THeader`.
        format: &'static str,
        /// The protocol id.
        id: u64,
    },
    /// The first bytes of a connection match no known dialect.
    #[error("unrecognised transport: first bytes {first_bytes:02x?}")]
    UnknownDialect {
        /// Up to 8 first bytes seen.
        first_bytes: Vec<u8>,
    },
}

/// A decode failure: its [`DecodeErrorKind`], the byte offset where it was found and the
/// struct/field path down to the failing value.
///
/// Boxed so that `Result<T, DecodeError>` stays one word wide on the hot path.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodeError(Box<Inner>);

#[derive(Clone, PartialEq, Eq)]
struct Inner {
    kind: DecodeErrorKind,
    offset: usize,
    /// Innermost segment first (pushed while unwinding).
    path: Vec<PathSegment>,
}

impl DecodeError {
    /// A new error of `kind`, found at byte `offset` of the input.
    #[cold]
    pub fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        DecodeError(Box::new(Inner {
            kind,
            offset,
            path: Vec::new(),
        }))
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.0.kind
    }

    /// Byte offset in the decoded input (frame payload or buffer) where it went wrong.
    pub fn offset(&self) -> usize {
        self.0.offset
    }

    /// The path from the outermost value to the failing one.
    pub fn path(&self) -> impl Iterator<Item = &PathSegment> {
        self.0.path.iter().rev()
    }

    /// Whether the input simply ended too early (more bytes may complete it).
    pub fn is_truncation(&self) -> bool {
        matches!(
            self.0.kind,
            DecodeErrorKind::UnexpectedEof { .. } | DecodeErrorKind::LengthPastEnd { .. }
        )
    }

    /// Adds "inside field `field` of `strukt`" to the path (generated code calls this).
    #[cold]
    pub fn in_field(mut self, strukt: &'static str, field: &'static str, id: i16) -> Self {
        self.0.path.push(PathSegment::Field { strukt, field, id });
        self
    }

    /// Adds a path segment.
    #[cold]
    pub fn in_segment(mut self, segment: PathSegment) -> Self {
        self.0.path.push(segment);
        self
    }

    /// Shifts the offset by `base` (when the decoded input was part of a larger frame).
    pub fn offset_by(mut self, base: usize) -> Self {
        self.0.offset += base;
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.0.kind, self.0.offset)?;
        if !self.0.path.is_empty() {
            f.write_str(" in ")?;
            for (i, seg) in self.path().enumerate() {
                match seg {
                    PathSegment::Field { strukt, field, id } => {
                        if i == 0 {
                            write!(f, "{strukt}")?;
                        }
                        write!(f, ".{field}(#{id})")?;
                    }
                    PathSegment::Element(n) => write!(f, "[{n}]")?,
                    PathSegment::MapKey(n) => write!(f, "{{key #{n}}}")?,
                    PathSegment::MapValue(n) => write!(f, "{{value #{n}}}")?,
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("kind", &self.0.kind)
            .field("offset", &self.0.offset)
            .field("message", &format_args!("{self}"))
            .finish()
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0.kind)
    }
}

/// An encode failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A length does not fit the wire format's length field.
    #[error("{what} of {len} bytes/elements exceeds the format's maximum of {max}")]
    TooLong {
        /// What was too long (`string`, `list`, `TTHeader key`, …).
        what: &'static str,
        /// Its length.
        len: usize,
        /// The maximum the format allows.
        max: usize,
    },
    /// A header field cannot be encoded in the chosen framing.
    #[error("cannot encode {what} in {format}")]
    Unsupported {
        /// The framing (`TTHeader`, `THeader`, `framed`).
        format: &'static str,
        /// What cannot be encoded.
        what: &'static str,
    },
}
