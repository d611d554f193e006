//! Rust for a service, in a module named after it: per method a `MethodInfo` (name, oneway,
//! effective `@control_plane` policy as typed constants), an args struct, a result enum (the
//! Thrift result struct) and an error enum (declared exceptions plus `Call`); the server
//! trait (`async fn` per method, futures need not be `Send`), `dispatch`/`handle` for the
//! runtime's server, and a `Client` over any `Channel`. A service that `extends` another
//! inherits its trait, its dispatch and (through `Deref`) its client methods.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::names::{camel, screaming, snake};
use super::types::{TypeGen, docs, ident};
use crate::ir::*;
use crate::policy::PolicyValue;

impl TypeGen<'_> {
    /// The path of service `id`'s module as seen from inside another service's module.
    fn service_module(&self, id: DefId) -> TokenStream {
        let def = self.ir.def(id);
        let module = ident(&snake(&def.name));
        if def.file == self.file {
            quote!(super::#module)
        } else {
            let file_module = ident(&snake(&self.ir.files[def.file].stem));
            quote!(super::super::#file_module::#module)
        }
    }

    pub(super) fn service(&self, id: DefId, def: &Def, svc: &ServiceDef) -> TokenStream {
        let doc = docs(def.doc.as_deref());
        let module = ident(&snake(&def.name));
        let trait_name = ident(&camel(&def.name));
        let service_name = &def.name;
        let methods: Vec<TokenStream> = svc
            .methods
            .iter()
            .map(|m| self.method_items(id, def, m))
            .collect();
        let trait_fns = svc.methods.iter().map(|m| {
            let mdoc = docs(m.doc.as_deref());
            let fname = ident(&snake(&m.name));
            let params = m.params.iter().map(|p| {
                let pname = ident(&snake(&p.name));
                let t = self.rust_ty(&p.ty);
                quote!(#pname: #t)
            });
            let ret = self.return_ty(m);
            let err = ident(&format!("{}Error", camel(&m.name)));
            quote! {
                #mdoc
                async fn #fname(&self, #(#params),*) -> ::std::result::Result<#ret, #err>;
            }
        });
        let parent_trait = svc.extends.map(|p| {
            let m = self.service_module(p);
            let t = ident(&camel(&self.ir.def(p).name));
            quote!(: #m::#t)
        });
        let arms = svc.methods.iter().map(|m| self.dispatch_arm(m));
        let fallback = match svc.extends {
            Some(p) => {
                let m = self.service_module(p);
                quote!(#m::dispatch(handler, method, r, sink).await)
            }
            None => quote!(::std::result::Result::Ok(false)),
        };
        let client = self.client(svc);
        quote! {
            #doc
            pub mod #module {
                /// The IDL name of the service.
                pub const SERVICE: &str = #service_name;

                #(#methods)*

                #doc
                pub trait #trait_name #parent_trait {
                    #(#trait_fns)*
                }

                /// Runs the method named `method` on `handler` with arguments read from `r`,
                /// writing its reply to `sink` (none for oneway methods). Returns `false` if
                /// the service (with its parents) has no such method; `r` is then untouched.
                pub async fn dispatch<H, R, S>(
                    handler: &H,
                    method: &str,
                    r: &mut R,
                    sink: &mut S,
                ) -> ::std::result::Result<bool, ::ringrpc::__codegen::EncodeError>
                where
                    H: #trait_name + ?::std::marker::Sized,
                    R: ::ringrpc::__codegen::ProtocolReader,
                    S: ::ringrpc::__codegen::ReplySink,
                {
                    match method {
                        #(#arms)*
                        _ => #fallback,
                    }
                }

                /// [`dispatch`], answering an unknown method with a `TApplicationException`
                /// (`UNKNOWN_METHOD`) after skipping its arguments, as Apache servers do.
                pub async fn handle<H, R, S>(
                    handler: &H,
                    method: &str,
                    r: &mut R,
                    sink: &mut S,
                ) -> ::std::result::Result<(), ::ringrpc::__codegen::EncodeError>
                where
                    H: #trait_name + ?::std::marker::Sized,
                    R: ::ringrpc::__codegen::ProtocolReader,
                    S: ::ringrpc::__codegen::ReplySink,
                {
                    if !dispatch(handler, method, r, sink).await? {
                        let _ = r.skip(::ringrpc::__codegen::TType::Struct);
                        sink.exception(&::ringrpc::__codegen::ApplicationException::new(
                            ::ringrpc::__codegen::ApplicationErrorKind::UNKNOWN_METHOD,
                            ::std::format!("unknown method `{}` of service `{}`", method, SERVICE),
                        ))?;
                    }
                    ::std::result::Result::Ok(())
                }

                #client
            }
        }
    }

    fn return_ty(&self, m: &MethodDef) -> TokenStream {
        match &m.returns {
            Some(t) => self.rust_ty(t),
            None => quote!(()),
        }
    }

    fn method_items(&self, _service: DefId, sdef: &Def, m: &MethodDef) -> TokenStream {
        let info = ident(&screaming(&m.name));
        let mname = &m.name;
        let sname = &sdef.name;
        let oneway = m.oneway;
        let policy = m.policy.iter().map(|(k, v)| {
            let v = match v {
                PolicyValue::Int(i) => {
                    let lit = Literal::u64_suffixed(*i);
                    quote!(::ringrpc::__codegen::PolicyConst::Int(#lit))
                }
                PolicyValue::Number(n) => {
                    let lit = Literal::f64_suffixed(*n);
                    quote!(::ringrpc::__codegen::PolicyConst::Number(#lit))
                }
                PolicyValue::Bool(b) => quote!(::ringrpc::__codegen::PolicyConst::Bool(#b)),
                PolicyValue::Text(t) => quote!(::ringrpc::__codegen::PolicyConst::Text(#t)),
            };
            quote!((#k, #v))
        });
        let camel_name = camel(&m.name);
        // The args struct, generated like any struct (IDL name `<method>_args`, as Apache).
        let args_def = Def {
            name: format!("{}_args", m.name),
            file: sdef.file,
            span: m.span,
            doc: Some(format!("The arguments of `{}`.", m.name)),
            annotations: Vec::new(),
            kind: DefKind::Struct(StructDef {
                kind: StructKind::Struct,
                fields: m.params.clone(),
            }),
        };
        let args = self.structure(
            DefId(usize::MAX),
            &args_def,
            match &args_def.kind {
                DefKind::Struct(s) => s,
                _ => unreachable!("built as a struct just above"),
            },
        );
        let result = ident(&format!("{camel_name}Result"));
        let error = ident(&format!("{camel_name}Error"));
        let result_name = format!("{}_result", m.name);
        let ret = self.return_ty(m);
        let success_variant = if m.returns.is_some() {
            quote!(Success(#ret),)
        } else {
            quote!(Success,)
        };
        let exc: Vec<_> = m
            .throws
            .iter()
            .map(|t| {
                (
                    ident(&camel(&t.name)),
                    self.rust_ty(&t.ty),
                    Literal::i16_unsuffixed(t.id),
                    t.name.clone(),
                )
            })
            .collect();
        let exc_variants = exc.iter().map(|(v, t, _, _)| quote!(#v(#t),));
        let encode_success = if m.returns.is_some() {
            quote!(#result::Success(v) => ::ringrpc::__codegen::write_field(w, 0, v)?,)
        } else {
            quote!(#result::Success => {})
        };
        let encode_exc = exc.iter().map(|(v, _, id, _)| quote!(#result::#v(e) => ::ringrpc::__codegen::write_field(w, #id, e)?,));
        let decode_success = m.returns.as_ref().map(|t| {
            let t = self.rust_ty(t);
            quote! {
                0 => {
                    let mut slot: ::std::option::Option<#t> = ::std::option::Option::None;
                    ::ringrpc::__codegen::read_field(r, f.ttype, &mut slot, #result_name, "success", 0)?;
                    if let ::std::option::Option::Some(v) = slot {
                        out = ::std::option::Option::Some(#result::Success(v));
                    }
                }
            }
        });
        let decode_exc = exc.iter().map(|(v, t, id, name)| {
            quote! {
                #id => {
                    let mut slot: ::std::option::Option<#t> = ::std::option::Option::None;
                    ::ringrpc::__codegen::read_field(r, f.ttype, &mut slot, #result_name, #name, #id)?;
                    if let ::std::option::Option::Some(e) = slot {
                        out = ::std::option::Option::Some(#result::#v(e));
                    }
                }
            }
        });
        let missing = if m.returns.is_some() {
            quote! {
                ::std::option::Option::None => ::std::result::Result::Err(::ringrpc::__codegen::DecodeError::new(
                    ::ringrpc::__codegen::DecodeErrorKind::MissingRequiredField { strukt: #result_name, field: "success" },
                    r.position(),
                )),
            }
        } else {
            quote!(::std::option::Option::None => ::std::result::Result::Ok(#result::Success),)
        };
        let error_variants = exc.iter().map(|(v, t, _, _)| quote!(#v(#t),));
        let error_display = exc
            .iter()
            .map(|(v, _, _, _)| quote!(#error::#v(e) => ::std::fmt::Display::fmt(e, f),));
        let from_exc = exc.iter().map(|(v, t, _, _)| {
            quote! {
                impl ::std::convert::From<#t> for #error {
                    fn from(e: #t) -> Self {
                        #error::#v(e)
                    }
                }
            }
        });
        let policy_doc =
            format!(" `{sname}.{mname}`: name, oneway flag and effective `@control_plane` policy.");
        let error_doc = format!(
            " How `{mname}` can fail: its declared exceptions, or `Call` (an undeclared failure)."
        );
        let result_doc = format!(" The result struct of `{mname}` (`{result_name}` on the wire).");
        quote! {
            #[doc = #policy_doc]
            pub static #info: ::ringrpc::__codegen::MethodInfo = ::ringrpc::__codegen::MethodInfo {
                service: #sname,
                name: #mname,
                oneway: #oneway,
                policy: &[#(#policy),*],
            };

            #args

            #[doc = #result_doc]
            #[derive(Debug, Clone, PartialEq)]
            pub enum #result {
                /// The method returned.
                #success_variant
                #(#exc_variants)*
            }

            impl ::ringrpc::__codegen::OnewayResult for #result {}

            impl ::ringrpc::__codegen::Encode for #result {
                const TTYPE: ::ringrpc::__codegen::TType = ::ringrpc::__codegen::TType::Struct;
                fn encode<W: ::ringrpc::__codegen::ProtocolWriter>(&self, w: &mut W) -> ::std::result::Result<(), ::ringrpc::__codegen::EncodeError> {
                    let scope = w.write_struct_begin();
                    match self {
                        #encode_success
                        #(#encode_exc)*
                    }
                    w.write_struct_end(scope);
                    ::std::result::Result::Ok(())
                }
            }

            impl ::ringrpc::__codegen::Decode for #result {
                const TTYPE: ::ringrpc::__codegen::TType = ::ringrpc::__codegen::TType::Struct;
                fn decode<R: ::ringrpc::__codegen::ProtocolReader>(r: &mut R) -> ::std::result::Result<Self, ::ringrpc::__codegen::DecodeError> {
                    let scope = r.read_struct_begin()?;
                    let mut out = ::std::option::Option::None;
                    loop {
                        let f = r.read_field_begin()?;
                        if f.ttype == ::ringrpc::__codegen::TType::Stop {
                            break;
                        }
                        match f.id {
                            #decode_success
                            #(#decode_exc)*
                            _ => r.skip(f.ttype)?,
                        }
                    }
                    r.read_struct_end(scope);
                    match out {
                        ::std::option::Option::Some(v) => ::std::result::Result::Ok(v),
                        #missing
                    }
                }
            }

            #[doc = #error_doc]
            #[derive(Debug, Clone, PartialEq)]
            pub enum #error {
                #(#error_variants)*
                /// An undeclared failure: a `TApplicationException` from (or for) the peer, or
                /// a transport or codec error.
                Call(::ringrpc::__codegen::CallError),
            }

            impl ::std::fmt::Display for #error {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    match self {
                        #(#error_display)*
                        #error::Call(e) => ::std::fmt::Display::fmt(e, f),
                    }
                }
            }

            impl ::std::error::Error for #error {}

            impl ::std::convert::From<::ringrpc::__codegen::CallError> for #error {
                fn from(e: ::ringrpc::__codegen::CallError) -> Self {
                    #error::Call(e)
                }
            }

            impl ::std::convert::From<::ringrpc::__codegen::ApplicationException> for #error {
                fn from(e: ::ringrpc::__codegen::ApplicationException) -> Self {
                    #error::Call(::ringrpc::__codegen::CallError::Application(e))
                }
            }

            #(#from_exc)*
        }
    }

    fn dispatch_arm(&self, m: &MethodDef) -> TokenStream {
        let mname = &m.name;
        let camel_name = camel(&m.name);
        let args_ty = format_ident!("{}Args", camel_name);
        let result = ident(&format!("{camel_name}Result"));
        let error = ident(&format!("{camel_name}Error"));
        let fname = ident(&snake(&m.name));
        let arg_fields = m.params.iter().map(|p| {
            let n = ident(&snake(&p.name));
            quote!(args.#n)
        });
        let bad_args = if m.oneway {
            quote!(return ::std::result::Result::Ok(true);)
        } else {
            quote! {
                sink.exception(&::ringrpc::__codegen::ApplicationException::new(
                    ::ringrpc::__codegen::ApplicationErrorKind::PROTOCOL_ERROR,
                    ::std::string::ToString::to_string(&e),
                ))?;
                return ::std::result::Result::Ok(true);
            }
        };
        let reply = if m.oneway {
            quote!(let _ = outcome;)
        } else {
            let ok = if m.returns.is_some() {
                quote!(::std::result::Result::Ok(v) => sink.reply(&#result::Success(v))?,)
            } else {
                quote!(::std::result::Result::Ok(()) => sink.reply(&#result::Success)?,)
            };
            let exc = m.throws.iter().map(|t| {
                let v = ident(&camel(&t.name));
                quote!(::std::result::Result::Err(#error::#v(e)) => sink.reply(&#result::#v(e))?,)
            });
            quote! {
                match outcome {
                    #ok
                    #(#exc)*
                    ::std::result::Result::Err(#error::Call(e)) => sink.exception(&e.to_application_exception())?,
                }
            }
        };
        quote! {
            #mname => {
                let args = match <#args_ty as ::ringrpc::__codegen::Decode>::decode(r) {
                    ::std::result::Result::Ok(args) => args,
                    ::std::result::Result::Err(e) => {
                        let _ = &e;
                        #bad_args
                    }
                };
                let outcome = handler.#fname(#(#arg_fields),*).await;
                #reply
                ::std::result::Result::Ok(true)
            }
        }
    }

    fn client(&self, svc: &ServiceDef) -> TokenStream {
        let methods = svc.methods.iter().map(|m| {
            let mdoc = docs(m.doc.as_deref());
            let camel_name = camel(&m.name);
            let fname = ident(&snake(&m.name));
            let info = ident(&screaming(&m.name));
            let args_ty = format_ident!("{}Args", camel_name);
            let result = ident(&format!("{camel_name}Result"));
            let error = ident(&format!("{camel_name}Error"));
            let params: Vec<_> = m
                .params
                .iter()
                .map(|p| (ident(&snake(&p.name)), self.rust_ty(&p.ty)))
                .collect();
            let sig = params.iter().map(|(n, t)| quote!(#n: #t));
            let init = params.iter().map(|(n, _)| quote!(#n));
            let ret = self.return_ty(m);
            let body = if m.oneway {
                quote! {
                    self.channel().call::<_, ()>(&#info, &args).await.map_err(#error::Call)
                }
            } else {
                let ok = if m.returns.is_some() {
                    quote!(#result::Success(v) => ::std::result::Result::Ok(v),)
                } else {
                    quote!(#result::Success => ::std::result::Result::Ok(()),)
                };
                let exc = m.throws.iter().map(|t| {
                    let v = ident(&camel(&t.name));
                    quote!(#result::#v(e) => ::std::result::Result::Err(#error::#v(e)),)
                });
                quote! {
                    match self.channel().call::<_, #result>(&#info, &args).await.map_err(#error::Call)? {
                        #ok
                        #(#exc)*
                    }
                }
            };
            quote! {
                #mdoc
                pub async fn #fname(&self, #(#sig),*) -> ::std::result::Result<#ret, #error> {
                    let args = #args_ty { #(#init),* };
                    #body
                }
            }
        });
        let (fields, new, channel, deref) = match svc.extends {
            Some(p) => {
                let m = self.service_module(p);
                (
                    quote!(parent: #m::Client<C>,),
                    quote!(Client { parent: #m::Client::new(channel) }),
                    quote!(self.parent.channel()),
                    quote! {
                        /// The parent service's methods.
                        impl<C> ::std::ops::Deref for Client<C> {
                            type Target = #m::Client<C>;
                            fn deref(&self) -> &Self::Target {
                                &self.parent
                            }
                        }
                    },
                )
            }
            None => (
                quote!(channel: C,),
                quote!(Client { channel }),
                quote!(&self.channel),
                TokenStream::new(),
            ),
        };
        let lit_empty = Literal::string("");
        let _ = lit_empty;
        quote! {
            /// A typed client over any [`Channel`](::ringrpc::__codegen::Channel).
            #[derive(Debug, Clone)]
            pub struct Client<C> {
                #fields
            }

            impl<C> Client<C> {
                /// A client sending calls through `channel`.
                pub fn new(channel: C) -> Self {
                    #new
                }

                /// The channel calls go through.
                pub fn channel(&self) -> &C {
                    #channel
                }
            }

            #deref

            impl<C: ::ringrpc::__codegen::Channel> Client<C> {
                #(#methods)*
            }
        }
    }
}
