//! Rust items for the types of one IDL file: structs, exceptions, unions (Rust enums),
//! enums (open `i32` newtypes: unknown values survive), typedefs and constants, each with its
//! `Encode`/`Decode` implementation. Generated code names only `::ringrpc::__codegen`.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::names::{camel, screaming, snake};
use crate::ir::*;

/// Facts about the IR's structs computed once: which can derive `Eq`/`Hash`, and which
/// structs each one holds inline (directly or through inline fields), for boxing.
pub(crate) struct Analysis {
    hashable: HashSet<DefId>,
    inline_reach: HashMap<DefId, HashSet<DefId>>,
}

/// The structs a type refers to: `inline` only those held by value (not in a container).
fn struct_refs(ir: &Ir, ty: &Ty, inline: bool, out: &mut Vec<DefId>) {
    match ir.resolve_typedefs(ty) {
        Ty::Struct(id) => out.push(*id),
        Ty::List(t) | Ty::Set(t) if !inline => struct_refs(ir, t, inline, out),
        Ty::Map(k, v) if !inline => {
            struct_refs(ir, k, inline, out);
            struct_refs(ir, v, inline, out);
        }
        _ => {}
    }
}

/// Whether a type has a double, set or map anywhere outside referenced structs.
fn locally_unhashable(ir: &Ir, ty: &Ty) -> bool {
    match ir.resolve_typedefs(ty) {
        Ty::Double | Ty::Set(_) | Ty::Map(..) => true,
        Ty::List(t) => locally_unhashable(ir, t),
        _ => false,
    }
}

impl Analysis {
    pub(crate) fn new(ir: &Ir) -> Self {
        let structs: Vec<(DefId, &StructDef)> = ir
            .defs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match &d.kind {
                DefKind::Struct(s) => Some((DefId(i), s)),
                _ => None,
            })
            .collect();
        let edges = |inline: bool| -> HashMap<DefId, Vec<DefId>> {
            structs
                .iter()
                .map(|(id, s)| {
                    let mut out = Vec::new();
                    for f in &s.fields {
                        struct_refs(ir, &f.ty, inline, &mut out);
                    }
                    (*id, out)
                })
                .collect()
        };
        let reach = |graph: &HashMap<DefId, Vec<DefId>>, from: DefId| -> HashSet<DefId> {
            let mut seen = HashSet::new();
            let mut stack: Vec<DefId> = graph.get(&from).cloned().unwrap_or_default();
            while let Some(next) = stack.pop() {
                if seen.insert(next) {
                    stack.extend(graph.get(&next).into_iter().flatten().copied());
                }
            }
            seen
        };
        let all_edges = edges(false);
        let inline_edges = edges(true);
        let bad: HashSet<DefId> = structs
            .iter()
            .filter(|(_, s)| s.fields.iter().any(|f| locally_unhashable(ir, &f.ty)))
            .map(|(id, _)| *id)
            .collect();
        let hashable = structs
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !bad.contains(id) && reach(&all_edges, *id).is_disjoint(&bad))
            .collect();
        let inline_reach = structs
            .iter()
            .map(|(id, _)| (*id, reach(&inline_edges, *id)))
            .collect();
        Analysis {
            hashable,
            inline_reach,
        }
    }
}

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

pub(super) fn ident(name: &str) -> syn::Ident {
    match name.strip_prefix("r#") {
        Some(raw) => syn::Ident::new_raw(raw, proc_macro2::Span::call_site()),
        None => format_ident!("{}", name),
    }
}

