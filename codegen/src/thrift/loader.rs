//! Loading a Thrift file and everything it includes: include paths resolved relative to the
//! including file, then the `-I` directories; each file parsed once; cycles reported with
//! the whole chain.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ast::Document;
use super::parser::parse;
use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile, Span};

/// One loaded file.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    /// The source.
    pub source: Arc<SourceFile>,
    /// Its syntax tree.
    pub document: Document,
    /// Its includes, in order: the name other definitions use as a prefix (the file stem,
    /// `shared` for `shared.thrift`) and the index of the included file in
    /// [`Program::files`].
    pub includes: Vec<(String, usize)>,
}

/// A root file and everything it includes, each parsed once.
#[derive(Debug, Clone)]
pub struct Program {
    /// Every file; includes come before the files that include them, the root last.
    pub files: Vec<LoadedFile>,
    /// Warnings from every file.
    pub warnings: Vec<Diagnostic>,
}

impl Program {
    /// The root file (the one that was loaded).
    pub fn root(&self) -> &LoadedFile {
        self.files
            .last()
            .expect("a program has at least its root file")
    }
}

/// Loads Thrift files with a list of include directories.
#[derive(Debug, Clone, Default)]
pub struct Loader {
    include_dirs: Vec<PathBuf>,
}

impl Loader {
    /// A loader that resolves includes relative to the including file only.
    pub fn new() -> Self {
        Loader::default()
    }

    /// Adds a directory searched for includes (after the including file's own directory).
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.include_dirs.push(dir.into());
        self
    }

    /// Loads `path` and, recursively, what it includes.
    pub fn load(&self, path: &Path) -> Result<Program, Diagnostics> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let file = SourceFile::new(path, "");
            Diagnostics(vec![Diagnostic::error(
                &file,
                Span::default(),
                format!("cannot read {}: {e}", path.display()),
            )])
        })?;
        let mut state = LoadState::default();
        let source = SourceFile::new(path, text);
        self.visit(source, &mut state)?;
        Ok(Program {
            files: state.files,
            warnings: state.warnings,
        })
    }

    fn visit(&self, source: Arc<SourceFile>, state: &mut LoadState) -> Result<usize, Diagnostics> {
        let key = canonical(source.path());
        state.stack.push(key.clone());
        let parsed = parse(&source).map_err(|d| Diagnostics(vec![d]))?;
        state.warnings.extend(parsed.warnings);
        let mut includes = Vec::new();
        for include in &parsed.document.includes {
            let Some(found) = self.find(source.path(), &include.path) else {
                let mut looked: Vec<String> = vec![dir_of(source.path()).display().to_string()];
                looked.extend(self.include_dirs.iter().map(|d| d.display().to_string()));
                return Err(Diagnostics(vec![
                    Diagnostic::error(
                        &source,
                        include.span,
                        format!("cannot find included file `{}`", include.path),
                    )
                    .with_help(format!("looked in: {}", looked.join(", "))),
                ]));
            };
            let found_key = canonical(&found);
            if let Some(at) = state.stack.iter().position(|p| *p == found_key) {
                let chain: Vec<String> = state.stack[at..]
                    .iter()
                    .chain(std::iter::once(&found_key))
                    .map(|p| file_name(p))
                    .collect();
                return Err(Diagnostics(vec![Diagnostic::error(
                    &source,
                    include.span,
                    format!("include cycle: {}", chain.join(" → ")),
                )]));
            }
            let index = match state.loaded.get(&found_key) {
                Some(&i) => i,
                None => {
                    let text = std::fs::read_to_string(&found).map_err(|e| {
                        Diagnostics(vec![Diagnostic::error(
                            &source,
                            include.span,
                            format!("cannot read {}: {e}", found.display()),
                        )])
                    })?;
                    self.visit(SourceFile::new(found.clone(), text), state)?
                }
            };
            let stem = Path::new(&include.path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            includes.push((stem, index));
        }
        state.stack.pop();
        let index = state.files.len();
        state.loaded.insert(key, index);
        state.files.push(LoadedFile {
            source,
            document: parsed.document,
            includes,
        });
        Ok(index)
    }

    fn find(&self, from: &Path, include: &str) -> Option<PathBuf> {
        std::iter::once(dir_of(from))
            .chain(self.include_dirs.iter().cloned())
            .map(|dir| dir.join(include))
            .find(|p| p.is_file())
    }
}

#[derive(Default)]
struct LoadState {
    files: Vec<LoadedFile>,
    loaded: HashMap<PathBuf, usize>,
    stack: Vec<PathBuf>,
    warnings: Vec<Diagnostic>,
}

fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
