//! Resolution: a loaded [`Program`] → the [`Ir`]. Names are looked up in the file and its
//! includes (`shared.Thing`), typedef chains and cycles are checked, constant values and
//! field defaults are type-checked, services are validated (`extends`, `throws`, `oneway`)
//! and `@control_plane` policies are read. Every error is collected, with its location.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ringrpc_policy_keys::edit_distance;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::ir::*;
use crate::policy::{Policy, policy_of};
use crate::thrift::Program;
use crate::thrift::ast::{self, ConstKind, Definition, TypeKind};

/// Resolves `program`. On success, returns the IR and the warnings of every stage.
pub fn resolve(program: &Program) -> Result<(Ir, Vec<Diagnostic>), Diagnostics> {
    let mut r = Resolver {
        program,
        scopes: vec![HashMap::new(); program.files.len()],
        origins: Vec::new(),
        errors: Vec::new(),
        const_cache: HashMap::new(),
        visiting: HashSet::new(),
    };
    r.declare();
    let defs: Vec<Def> = (0..r.origins.len()).map(|i| r.define(DefId(i))).collect();
    let mut ir = Ir {
        defs,
        files: program
            .files
            .iter()
            .map(|f| IrFile {
                source: f.source.clone(),
                stem: f
                    .source
                    .path()
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                rust_namespace: rust_namespace(&f.document),
                defs: Vec::new(),
            })
            .collect(),
    };
    for (i, &(file, _)) in r.origins.iter().enumerate() {
        ir.files[file].defs.push(DefId(i));
    }
    r.check_typedef_cycles(&ir);
    if r.errors.is_empty() {
        Ok((ir, program.warnings.clone()))
    } else {
        r.errors
            .sort_by_key(|d| (d.file.path().to_path_buf(), d.span.start));
        Err(Diagnostics(r.errors))
    }
}

fn rust_namespace(doc: &ast::Document) -> Option<String> {
    let find = |scope: &str| {
        doc.namespaces
            .iter()
            .find(|n| n.scope.name == scope)
            .map(|n| n.name.name.clone())
    };
    find("rs").or_else(|| find("*"))
}

struct Resolver<'p> {
    program: &'p Program,
    /// Per file: name → definition.
    scopes: Vec<HashMap<String, DefId>>,
    /// Per definition: its file and syntax.
    origins: Vec<(usize, &'p Definition)>,
    errors: Vec<Diagnostic>,
    const_cache: HashMap<DefId, Option<Value>>,
    visiting: HashSet<DefId>,
}

