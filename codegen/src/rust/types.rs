//! Rust items for the types of one IDL file: structs, exceptions, unions (Rust enums),
//! enums (open `i32` newtypes: unknown values survive), typedefs and constants, each with its
//! `Encode`/`Decode` implementation. Generated code names only `::ringrpc::__codegen`,
//! imported in every generated module as `__rt`.

use super::analysis::Analysis;
use super::code::{Code, line, open};
use super::names::{camel, screaming, snake};
use crate::ir::*;

/// Emits Rust for the IR.
#[derive(Clone, Copy)]
pub(crate) struct TypeGen<'a> {
    pub(crate) ir: &'a Ir,
    /// The file being generated (for cross-file paths).
    pub(crate) file: usize,
    /// Precomputed struct facts.
    pub(crate) analysis: &'a Analysis,
    /// Generating inside a service's module (one level below the file's module).
    pub(crate) nested: bool,
}

/// The `#[derive]` line of a struct or union.
fn derives(hashable: bool, default: bool) -> &'static str {
    match (hashable, default) {
        (true, true) => "#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]",
        (true, false) => "#[derive(Debug, Clone, PartialEq, Eq, Hash)]",
        (false, true) => "#[derive(Debug, Clone, Default, PartialEq)]",
        (false, false) => "#[derive(Debug, Clone, PartialEq)]",
    }
}

/// A Rust string literal for `s`.
pub(super) fn str_lit(s: &str) -> String {
    format!("{s:?}")
}

