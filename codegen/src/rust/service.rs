//! Rust for a service, in a module named after it: per method a `MethodInfo` (name, oneway,
//! effective `@control_plane` policy as typed constants), an args struct, its result struct
//! and error type; the server trait (`async fn` per method, futures need not be `Send`),
//! `dispatch`/`handle` for the runtime's server, and a `Client` over any `Channel`. A service
//! that `extends` another inherits its trait, its dispatch and (through `Deref`) its client
//! methods. A method without declared exceptions uses the runtime's generic `Reply<T>` (or
//! `()`) as its result struct and `CallError` as its error; one with `throws` gets its own
//! result and error enums.

use super::code::{Code, line, open};
use super::names::{camel, screaming, snake};
use super::types::{TypeGen, read_loop, str_lit};
use crate::ir::*;
use crate::policy::PolicyValue;

/// The Rust names of one method's items.
struct MethodNames {
    /// The `MethodInfo` static (`ECHO`).
    info: String,
    /// The handler and client method (`echo`).
    function: String,
    /// `EchoArgs`, `EchoResult`, `EchoError`.
    args: String,
    result: String,
    error: String,
}

impl MethodNames {
    fn new(m: &MethodDef) -> Self {
        let camel = camel(&m.name);
        MethodNames {
            info: screaming(&m.name),
            function: snake(&m.name),
            args: format!("{camel}Args"),
            result: format!("{camel}Result"),
            error: format!("{camel}Error"),
        }
    }
}