impl<'p> Resolver<'p> {
    fn source(&self, file: usize) -> &'p Arc<SourceFile> {
        &self.program.files[file].source
    }

    fn error(&mut self, file: usize, span: Span, message: impl Into<String>) {
        let d = Diagnostic::error(self.source(file), span, message);
        self.errors.push(d);
    }

    fn declare(&mut self) {
        for (file, loaded) in self.program.files.iter().enumerate() {
            for def in &loaded.document.definitions {
                let name = def.name();
                let id = DefId(self.origins.len());
                self.origins.push((file, def));
                if let Some(first) = self.scopes[file].insert(name.name.clone(), id) {
                    let (line, col) = self
                        .source(file)
                        .line_col(self.origins[first.0].1.name().span.start);
                    self.error(
                        file,
                        name.span,
                        format!(
                            "`{}` is defined twice (first at line {line}, column {col})",
                            name.name
                        ),
                    );
                }
            }
        }
    }

    /// Looks `name` up from `file`: local, then `include.Name`.
    fn lookup(&self, file: usize, name: &str) -> Option<DefId> {
        if let Some(&id) = self.scopes[file].get(name) {
            return Some(id);
        }
        let (prefix, rest) = name.split_once('.')?;
        let &(_, target) = self.program.files[file]
            .includes
            .iter()
            .find(|(stem, _)| stem == prefix)?;
        self.scopes[target].get(rest).copied()
    }

    /// Names of the types visible from `file`, for suggestions.
    fn visible_types(&self, file: usize) -> Vec<String> {
        let mut names: Vec<String> = self.scopes[file]
            .iter()
            .filter(|(_, id)| self.is_type(**id))
            .map(|(n, _)| n.clone())
            .collect();
        for (stem, target) in &self.program.files[file].includes {
            names.extend(
                self.scopes[*target]
                    .iter()
                    .filter(|(_, id)| self.is_type(**id))
                    .map(|(n, _)| format!("{stem}.{n}")),
            );
        }
        names.sort();
        names
    }

    fn is_type(&self, id: DefId) -> bool {
        matches!(
            self.origins[id.0].1,
            Definition::Enum(_) | Definition::Struct(_) | Definition::Typedef(_)
        )
    }

    fn ty(&mut self, file: usize, t: &ast::Type) -> Option<Ty> {
        Some(match &t.kind {
            TypeKind::Base(b) => match b {
                ast::BaseType::Bool => Ty::Bool,
                ast::BaseType::I8 => Ty::I8,
                ast::BaseType::I16 => Ty::I16,
                ast::BaseType::I32 => Ty::I32,
                ast::BaseType::I64 => Ty::I64,
                ast::BaseType::Double => Ty::Double,
                ast::BaseType::String => Ty::String,
                ast::BaseType::Binary => Ty::Binary,
                ast::BaseType::Uuid => Ty::Uuid,
            },
            TypeKind::List(e) => Ty::List(Box::new(self.ty(file, e)?)),
            TypeKind::Set(e) => Ty::Set(Box::new(self.ty(file, e)?)),
            TypeKind::Map(k, v) => {
                let k = self.ty(file, k);
                let v = self.ty(file, v);
                Ty::Map(Box::new(k?), Box::new(v?))
            }
            TypeKind::Named(name) => match self.lookup(file, &name.name) {
                Some(id) => match self.origins[id.0].1 {
                    Definition::Enum(_) => Ty::Enum(id),
                    Definition::Struct(_) => Ty::Struct(id),
                    Definition::Typedef(_) => Ty::Typedef(id),
                    Definition::Const(_) | Definition::Service(_) => {
                        let what = if matches!(self.origins[id.0].1, Definition::Const(_)) {
                            "a constant"
                        } else {
                            "a service"
                        };
                        self.error(
                            file,
                            name.span,
                            format!("`{}` is {what}, not a type", name.name),
                        );
                        return None;
                    }
                },
                None => {
                    let mut d = Diagnostic::error(
                        self.source(file),
                        name.span,
                        format!("unknown type `{}`", name.name),
                    );
                    let candidates = self.visible_types(file);
                    let builtins = [
                        "bool", "byte", "i8", "i16", "i32", "i64", "double", "string", "binary",
                        "uuid",
                    ];
                    if let Some(best) = suggest(
                        &name.name,
                        candidates.iter().map(String::as_str).chain(builtins),
                    ) {
                        d = d.with_help(format!("did you mean `{best}`?"));
                    }
                    self.errors.push(d);
                    return None;
                }
            },
        })
    }

    fn define(&mut self, id: DefId) -> Def {
        let (file, def) = self.origins[id.0];
        let (doc, annotations) = match def {
            Definition::Const(c) => (&c.doc, &c.annotations),
            Definition::Typedef(t) => (&t.doc, &t.annotations),
            Definition::Enum(e) => (&e.doc, &e.annotations),
            Definition::Struct(s) => (&s.doc, &s.annotations),
            Definition::Service(s) => (&s.doc, &s.annotations),
        };
        let kind = match def {
            Definition::Enum(e) => DefKind::Enum(self.enumeration(file, e)),
            Definition::Typedef(t) => DefKind::Typedef(self.ty(file, &t.ty).unwrap_or(Ty::I32)),
            Definition::Struct(s) => DefKind::Struct(StructDef {
                kind: s.kind,
                fields: self.fields(file, &s.fields, &s.name.name),
            }),
            Definition::Const(c) => {
                let ty = self.ty(file, &c.ty);
                let value = self.const_of(id).unwrap_or(Value::Int(0));
                DefKind::Const(ConstDef {
                    ty: ty.unwrap_or(Ty::I32),
                    value,
                })
            }
            Definition::Service(s) => DefKind::Service(self.service(file, s)),
        };
        Def {
            name: def.name().name.clone(),
            file,
            span: def.name().span,
            doc: doc.as_ref().map(|d| d.text.clone()),
            annotations: annotations
                .iter()
                .map(|a| (a.key.name.clone(), a.value.clone()))
                .collect(),
            kind,
        }
    }

    fn enumeration(&mut self, file: usize, e: &ast::Enum) -> EnumDef {
        let mut values = Vec::new();
        let mut next = 0i64;
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for v in &e.values {
            let value = v.value.map_or(next, |(v, _)| v);
            if let Some((raw, span)) = v.value
                && i32::try_from(raw).is_err()
            {
                self.error(file, span, format!("enum value {raw} does not fit in i32"));
            }
            next = value.saturating_add(1);
            if seen.insert(&v.name.name, v.name.span).is_some() {
                self.error(
                    file,
                    v.name.span,
                    format!(
                        "enum `{}` has two values named `{}`",
                        e.name.name, v.name.name
                    ),
                );
            }
            values.push(EnumValueDef {
                name: v.name.name.clone(),
                value,
                doc: v.doc.as_ref().map(|d| d.text.clone()),
            });
        }
        EnumDef { values }
    }

    fn fields(&mut self, file: usize, fields: &[ast::Field], owner: &str) -> Vec<FieldDef> {
        let mut out = Vec::new();
        let mut ids: HashMap<i64, &str> = HashMap::new();
        let mut names: HashSet<&str> = HashSet::new();
        for f in fields {
            let (id, id_span) = f.id.unwrap_or((0, f.name.span));
            if let Some(other) = ids.insert(id, &f.name.name) {
                self.error(
                    file,
                    id_span,
                    format!(
                        "fields `{other}` and `{}` of `{owner}` share the id {id}",
                        f.name.name
                    ),
                );
            }
            if !names.insert(&f.name.name) {
                self.error(
                    file,
                    f.name.span,
                    format!("`{owner}` has two fields named `{}`", f.name.name),
                );
            }
            let Some(ty) = self.ty(file, &f.ty) else {
                continue;
            };
            let default = f.default.as_ref().and_then(|v| self.value(file, &ty, v));
            out.push(FieldDef {
                id: id as i16,
                name: f.name.name.clone(),
                ty,
                requiredness: f.requiredness,
                default,
                doc: f.doc.as_ref().map(|d| d.text.clone()),
                span: f.name.span,
            });
        }
        out
    }

    /// The value of constant `id`, evaluated once (cycles are errors).
    fn const_of(&mut self, id: DefId) -> Option<Value> {
        if let Some(v) = self.const_cache.get(&id) {
            return v.clone();
        }
        let (file, Definition::Const(c)) = self.origins[id.0] else {
            return None;
        };
        if !self.visiting.insert(id) {
            self.error(
                file,
                c.name.span,
                format!("constant `{}` is defined in terms of itself", c.name.name),
            );
            return None;
        }
        let value = self
            .ty(file, &c.ty)
            .and_then(|ty| self.value(file, &ty, &c.value));
        self.visiting.remove(&id);
        self.const_cache.insert(id, value.clone());
        value
    }

    /// Type-checks `v` against `ty`.
    fn value(&mut self, file: usize, ty: &Ty, v: &ast::ConstValue) -> Option<Value> {
        let mismatch = |r: &mut Self, expected: &str| {
            r.error(
                file,
                v.span,
                format!("expected {expected}, found {}", describe(&v.kind)),
            );
            None
        };
        // A reference to another constant stands for its value.
        if let ConstKind::Ident(name) = &v.kind
            && let Some(id) = self.lookup(file, name)
            && matches!(self.origins[id.0].1, Definition::Const(_))
        {
            let value = self.const_of(id)?;
            let (cfile, Definition::Const(c)) = self.origins[id.0] else {
                return None;
            };
            let cty = self.ty(cfile, &c.ty)?;
            return if self.same_kind(ty, &cty) {
                Some(value)
            } else {
                mismatch(self, &format!("a value of type {}", self.type_name(ty)))
            };
        }
        match (self.underlying(ty), &v.kind) {
            (Ty::Bool, ConstKind::Ident(b)) if b == "true" || b == "false" => {
                Some(Value::Bool(b == "true"))
            }
            (Ty::Bool, ConstKind::Int(i @ (0 | 1))) => Some(Value::Bool(*i == 1)),
            (Ty::Bool, _) => mismatch(self, "`true` or `false`"),
            (int @ (Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64), ConstKind::Int(i)) => {
                let (name, min, max) = match int {
                    Ty::I8 => ("i8", i8::MIN as i64, i8::MAX as i64),
                    Ty::I16 => ("i16", i16::MIN as i64, i16::MAX as i64),
                    Ty::I32 => ("i32", i32::MIN as i64, i32::MAX as i64),
                    _ => ("i64", i64::MIN, i64::MAX),
                };
                if (min..=max).contains(i) {
                    Some(Value::Int(*i))
                } else {
                    self.error(file, v.span, format!("{i} does not fit in {name}"));
                    None
                }
            }
            (Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64, _) => mismatch(self, "an integer"),
            (Ty::Double, ConstKind::Int(i)) => Some(Value::Double(*i as f64)),
            (Ty::Double, ConstKind::Double(d)) => Some(Value::Double(*d)),
            (Ty::Double, _) => mismatch(self, "a number"),
            (Ty::String | Ty::Binary, ConstKind::Str(s)) => Some(Value::String(s.clone())),
            (Ty::String | Ty::Binary, _) => mismatch(self, "a string"),
            (Ty::Uuid, ConstKind::Str(s)) if is_uuid(s) => Some(Value::String(s.clone())),
            (Ty::Uuid, _) => mismatch(
                self,
                "a uuid string (`00112233-4455-6677-8899-aabbccddeeff`)",
            ),
            (Ty::Enum(e), ConstKind::Int(i)) => Some(Value::Enum(e, *i)),
            (Ty::Enum(e), ConstKind::Ident(name)) => {
                let value = self.enum_value(file, e, name);
                if value.is_none() {
                    let enum_name = self.origins[e.0].1.name().name.clone();
                    self.error(
                        file,
                        v.span,
                        format!("`{name}` is not a value of enum `{enum_name}`"),
                    );
                }
                value.map(|x| Value::Enum(e, x))
            }
            (Ty::Enum(_), _) => mismatch(self, "an enum value"),
            (Ty::List(elem) | Ty::Set(elem), ConstKind::List(items)) => {
                let values: Vec<Option<Value>> =
                    items.iter().map(|i| self.value(file, &elem, i)).collect();
                values
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(Value::List)
            }
            (Ty::List(_) | Ty::Set(_), ConstKind::Map(m)) if m.is_empty() => {
                Some(Value::List(Vec::new()))
            }
            (Ty::List(_) | Ty::Set(_), _) => mismatch(self, "a list `[…]`"),
            (Ty::Map(k, val), ConstKind::Map(entries)) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (ek, ev) in entries {
                    match (self.value(file, &k, ek), self.value(file, &val, ev)) {
                        (Some(a), Some(b)) => out.push((a, b)),
                        _ => ok = false,
                    }
                }
                ok.then_some(Value::Map(out))
            }
            (Ty::Map(..), _) => mismatch(self, "a map `{…}`"),
            (Ty::Struct(s), ConstKind::Map(entries)) => self.struct_value(file, s, entries),
            (Ty::Struct(_), _) => mismatch(self, "a struct value `{\"field\": …}`"),
            (Ty::Typedef(_), _) => None,
        }
    }

    fn struct_value(
        &mut self,
        file: usize,
        s: DefId,
        entries: &[(ast::ConstValue, ast::ConstValue)],
    ) -> Option<Value> {
        let (sfile, Definition::Struct(def)) = self.origins[s.0] else {
            return None;
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let ConstKind::Str(name) = &k.kind else {
                self.error(file, k.span, "expected a field name in quotes");
                return None;
            };
            let Some(field) = def.fields.iter().find(|f| &f.name.name == name) else {
                self.error(
                    file,
                    k.span,
                    format!("`{}` has no field `{name}`", def.name.name),
                );
                return None;
            };
            let fty = self.ty(sfile, &field.ty)?;
            out.push((name.clone(), self.value(file, &fty, v)?));
        }
        Some(Value::Struct(out))
    }

    fn enum_value(&self, file: usize, e: DefId, name: &str) -> Option<i64> {
        let Definition::Enum(def) = self.origins[e.0].1 else {
            return None;
        };
        let (path, value) = name.rsplit_once('.')?;
        if self.lookup(file, path) != Some(e) {
            return None;
        }
        let mut next = 0;
        for v in &def.values {
            let x = v.value.map_or(next, |(x, _)| x);
            if v.name.name == value {
                return Some(x);
            }
            next = x + 1;
        }
        None
    }

    /// Follows typedefs (syntax level: the IR is not built yet).
    fn underlying(&mut self, ty: &Ty) -> Ty {
        let mut ty = ty.clone();
        for _ in 0..64 {
            let Ty::Typedef(id) = ty else {
                return ty;
            };
            let (file, Definition::Typedef(t)) = self.origins[id.0] else {
                return ty;
            };
            match self.ty(file, &t.ty) {
                Some(inner) => ty = inner,
                None => return Ty::Typedef(id),
            }
        }
        ty
    }

    fn same_kind(&mut self, a: &Ty, b: &Ty) -> bool {
        let (a, b) = (self.underlying(a), self.underlying(b));
        let int = |t: &Ty| matches!(t, Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64);
        a == b || (int(&a) && int(&b)) || (a == Ty::Double && int(&b))
    }

    fn type_name(&self, ty: &Ty) -> String {
        match ty {
            Ty::Enum(id) | Ty::Struct(id) | Ty::Typedef(id) => {
                self.origins[id.0].1.name().name.clone()
            }
            other => format!("{other:?}").to_lowercase(),
        }
    }

    fn service(&mut self, file: usize, s: &ast::Service) -> ServiceDef {
        let source = self.source(file);
        let extends = s
            .extends
            .as_ref()
            .and_then(|parent| match self.lookup(file, &parent.name) {
                Some(id) if matches!(self.origins[id.0].1, Definition::Service(_)) => Some(id),
                Some(_) => {
                    self.error(
                        file,
                        parent.span,
                        format!("`{}` is not a service", parent.name),
                    );
                    None
                }
                None => {
                    self.error(
                        file,
                        parent.span,
                        format!("unknown service `{}`", parent.name),
                    );
                    None
                }
            });
        let policy = self.policy(file, s.doc.as_ref(), &s.annotations);
        let mut names: HashMap<&str, Span> = HashMap::new();
        let mut methods = Vec::new();
        for f in &s.functions {
            if names.insert(&f.name.name, f.name.span).is_some() {
                self.error(
                    file,
                    f.name.span,
                    format!(
                        "service `{}` has two methods named `{}`",
                        s.name.name, f.name.name
                    ),
                );
            }
            let returns = f.returns.as_ref().and_then(|t| self.ty(file, t));
            let params = self.fields(file, &f.params, &f.name.name);
            let throws = self.fields(file, &f.throws, &f.name.name);
            for (ast_field, field) in f.throws.iter().zip(&throws) {
                let is_exception = match &field.ty {
                    Ty::Struct(id) => {
                        matches!(self.origins[id.0].1, Definition::Struct(st) if st.kind == StructKind::Exception)
                    }
                    _ => false,
                };
                if !is_exception {
                    self.error(
                        file,
                        ast_field.ty.span,
                        format!(
                            "`{}` is not an exception; `throws` lists exceptions",
                            ast_field.name.name
                        ),
                    );
                }
            }
            if f.oneway && (f.returns.is_some() || !f.throws.is_empty()) {
                self.errors.push(
                    Diagnostic::error(
                        source,
                        f.name.span,
                        format!(
                            "oneway method `{}` must return void and throw nothing",
                            f.name.name
                        ),
                    )
                    .with_help("the caller gets no reply to carry a result or an exception"),
                );
            }
            let own = self.policy(file, f.doc.as_ref(), &f.annotations);
            methods.push(MethodDef {
                name: f.name.name.clone(),
                oneway: f.oneway,
                returns,
                params,
                throws,
                policy: own.over(&policy),
                doc: f.doc.as_ref().map(|d| d.text.clone()),
                span: f.name.span,
            });
        }
        ServiceDef {
            extends,
            methods,
            policy,
        }
    }

    fn policy(
        &mut self,
        file: usize,
        doc: Option<&ast::Doc>,
        annotations: &[ast::Annotation],
    ) -> Policy {
        match policy_of(self.source(file), doc, annotations) {
            Ok(p) => p,
            Err(errs) => {
                self.errors.extend(errs);
                Policy::default()
            }
        }
    }

    fn check_typedef_cycles(&mut self, ir: &Ir) {
        for (i, def) in ir.defs.iter().enumerate() {
            let DefKind::Typedef(mut ty) = def.kind.clone() else {
                continue;
            };
            let mut seen = HashSet::from([i]);
            while let Ty::Typedef(id) = ty {
                if !seen.insert(id.0) {
                    self.error(
                        def.file,
                        def.span,
                        format!("typedef `{}` refers to itself", def.name),
                    );
                    break;
                }
                let DefKind::Typedef(next) = &ir.defs[id.0].kind else {
                    break;
                };
                ty = next.clone();
            }
        }
    }
}

fn describe(kind: &ConstKind) -> String {
    match kind {
        ConstKind::Int(i) => format!("`{i}`"),
        ConstKind::Double(d) => format!("`{d}`"),
        ConstKind::Str(s) => format!("\"{s}\""),
        ConstKind::Ident(n) => format!("`{n}`"),
        ConstKind::List(_) => "a list".to_owned(),
        ConstKind::Map(_) => "a map".to_owned(),
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The closest name within edit distance 2 (case-insensitive), for "did you mean".
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|&(d, _)| d <= 2 && d < name.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}
