//! The resolved IR: every definition of a program with names, typedefs, includes, constant
//! values and `@control_plane` policies resolved. A public API: generators (Rust code, a
//! policy exporter) read it; [`crate::resolve()`] builds it.

use std::sync::Arc;

use crate::diagnostic::{SourceFile, Span};
use crate::policy::Policy;
pub use crate::thrift::ast::{Requiredness, StructKind};

/// Index of a definition in [`Ir::defs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DefId(pub usize);

/// A resolved program.
#[derive(Debug, Clone)]
pub struct Ir {
    /// Every definition of every file.
    pub defs: Vec<Def>,
    /// The files, includes first, the root last.
    pub files: Vec<IrFile>,
}

impl Ir {
    /// The definition `id`.
    pub fn def(&self, id: DefId) -> &Def {
        &self.defs[id.0]
    }

    /// The root file's definitions, in source order.
    pub fn root_defs(&self) -> impl Iterator<Item = (DefId, &Def)> {
        let root = self.files.len() - 1;
        self.defs_of(root)
    }

    /// File `file`'s definitions, in source order.
    pub fn defs_of(&self, file: usize) -> impl Iterator<Item = (DefId, &Def)> {
        self.files[file]
            .defs
            .iter()
            .map(|&id| (id, &self.defs[id.0]))
    }

    /// Follows typedefs to the underlying type.
    pub fn resolve_typedefs<'a>(&'a self, mut ty: &'a Ty) -> &'a Ty {
        while let Ty::Typedef(id) = ty {
            match &self.def(*id).kind {
                DefKind::Typedef(inner) => ty = inner,
                _ => break,
            }
        }
        ty
    }
}

/// One file of the program.
#[derive(Debug, Clone)]
pub struct IrFile {
    /// The source.
    pub source: Arc<SourceFile>,
    /// The file stem, the prefix other files use (`shared` for `shared.thrift`).
    pub stem: String,
    /// `namespace rs` (or `namespace *`), if declared.
    pub rust_namespace: Option<String>,
    /// Its definitions in source order.
    pub defs: Vec<DefId>,
}

/// A definition.
#[derive(Debug, Clone)]
pub struct Def {
    /// Its IDL name.
    pub name: String,
    /// Index of its file in [`Ir::files`].
    pub file: usize,
    /// Where its name is.
    pub span: Span,
    /// Its doc comment.
    pub doc: Option<String>,
    /// Its annotations (`key`, `value`).
    pub annotations: Vec<(String, String)>,
    /// What it is.
    pub kind: DefKind,
}

/// What a definition is.
#[derive(Debug, Clone)]
pub enum DefKind {
    /// An enum.
    Enum(EnumDef),
    /// A struct, union or exception.
    Struct(StructDef),
    /// A typedef of this type.
    Typedef(Ty),
    /// A constant.
    Const(ConstDef),
    /// A service.
    Service(ServiceDef),
}

/// A resolved type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// `bool`.
    Bool,
    /// `byte`/`i8`.
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
    /// `list<T>`.
    List(Box<Ty>),
    /// `set<T>`.
    Set(Box<Ty>),
    /// `map<K, V>`.
    Map(Box<Ty>, Box<Ty>),
    /// An enum.
    Enum(DefId),
    /// A struct, union or exception.
    Struct(DefId),
    /// A typedef (see [`Ir::resolve_typedefs`]).
    Typedef(DefId),
}

/// An enum's values in source order, implicit values filled in.
#[derive(Debug, Clone)]
pub struct EnumDef {
    /// `(name, value, doc)`.
    pub values: Vec<EnumValueDef>,
}

/// One enum value.
#[derive(Debug, Clone)]
pub struct EnumValueDef {
    /// IDL name.
    pub name: String,
    /// Value (explicit or implicit).
    pub value: i64,
    /// Doc comment.
    pub doc: Option<String>,
}

/// A struct, union or exception.
#[derive(Debug, Clone)]
pub struct StructDef {
    /// Which.
    pub kind: StructKind,
    /// Fields in source order.
    pub fields: Vec<FieldDef>,
}

/// A field, parameter or declared exception.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// The id (implicit ids are negative).
    pub id: i16,
    /// IDL name (kept on the wire).
    pub name: String,
    /// Type.
    pub ty: Ty,
    /// Requiredness.
    pub requiredness: Requiredness,
    /// Default value, type-checked.
    pub default: Option<Value>,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where its name is.
    pub span: Span,
}

/// A constant.
#[derive(Debug, Clone)]
pub struct ConstDef {
    /// Its type.
    pub ty: Ty,
    /// Its value, type-checked against `ty`.
    pub value: Value,
}

/// A type-checked constant value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A bool.
    Bool(bool),
    /// Any integer type (range-checked).
    Int(i64),
    /// A double.
    Double(f64),
    /// A string or binary.
    String(String),
    /// An enum value: the enum and the value.
    Enum(DefId, i64),
    /// A list or set.
    List(Vec<Value>),
    /// A map.
    Map(Vec<(Value, Value)>),
    /// A struct: `(field name, value)` for the fields given.
    Struct(Vec<(String, Value)>),
}

/// A service.
#[derive(Debug, Clone)]
pub struct ServiceDef {
    /// The parent service.
    pub extends: Option<DefId>,
    /// Its own methods (not the parent's), in source order.
    pub methods: Vec<MethodDef>,
    /// Its service-level `@control_plane` policy.
    pub policy: Policy,
}

/// A service method.
#[derive(Debug, Clone)]
pub struct MethodDef {
    /// IDL name.
    pub name: String,
    /// `oneway`.
    pub oneway: bool,
    /// Return type (`None`: `void`).
    pub returns: Option<Ty>,
    /// Parameters.
    pub params: Vec<FieldDef>,
    /// Declared exceptions.
    pub throws: Vec<FieldDef>,
    /// The effective `@control_plane` policy (method keys over the service's).
    pub policy: Policy,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where its name is.
    pub span: Span,
}