impl TypeGen<'_> {
    /// The path of service `id`'s module as seen from inside another service's module.
    fn service_module(&self, id: DefId) -> String {
        let def = self.ir.def(id);
        let module = snake(&def.name);
        if def.file == self.file {
            format!("super::{module}")
        } else {
            let file_module = snake(&self.ir.files[def.file].stem);
            format!("super::super::{file_module}::{module}")
        }
    }

    /// What method `m` returns (`()` for `void`).
    fn return_ty(&self, m: &MethodDef) -> String {
        m.returns
            .as_ref()
            .map_or_else(|| "()".into(), |t| self.rust_ty(t))
    }

    /// `&self` and `name: Type` for each of `m`'s parameters.
    fn params(&self, m: &MethodDef) -> Vec<String> {
        let params = m
            .params
            .iter()
            .map(|p| format!("{}: {}", snake(&p.name), self.rust_ty(&p.ty)));
        std::iter::once("&self".to_string()).chain(params).collect()
    }

    pub(super) fn service(&self, def: &Def, svc: &ServiceDef, code: &mut Code) {
        let trait_name = camel(&def.name);
        code.doc(def.doc.as_deref());
        open!(code, "pub mod {}", snake(&def.name));
        line!(code, "use ::ringrpc::__codegen as __rt;");
        code.blank();
        line!(code, "/// The IDL name of the service.");
        line!(code, "pub const SERVICE: &str = {};", str_lit(&def.name));
        for m in &svc.methods {
            code.blank();
            self.method_items(def, m, code);
        }
        code.blank();
        self.server(def, svc, &trait_name, code);
        code.blank();
        self.client(svc, code);
        code.close();
    }

    fn method_items(&self, service: &Def, m: &MethodDef, code: &mut Code) {
        let names = MethodNames::new(m);
        line!(
            code,
            "/// `{}.{}`: name, oneway flag and effective `@control_plane` policy.",
            service.name,
            m.name
        );
        open!(
            code,
            "pub static {}: __rt::MethodInfo = __rt::MethodInfo",
            names.info
        );
        line!(code, "service: {},", str_lit(&service.name));
        line!(code, "name: {},", str_lit(&m.name));
        line!(code, "oneway: {},", m.oneway);
        if m.policy.is_empty() {
            line!(code, "policy: &[],");
        } else {
            line!(code, "policy: &[");
            for (key, value) in m.policy.iter() {
                let value = match value {
                    PolicyValue::Int(i) => format!("Int({i})"),
                    PolicyValue::Number(n) => format!("Number({n:?})"),
                    PolicyValue::Bool(b) => format!("Bool({b})"),
                    PolicyValue::Text(t) => format!("Text({})", str_lit(t)),
                };
                line!(code, "    ({}, __rt::PolicyConst::{value}),", str_lit(key));
            }
            line!(code, "],");
        }
        code.close_with("};");
        code.blank();
        // The args struct, generated like any struct (IDL name `<method>_args`, as Apache).
        let args = Def {
            name: format!("{}_args", m.name),
            file: service.file,
            span: m.span,
            doc: Some(format!("The arguments of `{}`.", m.name)),
            annotations: Vec::new(),
            kind: DefKind::Struct(StructDef {
                kind: StructKind::Struct,
                fields: m.params.clone(),
            }),
        };
        if let DefKind::Struct(s) = &args.kind {
            self.structure(DefId(usize::MAX), &args, s, code);
        }
        code.blank();
        open!(code, "impl __rt::MethodArgs for {}", names.args);
        let result = if m.oneway {
            "()"
        } else {
            names.result.as_str()
        };
        line!(code, "type Result = {result};");
        line!(
            code,
            "const METHOD: &'static __rt::MethodInfo = &{};",
            names.info
        );
        code.close();
        code.blank();
        if m.throws.is_empty() {
            let result = match &m.returns {
                _ if m.oneway => None,
                Some(t) => Some(format!("__rt::Reply<{}>", self.rust_ty(t))),
                None => Some("()".into()),
            };
            if let Some(result) = result {
                line!(
                    code,
                    "/// The result struct of `{}` (`{}_result` on the wire).",
                    m.name,
                    m.name
                );
                line!(code, "pub type {} = {result};", names.result);
            }
            line!(code, "/// How `{}` can fail.", m.name);
            line!(code, "pub type {} = __rt::CallError;", names.error);
        } else {
            self.result_enum(m, &names, code);
            code.blank();
            self.error_enum(m, &names, code);
        }
    }

    /// The result struct of a method with declared exceptions.
    fn result_enum(&self, m: &MethodDef, names: &MethodNames, code: &mut Code) {
        let (result, error) = (&names.result, &names.error);
        let wire_name = format!("{}_result", m.name);
        line!(
            code,
            "/// The result struct of `{}` (`{wire_name}` on the wire).",
            m.name
        );
        line!(code, "#[derive(Debug, Clone, PartialEq)]");
        open!(code, "pub enum {result}");
        line!(code, "/// The method returned.");
        match &m.returns {
            Some(t) => line!(code, "Success({}),", self.rust_ty(t)),
            None => line!(code, "Success,"),
        }
        for t in &m.throws {
            line!(code, "{}({}),", camel(&t.name), self.rust_ty(&t.ty));
        }
        code.close();
        code.blank();
        line!(code, "impl __rt::OnewayResult for {result} {{}}");
        code.blank();
        open!(code, "impl __rt::ResultStruct for {result}");
        line!(code, "type Ok = {};", self.return_ty(m));
        line!(code, "type Err = {error};");
        code.call(
            "fn from_outcome(",
            &[format!("outcome: __rt::Result<Self::Ok, {error}>")],
            ") -> __rt::Result<Self, __rt::CallError> {",
        );
        open!(code, "match outcome");
        match m.returns {
            Some(_) => line!(code, "__rt::Ok(v) => __rt::Ok({result}::Success(v)),"),
            None => line!(code, "__rt::Ok(()) => __rt::Ok({result}::Success),"),
        }
        for t in &m.throws {
            let v = camel(&t.name);
            line!(
                code,
                "__rt::Err({error}::{v}(e)) => __rt::Ok({result}::{v}(e)),"
            );
        }
        line!(code, "__rt::Err({error}::Call(e)) => __rt::Err(e),");
        code.close();
        code.close();
        open!(
            code,
            "fn into_outcome(self) -> __rt::Result<Self::Ok, {error}>"
        );
        open!(code, "match self");
        match m.returns {
            Some(_) => line!(code, "{result}::Success(v) => __rt::Ok(v),"),
            None => line!(code, "{result}::Success => __rt::Ok(()),"),
        }
        for t in &m.throws {
            let v = camel(&t.name);
            line!(code, "{result}::{v}(e) => __rt::Err({error}::{v}(e)),");
        }
        code.close();
        code.close();
        code.close();
        code.blank();
        self.impl_encode(result, "Struct", code, |code| {
            line!(code, "let scope = w.write_struct_begin();");
            open!(code, "match self");
            match m.returns {
                Some(_) => line!(code, "{result}::Success(v) => __rt::write_field(w, 0, v)?,"),
                None => line!(code, "{result}::Success => {{}}"),
            }
            for t in &m.throws {
                let v = camel(&t.name);
                line!(
                    code,
                    "{result}::{v}(e) => __rt::write_field(w, {}, e)?,",
                    t.id
                );
            }
            code.close();
            line!(code, "w.write_struct_end(scope);");
            line!(code, "__rt::Ok(())");
        });
        code.blank();
        let strukt = str_lit(&wire_name);
        self.impl_decode(result, "Struct", code, |code| {
            line!(code, "let scope = r.read_struct_begin()?;");
            line!(code, "let mut out = __rt::UnionSlot::default();");
            let mut fields: Vec<(i16, String, &str)> = Vec::new();
            if m.returns.is_some() {
                fields.push((0, format!("{result}::Success"), "success"));
            }
            for t in &m.throws {
                fields.push((t.id, format!("{result}::{}", camel(&t.name)), &t.name));
            }
            read_loop(code, "out", &strukt, &fields);
            line!(code, "r.read_struct_end(scope);");
            match m.returns {
                Some(_) => {
                    let args = [format!("|| __rt::missing_success({strukt}, r.position())")];
                    code.call("out.last().ok_or_else(", &args, ")");
                }
                None => line!(code, "__rt::Ok(out.last().unwrap_or({result}::Success))"),
            }
        });
    }

    /// The error type of a method with declared exceptions.
    fn error_enum(&self, m: &MethodDef, names: &MethodNames, code: &mut Code) {
        let error = &names.error;
        line!(
            code,
            "/// How `{}` can fail: its declared exceptions, or `Call` (an undeclared failure).",
            m.name
        );
        line!(code, "#[derive(Debug, Clone, PartialEq)]");
        open!(code, "pub enum {error}");
        for t in &m.throws {
            line!(code, "{}({}),", camel(&t.name), self.rust_ty(&t.ty));
        }
        line!(
            code,
            "/// An undeclared failure: a `TApplicationException` from (or for) the peer, or a"
        );
        line!(code, "/// transport or codec error.");
        line!(code, "Call(__rt::CallError),");
        code.close();
        code.blank();
        open!(code, "impl ::std::fmt::Display for {error}");
        open!(
            code,
            "fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result"
        );
        open!(code, "match self");
        for t in &m.throws {
            line!(
                code,
                "{error}::{}(e) => ::std::fmt::Display::fmt(e, f),",
                camel(&t.name)
            );
        }
        line!(code, "{error}::Call(e) => ::std::fmt::Display::fmt(e, f),");
        code.close();
        code.close();
        code.close();
        code.blank();
        line!(code, "impl ::std::error::Error for {error} {{}}");
        let mut from = vec![
            ("__rt::CallError".to_string(), format!("{error}::Call(e)")),
            (
                "__rt::ApplicationException".to_string(),
                format!("{error}::Call(__rt::CallError::Application(e))"),
            ),
        ];
        // `From` for each exception type declared once (two fields of one type would make
        // the conversion ambiguous).
        let types: Vec<String> = m.throws.iter().map(|t| self.rust_ty(&t.ty)).collect();
        for (t, ty) in m.throws.iter().zip(&types) {
            if types.iter().filter(|other| *other == ty).count() == 1 {
                from.push((ty.clone(), format!("{error}::{}(e)", camel(&t.name))));
            }
        }
        for (ty, body) in from {
            code.blank();
            open!(code, "impl __rt::From<{ty}> for {error}");
            open!(code, "fn from(e: {ty}) -> Self");
            line!(code, "{body}");
            code.close();
            code.close();
        }
    }

    fn server(&self, def: &Def, svc: &ServiceDef, trait_name: &str, code: &mut Code) {
        code.doc(def.doc.as_deref());
        match svc.extends {
            Some(p) => {
                let parent = self.service_module(p);
                let parent_trait = camel(&self.ir.def(p).name);
                open!(code, "pub trait {trait_name}: {parent}::{parent_trait}");
            }
            None => open!(code, "pub trait {trait_name}"),
        }
        for (i, m) in svc.methods.iter().enumerate() {
            if i > 0 {
                code.blank();
            }
            code.doc(m.doc.as_deref());
            let names = MethodNames::new(m);
            code.call(
                &format!("async fn {}(", names.function),
                &self.params(m),
                &format!(") -> __rt::Result<{}, {}>;", self.return_ty(m), names.error),
            );
        }
        code.close();
        code.blank();
        line!(
            code,
            "/// Runs the method named `method` on `handler` with arguments read from `r`, writing"
        );
        line!(
            code,
            "/// its reply to `sink` (none for oneway methods). Returns `false` if the service (with"
        );
        line!(
            code,
            "/// its parents) has no such method; `r` is then untouched."
        );
        line!(code, "pub async fn dispatch<H, R, S>(");
        line!(code, "    handler: &H,");
        line!(code, "    method: &str,");
        line!(code, "    r: &mut R,");
        line!(code, "    sink: &mut S,");
        line!(code, ") -> __rt::Result<bool, __rt::EncodeError>");
        line!(code, "where");
        line!(code, "    H: {trait_name} + ?Sized,");
        line!(code, "    R: __rt::ProtocolReader,");
        line!(code, "    S: __rt::ReplySink,");
        code.open_block();
        open!(code, "match method");
        for m in &svc.methods {
            let names = MethodNames::new(m);
            let call = format!(
                "handler.{}({})",
                names.function,
                m.params
                    .iter()
                    .map(|p| format!("a.{}", snake(&p.name)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let a = if m.params.is_empty() { "_" } else { "a" };
            let serve = if m.oneway {
                "serve_oneway(r, "
            } else {
                "serve(r, sink, "
            };
            line!(
                code,
                "{} => __rt::{serve}|{a}: {}| {call}).await?,",
                str_lit(&m.name),
                names.args
            );
        }
        match svc.extends {
            Some(p) => line!(
                code,
                "_ => return {}::dispatch(handler, method, r, sink).await,",
                self.service_module(p)
            ),
            None => line!(code, "_ => return __rt::Ok(false),"),
        }
        code.close();
        line!(code, "__rt::Ok(true)");
        code.close();
        code.blank();
        line!(
            code,
            "/// What the runtime knows about the method named `method` (this service's or a"
        );
        line!(
            code,
            "/// parent's): its `@control_plane` policy for server-side governance."
        );
        open!(
            code,
            "pub fn method_info(method: &str) -> __rt::Option<&'static __rt::MethodInfo>"
        );
        open!(code, "match method");
        for m in &svc.methods {
            let names = MethodNames::new(m);
            line!(code, "{} => __rt::Some(&{}),", str_lit(&m.name), names.info);
        }
        match svc.extends {
            Some(p) => line!(
                code,
                "_ => {}::method_info(method),",
                self.service_module(p)
            ),
            None => line!(code, "_ => __rt::None,"),
        }
        code.close();
        code.close();
        code.blank();
        line!(
            code,
            "/// Every method this service answers: its own, then its parents'."
        );
        open!(
            code,
            "pub fn methods() -> __rt::Vec<&'static __rt::MethodInfo>"
        );
        let own: Vec<String> = svc
            .methods
            .iter()
            .map(|m| format!("&{}", MethodNames::new(m).info))
            .collect();
        match svc.extends {
            Some(p) => {
                line!(
                    code,
                    "let mut all: __rt::Vec<&'static __rt::MethodInfo> = __rt::Vec::from([{}]);",
                    own.join(", ")
                );
                line!(code, "all.extend({}::methods());", self.service_module(p));
                line!(code, "all");
            }
            None => line!(code, "__rt::Vec::from([{}])", own.join(", ")),
        }
        code.close();
        code.blank();
        line!(
            code,
            "/// [`dispatch`], answering an unknown method with a `TApplicationException`"
        );
        line!(
            code,
            "/// (`UNKNOWN_METHOD`) after skipping its arguments, as Apache servers do."
        );
        line!(code, "pub async fn handle<H, R, S>(");
        line!(code, "    handler: &H,");
        line!(code, "    method: &str,");
        line!(code, "    r: &mut R,");
        line!(code, "    sink: &mut S,");
        line!(code, ") -> __rt::EncodeResult");
        line!(code, "where");
        line!(code, "    H: {trait_name} + ?Sized,");
        line!(code, "    R: __rt::ProtocolReader,");
        line!(code, "    S: __rt::ReplySink,");
        code.open_block();
        open!(code, "if !dispatch(handler, method, r, sink).await?");
        line!(code, "__rt::unknown_method(r, sink, SERVICE, method)?;");
        code.close();
        line!(code, "__rt::Ok(())");
        code.close();
        code.blank();
        line!(
            code,
            "/// A handler of `{}` ready for `ringrpc::Server::builder().serve(address, || Server::new(handler))`.",
            def.name
        );
        line!(code, "#[derive(Debug, Clone, Default)]");
        line!(code, "pub struct Server<H>(pub H);");
        code.blank();
        open!(code, "impl<H> Server<H>");
        line!(code, "/// Serves `handler`.");
        open!(code, "pub fn new(handler: H) -> Self");
        line!(code, "Server(handler)");
        code.close();
        code.close();
        code.blank();
        open!(code, "impl<H: {trait_name}> __rt::Dispatch for Server<H>");
        line!(
            code,
            "async fn dispatch<R: __rt::ProtocolReader, S: __rt::ReplySink>("
        );
        line!(code, "    &self,");
        line!(code, "    method: &str,");
        line!(code, "    r: &mut R,");
        line!(code, "    sink: &mut S,");
        open!(code, ") -> __rt::EncodeResult");
        line!(code, "handle(&self.0, method, r, sink).await");
        code.close();
        code.blank();
        open!(
            code,
            "fn method(&self, name: &str) -> __rt::Option<&'static __rt::MethodInfo>"
        );
        line!(code, "method_info(name)");
        code.close();
        code.blank();
        open!(
            code,
            "fn methods(&self) -> __rt::Vec<&'static __rt::MethodInfo>"
        );
        line!(code, "methods()");
        code.close();
        code.close();
    }

    fn client(&self, svc: &ServiceDef, code: &mut Code) {
        line!(
            code,
            "/// A typed client over any [`Channel`](__rt::Channel)."
        );
        line!(code, "#[derive(Debug, Clone)]");
        let parent = svc.extends.map(|p| self.service_module(p));
        open!(code, "pub struct Client<C>");
        match &parent {
            Some(p) => line!(code, "parent: {p}::Client<C>,"),
            None => line!(code, "channel: C,"),
        }
        code.close();
        code.blank();
        open!(code, "impl<C> Client<C>");
        line!(code, "/// A client sending calls through `channel`.");
        open!(code, "pub fn new(channel: C) -> Self");
        match &parent {
            Some(p) => {
                open!(code, "Client");
                line!(code, "parent: {p}::Client::new(channel),");
                code.close();
            }
            None => line!(code, "Client {{ channel }}"),
        }
        code.close();
        code.blank();
        line!(code, "/// The channel calls go through.");
        open!(code, "pub fn channel(&self) -> &C");
        match &parent {
            Some(_) => line!(code, "self.parent.channel()"),
            None => line!(code, "&self.channel"),
        }
        code.close();
        code.close();
        if let Some(p) = &parent {
            code.blank();
            line!(code, "/// The parent service's methods.");
            open!(code, "impl<C> ::std::ops::Deref for Client<C>");
            line!(code, "type Target = {p}::Client<C>;");
            code.blank();
            open!(code, "fn deref(&self) -> &Self::Target");
            line!(code, "&self.parent");
            code.close();
            code.close();
        }
        if svc.methods.is_empty() {
            return;
        }
        code.blank();
        open!(code, "impl<C: __rt::Channel> Client<C>");
        for (i, m) in svc.methods.iter().enumerate() {
            if i > 0 {
                code.blank();
            }
            let names = MethodNames::new(m);
            code.doc(m.doc.as_deref());
            code.call(
                &format!("pub async fn {}(", names.function),
                &self.params(m),
                &format!(
                    ") -> __rt::Result<{}, {}> {{",
                    self.return_ty(m),
                    names.error
                ),
            );
            let args = if m.params.is_empty() {
                format!("{} {{}}", names.args)
            } else {
                let fields: Vec<String> = m.params.iter().map(|p| snake(&p.name)).collect();
                format!("{} {{ {} }}", names.args, fields.join(", "))
            };
            let call = if m.oneway { "call_oneway" } else { "call" };
            line!(code, "__rt::{call}(self.channel(), &{args}).await");
            code.close();
        }
        code.close();
    }
}
