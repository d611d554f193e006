//! The Thrift syntax tree, as written (names unresolved), with spans and doc comments.

use crate::diagnostic::Span;

/// A name and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The text (may be dotted: `shared.Thing`, `Numberz.ONE`).
    pub name: String,
    /// Where.
    pub span: Span,
}

/// A doc comment (`/** … */` or `///` lines).
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// The text, comment markers removed.
    pub text: String,
    /// Where the whole comment is in the source (for locating `@control_plane`).
    pub span: Span,
}

/// `(key = "value", …)` after an element.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// The key (`control_plane.timeout_ms`).
    pub key: Ident,
    /// The value (empty when only the key is written).
    pub value: String,
    /// Where the value is (the key's span when there is none).
    pub value_span: Span,
}

/// A whole `.thrift` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// `include "…"`, in order.
    pub includes: Vec<Include>,
    /// `namespace scope name`.
    pub namespaces: Vec<Namespace>,
    /// Everything else, in order.
    pub definitions: Vec<Definition>,
}

/// `include "path"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    /// The path as written.
    pub path: String,
    /// Where.
    pub span: Span,
}

/// `namespace scope name (annotations)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Namespace {
    /// The language scope (`rs`, `py`, `*`, …).
    pub scope: Ident,
    /// The namespace.
    pub name: Ident,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// A top-level definition.
#[derive(Debug, Clone, PartialEq)]
pub enum Definition {
    /// `const T name = value`.
    Const(Const),
    /// `typedef T name`.
    Typedef(Typedef),
    /// `enum`.
    Enum(Enum),
    /// `struct`, `union`, `exception`.
    Struct(StructLike),
    /// `service`.
    Service(Service),
}

impl Definition {
    /// The defined name.
    pub fn name(&self) -> &Ident {
        match self {
            Definition::Const(c) => &c.name,
            Definition::Typedef(t) => &t.name,
            Definition::Enum(e) => &e.name,
            Definition::Struct(s) => &s.name,
            Definition::Service(s) => &s.name,
        }
    }
}

/// A base type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseType {
    /// `bool`.
    Bool,
    /// `byte` / `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// `binary`.
    Binary,
    /// `uuid`.
    Uuid,
}

impl BaseType {
    /// The base type named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<BaseType> {
        Some(match name {
            "bool" => BaseType::Bool,
            "byte" | "i8" => BaseType::I8,
            "i16" => BaseType::I16,
            "i32" => BaseType::I32,
            "i64" => BaseType::I64,
            "double" => BaseType::Double,
            "string" => BaseType::String,
            "binary" => BaseType::Binary,
            "uuid" => BaseType::Uuid,
            _ => return None,
        })
    }
}

/// A type as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Type {
    /// What type.
    pub kind: TypeKind,
    /// Annotations written after it.
    pub annotations: Vec<Annotation>,
    /// Where.
    pub span: Span,
}

/// The shape of a [`Type`].
#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// A base type.
    Base(BaseType),
    /// A named type (struct, enum, typedef; possibly `include.Name`).
    Named(Ident),
    /// `list<T>`.
    List(Box<Type>),
    /// `set<T>`.
    Set(Box<Type>),
    /// `map<K, V>`.
    Map(Box<Type>, Box<Type>),
}

/// A constant value as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstValue {
    /// The value.
    pub kind: ConstKind,
    /// Where.
    pub span: Span,
}

/// The shape of a [`ConstValue`].
#[derive(Debug, Clone, PartialEq)]
pub enum ConstKind {
    /// An integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A string.
    Str(String),
    /// A name: `true`/`false`, an enum value, another constant.
    Ident(String),
    /// `[a, b]`.
    List(Vec<ConstValue>),
    /// `{k: v}` (also struct-like values).
    Map(Vec<(ConstValue, ConstValue)>),
}

/// `const T name = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Type.
    pub ty: Type,
    /// Name.
    pub name: Ident,
    /// Value.
    pub value: ConstValue,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// `typedef T name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Typedef {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// The aliased type.
    pub ty: Type,
    /// Name.
    pub name: Ident,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// `enum Name { A = 1, B }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Enum {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Name.
    pub name: Ident,
    /// Values in order.
    pub values: Vec<EnumValue>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// One enum value.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumValue {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Name.
    pub name: Ident,
    /// Explicit value, if written.
    pub value: Option<(i64, Span)>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// Which struct-like definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructKind {
    /// `struct`.
    Struct,
    /// `union`.
    Union,
    /// `exception`.
    Exception,
}

/// `struct`, `union` or `exception`.
#[derive(Debug, Clone, PartialEq)]
pub struct StructLike {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Which.
    pub kind: StructKind,
    /// Name.
    pub name: Ident,
    /// Fields in order.
    pub fields: Vec<Field>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// Field requiredness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requiredness {
    /// `required`.
    Required,
    /// `optional`.
    Optional,
    /// Neither written ("default requiredness").
    Default,
}

/// A struct field, function parameter or `throws` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Explicit id, if written.
    pub id: Option<(i64, Span)>,
    /// Requiredness.
    pub requiredness: Requiredness,
    /// Type.
    pub ty: Type,
    /// Name.
    pub name: Ident,
    /// Default value.
    pub default: Option<ConstValue>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// `service Name extends Base { … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Name.
    pub name: Ident,
    /// The parent service.
    pub extends: Option<Ident>,
    /// Methods in order.
    pub functions: Vec<Function>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// A service method.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// `oneway`.
    pub oneway: bool,
    /// Return type (`None`: `void`).
    pub returns: Option<Type>,
    /// Name.
    pub name: Ident,
    /// Parameters.
    pub params: Vec<Field>,
    /// Declared exceptions.
    pub throws: Vec<Field>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}