pub(super) fn docs(doc: Option<&str>) -> TokenStream {
    let lines = doc
        .into_iter()
        .flat_map(str::lines)
        .map(|l| format!(" {l}"));
    quote! { #( #[doc = #lines] )* }
}

impl TypeGen<'_> {
    /// The Rust path of definition `id` as seen from the file being generated.
    pub(super) fn path(&self, id: DefId) -> TokenStream {
        let def = self.ir.def(id);
        let name = ident(&camel(&def.name));
        if def.file == self.file {
            if self.nested {
                quote! { super::#name }
            } else {
                quote! { #name }
            }
        } else {
            let module = ident(&snake(&self.ir.files[def.file].stem));
            if self.nested {
                quote! { super::super::#module::#name }
            } else {
                quote! { super::#module::#name }
            }
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
    pub(crate) fn rust_ty(&self, ty: &Ty) -> TokenStream {
        match ty {
            Ty::Bool => quote!(bool),
            Ty::I8 => quote!(i8),
            Ty::I16 => quote!(i16),
            Ty::I32 => quote!(i32),
            Ty::I64 => quote!(i64),
            Ty::Double => quote!(f64),
            Ty::String => quote!(::ringrpc::__codegen::BytesStr),
            Ty::Binary => quote!(::ringrpc::__codegen::Bytes),
            Ty::Uuid => quote!(::ringrpc::__codegen::Uuid),
            Ty::List(t) => {
                let t = self.rust_ty(t);
                quote!(::std::vec::Vec<#t>)
            }
            Ty::Set(t) => {
                let inner = self.rust_ty(t);
                if self.is_hashable(t) {
                    quote!(::ringrpc::__codegen::HashSet<#inner>)
                } else {
                    quote!(::ringrpc::__codegen::VecSet<#inner>)
                }
            }
            Ty::Map(k, v) => {
                let (kt, vt) = (self.rust_ty(k), self.rust_ty(v));
                if self.is_hashable(k) {
                    quote!(::ringrpc::__codegen::HashMap<#kt, #vt>)
                } else {
                    quote!(::ringrpc::__codegen::VecMap<#kt, #vt>)
                }
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

    fn field_ty(&self, owner: DefId, f: &FieldDef) -> TokenStream {
        let t = self.rust_ty(&f.ty);
        if self.needs_box(owner, &f.ty) {
            quote!(::std::boxed::Box<#t>)
        } else {
            t
        }
    }

    /// A Rust expression for `value` of type `ty`.
    pub(crate) fn value_expr(&self, ty: &Ty, value: &Value) -> TokenStream {
        let ty = self.ir.resolve_typedefs(ty);
        match (ty, value) {
            (_, Value::Bool(b)) => quote!(#b),
            (Ty::Double, Value::Int(i)) => double(*i as f64),
            (_, Value::Int(i)) => {
                let lit = Literal::i64_unsuffixed(*i);
                match ty {
                    Ty::Enum(id) => {
                        let p = self.path(*id);
                        quote!(#p(#lit))
                    }
                    _ => quote!(#lit),
                }
            }
            (_, Value::Double(d)) => double(*d),
            (Ty::Binary, Value::String(s)) => {
                let lit = Literal::byte_string(s.as_bytes());
                quote!(::ringrpc::__codegen::Bytes::from_static(#lit))
            }
            (Ty::Uuid, Value::String(s)) => {
                let hex: String = s.chars().filter(|c| *c != '-').collect();
                let n = u128::from_str_radix(&hex, 16).unwrap_or(0);
                let lit = Literal::u128_suffixed(n);
                quote!(::ringrpc::__codegen::Uuid::from_u128(#lit))
            }
            (_, Value::String(s)) => quote!(::ringrpc::__codegen::BytesStr::from_static(#s)),
            (_, Value::Enum(id, v)) => {
                let p = self.path(*id);
                let lit = Literal::i32_unsuffixed(*v as i32);
                quote!(#p(#lit))
            }
            (Ty::List(t), Value::List(items)) => {
                let items = items.iter().map(|v| self.value_expr(t, v));
                quote!(::std::vec![#(#items),*])
            }
            (Ty::Set(t), Value::List(items)) => {
                let items: Vec<_> = items.iter().map(|v| self.value_expr(t, v)).collect();
                if self.is_hashable(t) {
                    quote!([#(#items),*].into_iter().collect())
                } else {
                    quote!(::ringrpc::__codegen::VecSet(::std::vec![#(#items),*]))
                }
            }
            (Ty::Map(k, v), Value::Map(entries)) => {
                let pairs: Vec<_> = entries
                    .iter()
                    .map(|(a, b)| {
                        let (a, b) = (self.value_expr(k, a), self.value_expr(v, b));
                        quote!((#a, #b))
                    })
                    .collect();
                if self.is_hashable(k) {
                    quote!([#(#pairs),*].into_iter().collect())
                } else {
                    quote!(::ringrpc::__codegen::VecMap(::std::vec![#(#pairs),*]))
                }
            }
            (Ty::Struct(id), Value::Struct(fields)) => {
                let p = self.path(*id);
                let DefKind::Struct(s) = &self.ir.def(*id).kind else {
                    return quote!(::std::default::Default::default());
                };
                let inits = fields.iter().filter_map(|(name, v)| {
                    let f = s.fields.iter().find(|f| &f.name == name)?;
                    let fname = ident(&snake(&f.name));
                    let mut expr = self.value_expr(&f.ty, v);
                    if self.needs_box(*id, &f.ty) {
                        expr = quote!(::std::boxed::Box::new(#expr));
                    }
                    Some(if f.requiredness == Requiredness::Optional {
                        quote!(#fname: ::std::option::Option::Some(#expr))
                    } else {
                        quote!(#fname: #expr)
                    })
                });
                quote!(#p { #(#inits,)* ..::std::default::Default::default() })
            }
            _ => quote!(::std::default::Default::default()),
        }
    }

    /// All items of definition `id`.
    pub(crate) fn def(&self, id: DefId) -> TokenStream {
        let def = self.ir.def(id);
        match &def.kind {
            DefKind::Enum(e) => self.enumeration(def, e),
            DefKind::Struct(s) if s.kind == StructKind::Union => self.union(id, def, s),
            DefKind::Struct(s) => self.structure(id, def, s),
            DefKind::Typedef(ty) => {
                let doc = docs(def.doc.as_deref());
                let name = ident(&camel(&def.name));
                let t = self.rust_ty(ty);
                quote! { #doc pub type #name = #t; }
            }
            DefKind::Const(c) => self.constant(def, c),
            DefKind::Service(svc) => TypeGen {
                nested: true,
                ..*self
            }
            .service(id, def, svc),
        }
    }

    fn enumeration(&self, def: &Def, e: &EnumDef) -> TokenStream {
        let doc = docs(def.doc.as_deref());
        let name = ident(&camel(&def.name));
        let idl_name = &def.name;
        let consts = e.values.iter().map(|v| {
            let vdoc = docs(v.doc.as_deref());
            let c = ident(&screaming(&v.name));
            let lit = Literal::i32_unsuffixed(v.value as i32);
            quote! { #vdoc pub const #c: #name = #name(#lit); }
        });
        let arms = e.values.iter().map(|v| {
            let lit = Literal::i32_unsuffixed(v.value as i32);
            let n = &v.name;
            quote! { #lit => ::std::option::Option::Some(#n), }
        });
        let first = e.values.first().map_or_else(
            || Literal::i32_unsuffixed(0),
            |v| Literal::i32_unsuffixed(v.value as i32),
        );
        quote! {
            #doc
            #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub struct #name(pub i32);

            impl #name {
                #(#consts)*

                /// The IDL name of this value, if it is a declared one.
                pub fn name(&self) -> ::std::option::Option<&'static str> {
                    match self.0 {
                        #(#arms)*
                        _ => ::std::option::Option::None,
                    }
                }
            }

            impl ::std::default::Default for #name {
                fn default() -> Self {
                    #name(#first)
                }
            }

            impl ::std::fmt::Debug for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    match self.name() {
                        ::std::option::Option::Some(n) => f.write_str(n),
                        ::std::option::Option::None => write!(f, "{}({})", #idl_name, self.0),
                    }
                }
            }

            impl ::ringrpc::__codegen::Encode for #name {
                const TTYPE: ::ringrpc::__codegen::TType = ::ringrpc::__codegen::TType::I32;
                #[inline]
                fn encode<W: ::ringrpc::__codegen::ProtocolWriter>(&self, w: &mut W) -> ::std::result::Result<(), ::ringrpc::__codegen::EncodeError> {
                    w.write_i32(self.0);
                    ::std::result::Result::Ok(())
                }
            }

            impl ::ringrpc::__codegen::Decode for #name {
                const TTYPE: ::ringrpc::__codegen::TType = ::ringrpc::__codegen::TType::I32;
                #[inline]
                fn decode<R: ::ringrpc::__codegen::ProtocolReader>(r: &mut R) -> ::std::result::Result<Self, ::ringrpc::__codegen::DecodeError> {
                    r.read_i32().map(#name)
                }
            }
        }
    }

    pub(super) fn structure(&self, id: DefId, def: &Def, s: &StructDef) -> TokenStream {
        let doc = docs(def.doc.as_deref());
        let name = ident(&camel(&def.name));
        let idl_name = &def.name;
        let hashable = self.analysis.hashable.contains(&id);
        let derives = if hashable {
            quote!(#[derive(Debug, Clone, PartialEq, Eq, Hash)])
        } else {
            quote!(#[derive(Debug, Clone, PartialEq)])
        };
        let fields = s.fields.iter().map(|f| {
            let fdoc = docs(f.doc.as_deref());
            let fname = ident(&snake(&f.name));
            let t = self.field_ty(id, f);
            if f.requiredness == Requiredness::Optional {
                quote! { #fdoc pub #fname: ::std::option::Option<#t>, }
            } else {
                quote! { #fdoc pub #fname: #t, }
            }
        });
        let defaults = s.fields.iter().map(|f| {
            let fname = ident(&snake(&f.name));
            let expr = match &f.default {
                Some(v) => {
                    let mut e = self.value_expr(&f.ty, v);
                    if self.needs_box(id, &f.ty) {
                        e = quote!(::std::boxed::Box::new(#e));
                    }
                    if f.requiredness == Requiredness::Optional {
                        quote!(::std::option::Option::Some(#e))
                    } else {
                        e
                    }
                }
                None => quote!(::std::default::Default::default()),
            };
            quote! { #fname: #expr, }
        });
        let encode = self.encode_fields(s);
        let decode = self.decode_fields(id, idl_name, s);
        let error_impls = (s.kind == StructKind::Exception).then(|| {
            quote! {
                impl ::std::fmt::Display for #name {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "{} {:?}", #idl_name, self)
                    }
                }
                impl ::std::error::Error for #name {}
            }
        });
        quote! {
            #doc
            #derives
            pub struct #name {
                #(#fields)*
            }

            impl ::std::default::Default for #name {
                fn default() -> Self {
                    #name { #(#defaults)* }
                }
            }

            #error_impls

            impl ::ringrpc::__codegen::Encode for #name {
                const TTYPE: ::ringrpc::__codegen::TType = ::ringrpc::__codegen::TType::Struct;
                #[inline]
                fn encode<W: ::ringrpc::__codegen::ProtocolWriter>(&self, w: &mut W) -> ::std::result::Result<(), ::ringrpc::__codegen::EncodeError> {
                    let scope = w.write_struct_begin();
                    #encode
                    w.write_struct_end(scope);
                    ::std::result::Result::Ok(())
                }
            }

            impl ::ringrpc::__codegen::Decode for #name {
                const TTYPE: ::ringrpc::__codegen::TType = ::ringrpc::__codegen::TType::Struct;
                #[inline]
                fn decode<R: ::ringrpc::__codegen::ProtocolReader>(r: &mut R) -> ::std::result::Result<Self, ::ringrpc::__codegen::DecodeError> {
                    #decode
                }
            }
        }
    }

    fn encode_fields(&self, s: &StructDef) -> TokenStream {
        let writes = s.fields.iter().map(|f| {
            let fname = ident(&snake(&f.name));
            let id = Literal::i16_unsuffixed(f.id);
            if f.requiredness == Requiredness::Optional {
                quote! { ::ringrpc::__codegen::write_optional_field(w, #id, &self.#fname)?; }
            } else {
                quote! { ::ringrpc::__codegen::write_field(w, #id, &self.#fname)?; }
            }
        });
        quote! { #(#writes)* }
    }

    fn decode_fields(&self, owner: DefId, idl_name: &str, s: &StructDef) -> TokenStream {
        let locals: Vec<_> = s
            .fields
            .iter()
            .map(|f| format_ident!("f_{}", snake(&f.name).trim_start_matches("r#")))
            .collect();
        let decls = s.fields.iter().zip(&locals).map(|(f, local)| {
            let t = self.field_ty(owner, f);
            quote! { let mut #local: ::std::option::Option<#t> = ::std::option::Option::None; }
        });
        let arms = s.fields.iter().zip(&locals).map(|(f, local)| {
            let id = Literal::i16_unsuffixed(f.id);
            let fname = &f.name;
            quote! {
                #id => ::ringrpc::__codegen::read_field(r, f.ttype, &mut #local, #idl_name, #fname, #id)?,
            }
        });
        let inits = s.fields.iter().zip(&locals).map(|(f, local)| {
            let fname = ident(&snake(&f.name));
            let idl_field = &f.name;
            match f.requiredness {
                Requiredness::Optional => quote! { #fname: #local, },
                Requiredness::Required => quote! {
                    #fname: ::ringrpc::__codegen::required(#local, #idl_name, #idl_field, r.position())?,
                },
                Requiredness::Default => match &f.default {
                    Some(v) => {
                        let mut e = self.value_expr(&f.ty, v);
                        if self.needs_box(owner, &f.ty) {
                            e = quote!(::std::boxed::Box::new(#e));
                        }
                        quote! { #fname: #local.unwrap_or_else(|| #e), }
                    }
                    None => quote! { #fname: #local.unwrap_or_default(), },
                },
            }
        });
        quote! {
            let scope = r.read_struct_begin()?;
            #(#decls)*
            loop {
                let f = r.read_field_begin()?;
                if f.ttype == ::ringrpc::__codegen::TType::Stop {
                    break;
                }
                match f.id {
                    #(#arms)*
                    _ => r.skip(f.ttype)?,
                }
            }
            r.read_struct_end(scope);
            ::std::result::Result::Ok(Self { #(#inits)* })
        }
    }

    fn union(&self, id: DefId, def: &Def, s: &StructDef) -> TokenStream {
        let doc = docs(def.doc.as_deref());
        let name = ident(&camel(&def.name));
        let idl_name = &def.name;
        let hashable = self.analysis.hashable.contains(&id);
        let derives = if hashable {
            quote!(#[derive(Debug, Clone, PartialEq, Eq, Hash)])
        } else {
            quote!(#[derive(Debug, Clone, PartialEq)])
        };
        let variants: Vec<_> = s.fields.iter().map(|f| ident(&camel(&f.name))).collect();
        let decl = s.fields.iter().zip(&variants).map(|(f, v)| {
            let fdoc = docs(f.doc.as_deref());
            let t = self.field_ty(id, f);
            quote! { #fdoc #v(#t), }
        });
        let enc = s.fields.iter().zip(&variants).map(|(f, v)| {
            let fid = Literal::i16_unsuffixed(f.id);
            quote! {
                #name::#v(v) => ::ringrpc::__codegen::write_field(w, #fid, v)?,
            }
        });
        let dec = s.fields.iter().zip(&variants).map(|(f, v)| {
            let t = self.rust_ty(&f.ty);
            let fid = Literal::i16_unsuffixed(f.id);
            let fname = &f.name;
            let wrap = if self.needs_box(id, &f.ty) {
                quote!(::std::boxed::Box::new)
            } else {
                quote!(::std::convert::identity)
            };
            quote! {
                #fid if <#t as ::ringrpc::__codegen::Decode>::wire_matches(r, f.ttype) => {
                    count += 1;
                    value = ::std::option::Option::Some(#name::#v(#wrap(
                        <#t as ::ringrpc::__codegen::Decode>::decode(r)
                            .map_err(|e| e.in_field(#idl_name, #fname, #fid))?,
                    )));
                }
            }
        });
        // A union's default is its first arm holding that type's default.
        let default_impl = variants.first().map(|v| {
            quote! {
                impl ::std::default::Default for #name {
                    fn default() -> Self {
                        #name::#v(::std::default::Default::default())
                    }
                }
            }
        });
        let encode_body = if s.fields.is_empty() {
            quote!()
        } else {
            quote!(match self { #(#enc)* })
        };
        quote! {
            #doc
            #derives
            pub enum #name {
                #(#decl)*
            }

            #default_impl

            impl ::ringrpc::__codegen::Encode for #name {
                const TTYPE: ::ringrpc::__codegen::TType = ::ringrpc::__codegen::TType::Struct;
                fn encode<W: ::ringrpc::__codegen::ProtocolWriter>(&self, w: &mut W) -> ::std::result::Result<(), ::ringrpc::__codegen::EncodeError> {
                    let scope = w.write_struct_begin();
                    #encode_body
                    w.write_struct_end(scope);
                    ::std::result::Result::Ok(())
                }
            }

            impl ::ringrpc::__codegen::Decode for #name {
                const TTYPE: ::ringrpc::__codegen::TType = ::ringrpc::__codegen::TType::Struct;
                fn decode<R: ::ringrpc::__codegen::ProtocolReader>(r: &mut R) -> ::std::result::Result<Self, ::ringrpc::__codegen::DecodeError> {
                    let start = r.position();
                    let scope = r.read_struct_begin()?;
                    let mut value = ::std::option::Option::None;
                    let mut count = 0usize;
                    loop {
                        let f = r.read_field_begin()?;
                        if f.ttype == ::ringrpc::__codegen::TType::Stop {
                            break;
                        }
                        match f.id {
                            #(#dec)*
                            _ => r.skip(f.ttype)?,
                        }
                    }
                    r.read_struct_end(scope);
                    match value {
                        ::std::option::Option::Some(v) if count == 1 => ::std::result::Result::Ok(v),
                        _ => ::std::result::Result::Err(::ringrpc::__codegen::DecodeError::new(
                            ::ringrpc::__codegen::DecodeErrorKind::UnionFieldCount { strukt: #idl_name, count },
                            start,
                        )),
                    }
                }
            }
        }
    }

    fn constant(&self, def: &Def, c: &ConstDef) -> TokenStream {
        let doc = docs(def.doc.as_deref());
        let name = ident(&screaming(&def.name));
        let ty = self.ir.resolve_typedefs(&c.ty);
        match (ty, &c.value) {
            (Ty::String, Value::String(s)) => quote! { #doc pub const #name: &str = #s; },
            (Ty::Binary, Value::String(s)) => {
                let lit = Literal::byte_string(s.as_bytes());
                quote! { #doc pub const #name: &[u8] = #lit; }
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
                let t = self.rust_ty(&c.ty);
                let v = self.value_expr(&c.ty, &c.value);
                quote! { #doc pub const #name: #t = #v; }
            }
            _ => {
                let t = self.rust_ty(&c.ty);
                let v = self.value_expr(&c.ty, &c.value);
                let fname = ident(&snake(&def.name));
                quote! {
                    #doc
                    pub fn #fname() -> #t {
                        #v
                    }
                }
            }
        }
    }
}

fn double(d: f64) -> TokenStream {
    if d.is_nan() {
        quote!(f64::NAN)
    } else if d == f64::INFINITY {
        quote!(f64::INFINITY)
    } else if d == f64::NEG_INFINITY {
        quote!(f64::NEG_INFINITY)
    } else {
        let lit = Literal::f64_unsuffixed(d);
        quote!(#lit)
    }
}
