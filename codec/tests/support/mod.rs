//! Test support: `thrift_struct!`/`thrift_union!`/`thrift_enum!`, hand-written stand-ins for
//! the code `ringrpc-codegen` will generate, so codec tests and benches can define typed
//! messages. Also included by `benches/` through `#[path]`.
#![allow(
    dead_code,
    unused_macros,
    unused_imports,
    missing_docs,
    unreachable_pub
)]

pub mod counting_alloc;
pub mod fuzz_checks;
pub mod samples;
pub mod types;

pub use ringrpc_codec::{
    Blob, BytesStr, Decode, DecodeError, DecodeErrorKind, Encode, EncodeError, ProtocolReader,
    ProtocolWriter, TType,
};

/// Defines a struct whose fields are `req` (required), `opt` (optional, `Option<T>`) or `def`
/// (default requiredness: always written, absent decodes as `Default`).
///
/// ```ignore
/// thrift_struct! {
///     #[derive(Debug, Clone, PartialEq, Default)]
///     pub struct Xtruct {
///         def 1: string_thing: BytesStr,
///         opt 4: byte_thing: i8,
///     }
/// }
/// ```
#[macro_export]
macro_rules! thrift_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($kind:ident $id:literal : $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[allow(missing_docs, unreachable_pub)]
        pub struct $name {
            $(pub $field: $crate::thrift_struct!(@ty $kind $ty),)*
        }

        impl $crate::support::Encode for $name {
            const TTYPE: $crate::support::TType = $crate::support::TType::Struct;
            #[inline]
            fn encode<W: $crate::support::ProtocolWriter>(
                &self,
                w: &mut W,
            ) -> Result<(), $crate::support::EncodeError> {
                let scope = w.write_struct_begin();
                $($crate::thrift_struct!(@enc $kind w, self.$field, $id, $ty);)*
                w.write_struct_end(scope);
                Ok(())
            }
        }

        impl $crate::support::Decode for $name {
            const TTYPE: $crate::support::TType = $crate::support::TType::Struct;
            #[inline]
            fn decode<R: $crate::support::ProtocolReader>(
                r: &mut R,
            ) -> Result<Self, $crate::support::DecodeError> {
                let scope = r.read_struct_begin()?;
                $(let mut $field: Option<$ty> = None;)*
                loop {
                    let f = r.read_field_begin()?;
                    if f.ttype == $crate::support::TType::Stop {
                        break;
                    }
                    match f.id {
                        $($id if <$ty as $crate::support::Decode>::wire_matches(r, f.ttype) => {
                            $field = Some(
                                <$ty as $crate::support::Decode>::decode(r).map_err(|e| {
                                    e.in_field(stringify!($name), stringify!($field), $id)
                                })?,
                            );
                        })*
                        _ => r.skip(f.ttype)?,
                    }
                }
                r.read_struct_end(scope);
                Ok($name {
                    $($field: $crate::thrift_struct!(@finish $kind r, $field, $name),)*
                })
            }
        }
    };
    (@ty req $ty:ty) => { $ty };
    (@ty def $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@enc opt $w:ident, $v:expr, $id:literal, $ty:ty) => {
        if let Some(v) = &$v {
            $w.write_field_begin(<$ty as $crate::support::Encode>::TTYPE, $id);
            $crate::support::Encode::encode(v, $w)?;
        }
    };
    (@enc $kind:ident $w:ident, $v:expr, $id:literal, $ty:ty) => {
        $w.write_field_begin(<$ty as $crate::support::Encode>::TTYPE, $id);
        $crate::support::Encode::encode(&$v, $w)?;
    };
    (@finish req $r:ident, $field:ident, $name:ident) => {
        match $field {
            Some(v) => v,
            None => {
                return Err($crate::support::DecodeError::new(
                    $crate::support::DecodeErrorKind::MissingRequiredField {
                        strukt: stringify!($name),
                        field: stringify!($field),
                    },
                    $r.position(),
                ))
            }
        }
    };
    (@finish def $r:ident, $field:ident, $name:ident) => { $field.unwrap_or_default() };
    (@finish opt $r:ident, $field:ident, $name:ident) => { $field };
}

/// Defines a union as a Rust enum: exactly one field on the wire.
#[macro_export]
macro_rules! thrift_union {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($id:literal : $variant:ident ($ty:ty)),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[allow(missing_docs, unreachable_pub)]
        pub enum $name {
            $($variant($ty),)*
        }

        impl $crate::support::Encode for $name {
            const TTYPE: $crate::support::TType = $crate::support::TType::Struct;
            fn encode<W: $crate::support::ProtocolWriter>(
                &self,
                w: &mut W,
            ) -> Result<(), $crate::support::EncodeError> {
                let scope = w.write_struct_begin();
                match self {
                    $($name::$variant(v) => {
                        w.write_field_begin(<$ty as $crate::support::Encode>::TTYPE, $id);
                        $crate::support::Encode::encode(v, w)?;
                    })*
                }
                w.write_struct_end(scope);
                Ok(())
            }
        }

        impl $crate::support::Decode for $name {
            const TTYPE: $crate::support::TType = $crate::support::TType::Struct;
            fn decode<R: $crate::support::ProtocolReader>(
                r: &mut R,
            ) -> Result<Self, $crate::support::DecodeError> {
                let start = r.position();
                let scope = r.read_struct_begin()?;
                let mut value = None;
                let mut count = 0;
                loop {
                    let f = r.read_field_begin()?;
                    if f.ttype == $crate::support::TType::Stop {
                        break;
                    }
                    match f.id {
                        $($id if <$ty as $crate::support::Decode>::wire_matches(r, f.ttype) => {
                            count += 1;
                            value = Some($name::$variant(
                                <$ty as $crate::support::Decode>::decode(r).map_err(|e| {
                                    e.in_field(stringify!($name), stringify!($variant), $id)
                                })?,
                            ));
                        })*
                        _ => r.skip(f.ttype)?,
                    }
                }
                r.read_struct_end(scope);
                match value {
                    Some(v) if count == 1 => Ok(v),
                    _ => Err($crate::support::DecodeError::new(
                        $crate::support::DecodeErrorKind::UnionFieldCount {
                            strukt: stringify!($name),
                            count,
                        },
                        start,
                    )),
                }
            }
        }
    };
}

/// Defines an enum as an `i32` newtype (unknown values survive decoding and re-encoding).
#[macro_export]
macro_rules! thrift_enum {
    (pub enum $name:ident { $($variant:ident = $value:literal),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        #[allow(missing_docs, unreachable_pub)]
        pub struct $name(pub i32);

        #[allow(non_upper_case_globals, missing_docs, unreachable_pub)]
        impl $name {
            $(pub const $variant: $name = $name($value);)*
        }

        impl $crate::support::Encode for $name {
            const TTYPE: $crate::support::TType = $crate::support::TType::I32;
            #[inline]
            fn encode<W: $crate::support::ProtocolWriter>(
                &self,
                w: &mut W,
            ) -> Result<(), $crate::support::EncodeError> {
                w.write_i32(self.0);
                Ok(())
            }
        }

        impl $crate::support::Decode for $name {
            const TTYPE: $crate::support::TType = $crate::support::TType::I32;
            #[inline]
            fn decode<R: $crate::support::ProtocolReader>(
                r: &mut R,
            ) -> Result<Self, $crate::support::DecodeError> {
                r.read_i32().map($name)
            }
        }
    };
}
