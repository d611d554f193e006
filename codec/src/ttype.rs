//! Thrift wire type ids ([`TType`]) and payload protocol ids ([`ProtocolId`]).

use std::fmt;

/// The type of a value on the wire, with Thrift's Binary-protocol type codes.
///
/// The Compact protocol uses other codes on the wire; its reader and writer translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TType {
    /// End of a struct's fields.
    Stop = 0,
    /// No value (only in service signatures).
    Void = 1,
    /// `bool`.
    Bool = 2,
    /// `byte` / `i8`.
    I8 = 3,
    /// `double`.
    Double = 4,
    /// `i16`.
    I16 = 6,
    /// `i32` (and enums).
    I32 = 8,
    /// `i64`.
    I64 = 10,
    /// `string` and `binary`.
    String = 11,
    /// `struct`, `union`, `exception`.
    Struct = 12,
    /// `map<K, V>`.
    Map = 13,
    /// `set<T>`.
    Set = 14,
    /// `list<T>`.
    List = 15,
    /// `uuid` (16 bytes).
    Uuid = 16,
}

impl TType {
    /// Maps a Binary-protocol type code to a `TType`, or `None` for an unknown code.
    #[inline]
    pub const fn from_code(code: u8) -> Option<TType> {
        Some(match code {
            0 => TType::Stop,
            1 => TType::Void,
            2 => TType::Bool,
            3 => TType::I8,
            4 => TType::Double,
            6 => TType::I16,
            8 => TType::I32,
            10 => TType::I64,
            11 => TType::String,
            12 => TType::Struct,
            13 => TType::Map,
            14 => TType::Set,
            15 => TType::List,
            16 => TType::Uuid,
            _ => return None,
        })
    }

    /// The IDL name of this type, for error messages.
    pub const fn name(self) -> &'static str {
        match self {
            TType::Stop => "stop",
            TType::Void => "void",
            TType::Bool => "bool",
            TType::I8 => "i8",
            TType::Double => "double",
            TType::I16 => "i16",
            TType::I32 => "i32",
            TType::I64 => "i64",
            TType::String => "string",
            TType::Struct => "struct",
            TType::Map => "map",
            TType::Set => "set",
            TType::List => "list",
            TType::Uuid => "uuid",
        }
    }
}

impl fmt::Display for TType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which Thrift protocol encodes a message payload (as named in THeader/TTHeader headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolId {
    /// Thrift Binary (header id 0).
    Binary,
    /// Thrift Compact (header id 2).
    Compact,
}

impl ProtocolId {
    /// The id written in THeader and TTHeader protocol fields.
    pub const fn header_id(self) -> u8 {
        match self {
            ProtocolId::Binary => 0,
            ProtocolId::Compact => 2,
        }
    }
}

impl fmt::Display for ProtocolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolId::Binary => "binary",
            ProtocolId::Compact => "compact",
        })
    }
}
