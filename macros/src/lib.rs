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
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    expand(input.into(), &root).into()
}

/// The expansion of `include_thrift!(input)` in a crate rooted at `root`: the generated code
/// followed by an `include_bytes!` of every IDL file read (so cargo rebuilds when one
/// changes), or a `compile_error!` with the located IDL diagnostics.
fn expand(input: proc_macro2::TokenStream, root: &std::path::Path) -> proc_macro2::TokenStream {
    let input: Input = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let builder = input
        .include_dirs
        .iter()
        .fold(ringrpc_codegen::Builder::new(), |b, d| {
            b.include_dir(root.join(d.value()))
        });
    let path = root.join(input.path.value());
    let (code, inputs) = match builder.generate(&path) {
        Ok(out) => out,
        Err(e) => {
            let message = format!("ringrpc: cannot generate code from IDL:\n{e}");
            return syn::Error::new(input.path.span(), message).to_compile_error();
        }
    };
    let tokens: proc_macro2::TokenStream = match code.parse() {
        Ok(t) => t,
        Err(e) => {
            let message = format!("ringrpc: generated code does not parse: {e}");
            return syn::Error::new(input.path.span(), message).to_compile_error();
        }
    };
    let deps = inputs.iter().map(|p| {
        let p = p.display().to_string();
        quote!(
            const _: &[u8] = include_bytes!(#p);
        )
    });
    quote!(#tokens #(#deps)*)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use quote::quote;

    use super::expand;

    fn repo() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    /// The third way in produces the build.rs API's (and so `idl-gen`'s) code, token for
    /// token; only the rebuild markers are added.
    #[test]
    fn the_macro_expands_to_what_the_builder_generates() {
        for idl in ["idl/echo.thrift", "idl/golden.thrift", "idl/bench.thrift"] {
            let expanded = expand(quote!(#idl), repo()).to_string();
            let (code, inputs) = ringrpc_codegen::Builder::new()
                .generate(&repo().join(idl))
                .unwrap();
            let generated: proc_macro2::TokenStream = code.parse().unwrap();
            let generated = generated.to_string();
            assert!(
                expanded.starts_with(&generated),
                "{idl}: the macro's expansion differs from the builder's code"
            );
            let markers = &expanded[generated.len()..];
            assert_eq!(
                markers.matches("include_bytes").count(),
                inputs.len(),
                "{idl}"
            );
        }
    }

    #[test]
    fn idl_errors_become_a_compile_error_quoting_the_location() {
        let dir = std::env::temp_dir().join(format!("ringrpc-macros-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bad.thrift"), "struct S {\n  1: strin name\n}\n").unwrap();
        let expanded = expand(quote!("bad.thrift"), &dir).to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(expanded.contains("compile_error"), "{expanded}");
        assert!(
            expanded.contains("cannot generate code from IDL"),
            "{expanded}"
        );
        assert!(expanded.contains("bad.thrift:2:6"), "{expanded}");
        assert!(expanded.contains("unknown type `strin`"), "{expanded}");
        assert!(expanded.contains("1: strin name"), "{expanded}");
    }

    #[test]
    fn bad_macro_arguments_are_a_compile_error() {
        let expanded = expand(quote!("a.thrift", includes = ["x"]), repo()).to_string();
        assert!(expanded.contains("expected `include"), "{expanded}");
    }
}
