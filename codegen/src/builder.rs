//! The build.rs API: `Builder::new().include_dir("idl").compile(&["idl/echo.thrift"])` writes
//! `$OUT_DIR/echo.rs`, which `ringrpc::include_idl!("echo")` includes.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;
use crate::resolve::resolve;
use crate::rust::generate;
use crate::thrift::Loader;

/// Why code generation failed.
#[derive(Debug)]
pub enum Error {
    /// The IDL has errors (each located at `file:line:col`).
    Idl(Diagnostics),
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// `OUT_DIR` is not set and no output directory was given.
    NoOutDir,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Idl(d) => write!(f, "{d}"),
            Error::Io { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            Error::NoOutDir => f.write_str(
                "no output directory: call `out_dir(..)` or run from a build script (OUT_DIR)",
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Generates Rust from IDL files (for build scripts and tools).
#[derive(Debug, Clone, Default)]
pub struct Builder {
    include_dirs: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
}

impl Builder {
    /// A builder writing to `$OUT_DIR`.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Adds a directory searched for `include`d files.
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.include_dirs.push(dir.into());
        self
    }

    /// Writes to `dir` instead of `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Generates the Rust source of one IDL file (and what it includes), as a string.
    pub fn generate(&self, file: &Path) -> Result<(String, Vec<PathBuf>), Error> {
        let loader = self
            .include_dirs
            .iter()
            .fold(Loader::new(), |l, d| l.include_dir(d.clone()));
        let program = loader.load(file).map_err(Error::Idl)?;
        let inputs = program
            .files
            .iter()
            .map(|f| f.source.path().to_path_buf())
            .collect();
        let (ir, warnings) = resolve(&program).map_err(Error::Idl)?;
        for w in warnings {
            if std::env::var_os("OUT_DIR").is_some() {
                println!("cargo:warning={}", w.to_string().replace('\n', " "));
            }
        }
        Ok((generate(&ir), inputs))
    }

    /// The `@control_plane` policy of every service and method of `file`, as JSON.
    pub fn policy_json(&self, file: &Path) -> Result<String, Error> {
        let loader = self
            .include_dirs
            .iter()
            .fold(Loader::new(), |l, d| l.include_dir(d.clone()));
        let program = loader.load(file).map_err(Error::Idl)?;
        let (ir, _) = resolve(&program).map_err(Error::Idl)?;
        Ok(crate::policy_dump::policy_json(&ir))
    }

    /// Generates `<out>/<stem>.rs` for each file; in a build script, also tells cargo to
    /// rerun when any input changes.
    pub fn compile(&self, files: &[impl AsRef<Path>]) -> Result<(), Error> {
        let out = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::NoOutDir)?,
        };
        for file in files {
            let file = file.as_ref();
            let (code, inputs) = self.generate(file)?;
            if std::env::var_os("OUT_DIR").is_some() {
                for input in inputs {
                    println!("cargo:rerun-if-changed={}", input.display());
                }
            }
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let path = out.join(format!("{stem}.rs"));
            std::fs::write(&path, code).map_err(|source| Error::Io { path, source })?;
        }
        Ok(())
    }
}