/// A Rust byte string literal for `bytes`.
fn byte_str_lit(bytes: &[u8]) -> String {
    let mut out = String::from("b\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The name of the local a struct's decoder collects field `name` in.
fn local(name: &str) -> String {
    format!("f_{}", snake(name).trim_start_matches("r#"))
}

impl TypeGen<'_> {
    /// The Rust path of definition `id` as seen from the module being generated.
    pub(super) fn path(&self, id: DefId) -> String {
        let def = self.ir.def(id);
        let name = camel(&def.name);
        let up = if self.nested { "super::" } else { "" };
        if def.file == self.file {
            format!("{up}{name}")
        } else {
            let module = snake(&self.ir.files[def.file].stem);
            format!("{up}super::{module}::{name}")
        }
    }

    /// Whether values of `ty` can derive `Eq` and `Hash` (no doubles, no hash maps/sets).
    fn is_hashable(&self, ty: &Ty) -> bool {
        match ty {
            Ty::Double | Ty::Set(_) | Ty::Map(..) => false,
            Ty::List(t) => self.is_hashable(t),
            Ty::Typedef(_) => self.is_hashable(self.ir.resolve_typedefs(ty)),
            Ty::Struct(id) => self.analysis.hashable.contains(id),
            _ => true,
        }
    }

    /// The Rust type of `ty`.
    pub(crate) fn rust_ty(&self, ty: &Ty) -> String {
        match ty {
            Ty::Bool => "bool".into(),
            Ty::I8 => "i8".into(),
            Ty::I16 => "i16".into(),
            Ty::I32 => "i32".into(),
            Ty::I64 => "i64".into(),
            Ty::Double => "f64".into(),
            Ty::String => "__rt::BytesStr".into(),
            Ty::Binary => "__rt::Blob".into(),
            Ty::Uuid => "__rt::Uuid".into(),
            Ty::List(t) => format!("__rt::Vec<{}>", self.rust_ty(t)),
            Ty::Set(t) if self.is_hashable(t) => format!("__rt::HashSet<{}>", self.rust_ty(t)),
            Ty::Set(t) => format!("__rt::VecSet<{}>", self.rust_ty(t)),
            Ty::Map(k, v) => {
                let kind = if self.is_hashable(k) {
                    "HashMap"
                } else {
                    "VecMap"
                };
                format!("__rt::{kind}<{}, {}>", self.rust_ty(k), self.rust_ty(v))
            }
            Ty::Enum(id) | Ty::Struct(id) | Ty::Typedef(id) => self.path(*id),
        }
    }

    fn needs_box(&self, owner: DefId, ty: &Ty) -> bool {
        match self.ir.resolve_typedefs(ty) {
            Ty::Struct(id) => self
                .analysis
                .inline_reach
                .get(id)
                .is_some_and(|reach| *id == owner || reach.contains(&owner)),
            _ => false,
        }
    }

    /// The type of field `f` of `owner` (boxed if it holds `owner` inline).
    fn field_ty(&self, owner: DefId, f: &FieldDef) -> String {
        let t = self.rust_ty(&f.ty);
        if self.needs_box(owner, &f.ty) {
            format!("__rt::Box<{t}>")
        } else {
            t
        }
    }

    /// The value of field `f` of `owner` for `value`, boxed like the field.
    fn field_value(&self, owner: DefId, f: &FieldDef, value: &Value) -> String {
        let expr = self.value_expr(&f.ty, value);
        if self.needs_box(owner, &f.ty) {
            format!("__rt::Box::new({expr})")
        } else {
            expr
        }
    }

    /// A Rust expression for `value` of type `ty`.
    pub(crate) fn value_expr(&self, ty: &Ty, value: &Value) -> String {
        let ty = self.ir.resolve_typedefs(ty);
        match (ty, value) {
            (_, Value::Bool(b)) => b.to_string(),
            (Ty::Double, Value::Int(i)) => double(*i as f64),
            (Ty::Enum(id), Value::Int(i)) => format!("{}({i})", self.path(*id)),
            (_, Value::Int(i)) => i.to_string(),
            (_, Value::Double(d)) => double(*d),
            (Ty::Binary, Value::String(s)) => {
                format!("__rt::Blob::from_static({})", byte_str_lit(s.as_bytes()))
            }
            (Ty::Uuid, Value::String(s)) => {
                let hex: String = s.chars().filter(|c| *c != '-').collect();
                let n = u128::from_str_radix(&hex, 16).unwrap_or(0);
                format!("__rt::Uuid::from_u128({n:#034x})")
            }
            (_, Value::String(s)) => format!("__rt::BytesStr::from_static({})", str_lit(s)),
            (_, Value::Enum(id, v)) => format!("{}({})", self.path(*id), *v as i32),
            (Ty::List(t), Value::List(items)) => format!("__rt::vec![{}]", self.list(t, items)),
            (Ty::Set(t), Value::List(items)) if self.is_hashable(t) => {
                format!("[{}].into_iter().collect()", self.list(t, items))
            }
            (Ty::Set(t), Value::List(items)) => {
                format!("__rt::VecSet(__rt::vec![{}])", self.list(t, items))
            }
            (Ty::Map(k, v), Value::Map(entries)) => {
                let pairs = entries
                    .iter()
                    .map(|(a, b)| format!("({}, {})", self.value_expr(k, a), self.value_expr(v, b)))
                    .collect::<Vec<_>>()
                    .join(", ");
                if self.is_hashable(k) {
                    format!("[{pairs}].into_iter().collect()")
                } else {
                    format!("__rt::VecMap(__rt::vec![{pairs}])")
                }
            }
            (Ty::Struct(id), Value::Struct(fields)) => {
                let DefKind::Struct(s) = &self.ir.def(*id).kind else {
                    return "__rt::Default::default()".into();
                };
                let mut inits: Vec<String> = fields
                    .iter()
                    .filter_map(|(name, v)| {
                        let f = s.fields.iter().find(|f| &f.name == name)?;
                        let expr = self.field_value(*id, f, v);
                        Some(if f.requiredness == Requiredness::Optional {
                            format!("{}: __rt::Some({expr})", snake(&f.name))
                        } else {
                            format!("{}: {expr}", snake(&f.name))
                        })
                    })
                    .collect();
                inits.push("..__rt::Default::default()".into());
                format!("{} {{ {} }}", self.path(*id), inits.join(", "))
            }
            _ => "__rt::Default::default()".into(),
        }
    }

    fn list(&self, ty: &Ty, items: &[Value]) -> String {
        items
            .iter()
            .map(|v| self.value_expr(ty, v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// All items of definition `id`.
    pub(crate) fn def(&self, id: DefId, code: &mut Code) {
        let def = self.ir.def(id);
        match &def.kind {
            DefKind::Enum(e) => self.enumeration(def, e, code),
            DefKind::Struct(s) if s.kind == StructKind::Union => self.union(id, def, s, code),
            DefKind::Struct(s) => self.structure(id, def, s, code),
            DefKind::Typedef(ty) => {
                code.doc(def.doc.as_deref());
                line!(
                    code,
                    "pub type {} = {};",
                    camel(&def.name),
                    self.rust_ty(ty)
                );
            }
            DefKind::Const(c) => self.constant(def, c, code),
            DefKind::Service(svc) => TypeGen {
                nested: true,
                ..*self
            }
            .service(def, svc, code),
        }
    }

    fn enumeration(&self, def: &Def, e: &EnumDef, code: &mut Code) {
        let name = camel(&def.name);
        code.doc(def.doc.as_deref());
        line!(
            code,
            "#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]"
        );
        line!(code, "pub struct {name}(pub i32);");
        code.blank();
        open!(code, "impl {name}");
        for v in &e.values {
            code.doc(v.doc.as_deref());
            let value = v.value as i32;
            line!(
                code,
                "pub const {}: {name} = {name}({value});",
                screaming(&v.name)
            );
        }
        if !e.values.is_empty() {
            code.blank();
        }
        line!(
            code,
            "/// The IDL name of this value, if it is a declared one."
        );
        open!(code, "pub fn name(&self) -> __rt::Option<&'static str>");
        open!(code, "match self.0");
        for v in &e.values {
            line!(
                code,
                "{} => __rt::Some({}),",
                v.value as i32,
                str_lit(&v.name)
            );
        }
        line!(code, "_ => __rt::None,");
        code.close();
        code.close();
        code.close();
        code.blank();
        open!(code, "impl __rt::Default for {name}");
        open!(code, "fn default() -> Self");
        line!(
            code,
            "{name}({})",
            e.values.first().map_or(0, |v| v.value as i32)
        );
        code.close();
        code.close();
        code.blank();
        open!(code, "impl ::std::fmt::Debug for {name}");
        open!(
            code,
            "fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result"
        );
        open!(code, "match self.name()");
        line!(code, "__rt::Some(n) => f.write_str(n),");
        line!(
            code,
            "__rt::None => write!(f, \"{{}}({{}})\", {}, self.0),",
            str_lit(&def.name)
        );
        code.close();
        code.close();
        code.close();
        code.blank();
        self.impl_encode(&name, "I32", code, |code| {
            line!(code, "w.write_i32(self.0);");
            line!(code, "__rt::Ok(())");
        });
        code.blank();
        self.impl_decode(&name, "I32", code, |code| {
            line!(code, "r.read_i32().map({name})");
        });
    }

    /// `impl Encode for name` with wire type `ttype`; `body` writes the method's body.
    pub(super) fn impl_encode(
        &self,
        name: &str,
        ttype: &str,
        code: &mut Code,
        body: impl FnOnce(&mut Code),
    ) {
        open!(code, "impl __rt::Encode for {name}");
        line!(code, "const TTYPE: __rt::TType = __rt::TType::{ttype};");
        line!(code, "#[inline]");
        open!(
            code,
            "fn encode<W: __rt::ProtocolWriter>(&self, w: &mut W) -> __rt::EncodeResult"
        );
        body(code);
        code.close();
        code.close();
    }

    /// `impl Decode for name` with wire type `ttype`; `body` writes the method's body.
    pub(super) fn impl_decode(
        &self,
        name: &str,
        ttype: &str,
        code: &mut Code,
        body: impl FnOnce(&mut Code),
    ) {
        open!(code, "impl __rt::Decode for {name}");
        line!(code, "const TTYPE: __rt::TType = __rt::TType::{ttype};");
        line!(code, "#[inline]");
        open!(
            code,
            "fn decode<R: __rt::ProtocolReader>(r: &mut R) -> __rt::DecodeResult<Self>"
        );
        body(code);
        code.close();
        code.close();
    }

    /// The struct, exception or args struct `def` (`id` is `None` for an args struct, which
    /// no other type can refer to).
    pub(super) fn structure(&self, id: DefId, def: &Def, s: &StructDef, code: &mut Code) {
        let name = camel(&def.name);
        let has_defaults = s.fields.iter().any(|f| f.default.is_some());
        let hashable = self.analysis.hashable.contains(&id);
        code.doc(def.doc.as_deref());
        line!(code, "{}", derives(hashable, !has_defaults));
        if s.fields.is_empty() {
            line!(code, "pub struct {name} {{}}");
        } else {
            open!(code, "pub struct {name}");
            for f in &s.fields {
                code.doc(f.doc.as_deref());
                let t = self.field_ty(id, f);
                if f.requiredness == Requiredness::Optional {
                    line!(code, "pub {}: __rt::Option<{t}>,", snake(&f.name));
                } else {
                    line!(code, "pub {}: {t},", snake(&f.name));
                }
            }
            code.close();
        }
        code.blank();
        if has_defaults {
            open!(code, "impl __rt::Default for {name}");
            open!(code, "fn default() -> Self");
            open!(code, "Self");
            for f in &s.fields {
                let value = match &f.default {
                    Some(v) if f.requiredness == Requiredness::Optional => {
                        format!("__rt::Some({})", self.field_value(id, f, v))
                    }
                    Some(v) => self.field_value(id, f, v),
                    None => "__rt::Default::default()".into(),
                };
                line!(code, "{}: {value},", snake(&f.name));
            }
            code.close();
            code.close();
            code.close();
            code.blank();
        }
        if s.kind == StructKind::Exception {
            open!(code, "impl ::std::fmt::Display for {name}");
            open!(
                code,
                "fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result"
            );
            line!(
                code,
                "write!(f, \"{{}} {{:?}}\", {}, self)",
                str_lit(&def.name)
            );
            code.close();
            code.close();
            code.blank();
            line!(code, "impl ::std::error::Error for {name} {{}}");
            code.blank();
        }
        self.impl_encode(&name, "Struct", code, |code| {
            line!(code, "let scope = w.write_struct_begin();");
            for f in &s.fields {
                let write = if f.requiredness == Requiredness::Optional {
                    "write_optional_field"
                } else {
                    "write_field"
                };
                line!(
                    code,
                    "__rt::{write}(w, {}, &self.{})?;",
                    f.id,
                    snake(&f.name)
                );
            }
            line!(code, "w.write_struct_end(scope);");
            line!(code, "__rt::Ok(())");
        });
        code.blank();
        self.impl_decode(&name, "Struct", code, |code| {
            self.decode_fields(id, &def.name, s, code)
        });
    }

    fn decode_fields(&self, owner: DefId, idl_name: &str, s: &StructDef, code: &mut Code) {
        let strukt = str_lit(idl_name);
        line!(code, "let scope = r.read_struct_begin()?;");
        for f in &s.fields {
            line!(code, "let mut {} = __rt::None;", local(&f.name));
        }
        field_loop(code, |code| {
            for f in &s.fields {
                let args = [
                    "r".to_string(),
                    "f.ttype".to_string(),
                    format!("&mut {}", local(&f.name)),
                    strukt.clone(),
                    str_lit(&f.name),
                    f.id.to_string(),
                ];
                code.arm(&f.id.to_string(), "__rt::read_field(", &args, ")?");
            }
        });
        line!(code, "r.read_struct_end(scope);");
        if s.fields.is_empty() {
            line!(code, "__rt::Ok(Self {{}})");
            return;
        }
        open!(code, "__rt::Ok(Self");
        for f in &s.fields {
            let (field, local) = (snake(&f.name), local(&f.name));
            match (f.requiredness, &f.default) {
                (Requiredness::Optional, _) => line!(code, "{field}: {local},"),
                (Requiredness::Required, _) => {
                    let args = [
                        local,
                        strukt.clone(),
                        str_lit(&f.name),
                        "r.position()".into(),
                    ];
                    code.call(&format!("{field}: __rt::required("), &args, ")?,");
                }
                (Requiredness::Default, Some(v)) => line!(
                    code,
                    "{field}: {local}.unwrap_or_else(|| {}),",
                    self.field_value(owner, f, v)
                ),
                (Requiredness::Default, None) => {
                    line!(code, "{field}: {local}.unwrap_or_default(),")
                }
            }
        }
        code.close_with("})");
    }

    fn union(&self, id: DefId, def: &Def, s: &StructDef, code: &mut Code) {
        let name = camel(&def.name);
        let strukt = str_lit(&def.name);
        code.doc(def.doc.as_deref());
        line!(
            code,
            "{}",
            derives(self.analysis.hashable.contains(&id), false)
        );
        if s.fields.is_empty() {
            line!(code, "pub enum {name} {{}}");
        } else {
            open!(code, "pub enum {name}");
            for f in &s.fields {
                code.doc(f.doc.as_deref());
                line!(code, "{}({}),", camel(&f.name), self.field_ty(id, f));
            }
            code.close();
        }
        code.blank();
        // A union's default is its first arm holding that type's default.
        if let Some(first) = s.fields.first() {
            open!(code, "impl __rt::Default for {name}");
            open!(code, "fn default() -> Self");
            line!(
                code,
                "{name}::{}(__rt::Default::default())",
                camel(&first.name)
            );
            code.close();
            code.close();
            code.blank();
        }
        self.impl_encode(&name, "Struct", code, |code| {
            line!(code, "let scope = w.write_struct_begin();");
            if !s.fields.is_empty() {
                open!(code, "match self");
                for f in &s.fields {
                    line!(
                        code,
                        "{name}::{}(v) => __rt::write_field(w, {}, v)?,",
                        camel(&f.name),
                        f.id
                    );
                }
                code.close();
            }
            line!(code, "w.write_struct_end(scope);");
            line!(code, "__rt::Ok(())");
        });
        code.blank();
        self.impl_decode(&name, "Struct", code, |code| {
            line!(code, "let start = r.position();");
            line!(code, "let scope = r.read_struct_begin()?;");
            line!(code, "let mut value = __rt::UnionSlot::default();");
            let arms: Vec<(i16, String, &str)> = s
                .fields
                .iter()
                .map(|f| {
                    let variant = format!("{name}::{}", camel(&f.name));
                    let wrap = if self.needs_box(id, &f.ty) {
                        format!("|v| {variant}(__rt::Box::new(v))")
                    } else {
                        variant
                    };
                    (f.id, wrap, f.name.as_str())
                })
                .collect();
            read_loop(code, "value", &strukt, &arms);
            line!(code, "r.read_struct_end(scope);");
            line!(code, "value.finish({strukt}, start)");
        });
    }

    fn constant(&self, def: &Def, c: &ConstDef, code: &mut Code) {
        code.doc(def.doc.as_deref());
        let name = screaming(&def.name);
        match (self.ir.resolve_typedefs(&c.ty), &c.value) {
            (Ty::String, Value::String(s)) => {
                line!(code, "pub const {name}: &str = {};", str_lit(s));
            }
            (Ty::Binary, Value::String(s)) => {
                let lit = byte_str_lit(s.as_bytes());
                line!(code, "pub const {name}: &[u8] = {lit};");
            }
            (
                Ty::Bool
                | Ty::I8
                | Ty::I16
                | Ty::I32
                | Ty::I64
                | Ty::Double
                | Ty::Enum(_)
                | Ty::Uuid,
                _,
            ) => {
                let (t, v) = (self.rust_ty(&c.ty), self.value_expr(&c.ty, &c.value));
                line!(code, "pub const {name}: {t} = {v};");
            }
            _ => {
                let (t, v) = (self.rust_ty(&c.ty), self.value_expr(&c.ty, &c.value));
                open!(code, "pub fn {}() -> {t}", snake(&def.name));
                line!(code, "{v}");
                code.close();
            }
        }
    }
}

/// The loop of a struct decoder: reads field headers up to the stop field; `arms` writes the
/// match arms of the known field ids (unknown ones are skipped).
pub(super) fn field_loop(code: &mut Code, arms: impl FnOnce(&mut Code)) {
    open!(code, "loop");
    line!(code, "let f = r.read_field_begin()?;");
    open!(code, "if f.ttype == __rt::TType::Stop");
    line!(code, "break;");
    code.close();
    open!(code, "match f.id");
    arms(code);
    line!(code, "_ => r.skip(f.ttype)?,");
    code.close();
    code.close();
}

/// The field loop of a union-like decoder: each field `(id, wrap, name)` is read into the
/// `UnionSlot` named `slot` as the variant `wrap` makes.
pub(super) fn read_loop(code: &mut Code, slot: &str, strukt: &str, fields: &[(i16, String, &str)]) {
    field_loop(code, |code| {
        for (id, wrap, name) in fields {
            let args = [
                "r".to_string(),
                "f.ttype".to_string(),
                wrap.clone(),
                strukt.to_string(),
                str_lit(name),
                id.to_string(),
            ];
            code.arm(&id.to_string(), &format!("{slot}.read("), &args, ")?");
        }
    });
}

fn double(d: f64) -> String {
    if d.is_nan() {
        "f64::NAN".into()
    } else if d == f64::INFINITY {
        "f64::INFINITY".into()
    } else if d == f64::NEG_INFINITY {
        "f64::NEG_INFINITY".into()
    } else {
        // `Debug` writes a valid literal that reads back as the same value (`1.0`, `1e300`).
        format!("{d:?}")
    }
}
