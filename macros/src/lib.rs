//! ringrpc-macros: `include_thrift!("idl/echo.thrift")` generates, in place, the same code the
//! build.rs `Builder` and the `idl-gen` CLI write (all three call
//! `ringrpc_codegen::Builder::generate`). Use it through `ringrpc::include_thrift!`.

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Token};

/// `"path"` or `"path", include = ["dir", …]`.
struct Input {
    path: LitStr,
    include_dirs: Vec<LitStr>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path: LitStr = input.parse()?;
        let mut include_dirs = Vec::new();
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            if key != "include" {
                return Err(syn::Error::new(
                    key.span(),
                    "expected `include = [\"dir\", …]`",
                ));
            }
            input.parse::<Token![=]>()?;
            let content;
            syn::bracketed!(content in input);
            let dirs = content.parse_terminated(|p| p.parse::<LitStr>(), Token![,])?;
            include_dirs.extend(dirs);
            input.parse::<Option<Token![,]>>()?;
        }
        Ok(Input { path, include_dirs })
    }
}

/// Generates Rust for a Thrift file (path relative to the crate's `Cargo.toml`) in place.
/// IDL errors become compile errors quoting the IDL location.
///
/// ```ignore
/// mod echo {
///     ringrpc::include_thrift!("idl/echo.thrift", include = ["idl/common"]);
/// }
/// ```
#[proc_macro]
pub fn include_thrift(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as Input);
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let builder = input
        .include_dirs
        .iter()
        .fold(ringrpc_codegen::Builder::new().threads(1), |b, d| {
            b.include_dir(root.join(d.value()))
        });
    let path = root.join(input.path.value());
    let (code, inputs) = match builder.generate(&path) {
        Ok(out) => out,
        Err(e) => {
            let message = format!("ringrpc: cannot generate code from IDL:\n{e}");
            return syn::Error::new(input.path.span(), message)
                .to_compile_error()
                .into();
        }
    };
    let tokens: proc_macro2::TokenStream = match code.parse() {
        Ok(t) => t,
        Err(e) => {
            return syn::Error::new(
                input.path.span(),
                format!("ringrpc: generated code does not parse: {e}"),
            )
            .to_compile_error()
            .into();
        }
    };
    // Rebuild when an IDL file changes.
    let deps = inputs.iter().map(|p| {
        let p = p.display().to_string();
        quote!(
            const _: &[u8] = include_bytes!(#p);
        )
    });
    quote!(#tokens #(#deps)*).into()
}
