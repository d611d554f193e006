//! Diagnostics: errors and warnings that point at `file:line:col`, quote the source line and
//! put a caret under the offending text.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span.
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A source file with its line index.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps `text`, read from `path`.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Arc::new(SourceFile {
            path: path.into(),
            text,
            line_starts,
        })
    }

    /// Where the file was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self.text[start..offset].chars().count() + 1;
        (line + 1, col)
    }

    /// The text of 1-based line `line`, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&next| next - 1);
        self.text[start..end].trim_end_matches('\r')
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Code generation fails.
    Error,
    /// Worth knowing; generation goes on.
    Warning,
}

/// One error or warning at a place in a source file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A plain sentence saying what is wrong.
    pub message: String,
    /// The file.
    pub file: Arc<SourceFile>,
    /// The offending text.
    pub span: Span,
    /// An optional hint ("did you mean …?").
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error.
    pub fn error(file: &Arc<SourceFile>, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            file: file.clone(),
            span,
            help: None,
        }
    }

    /// A warning.
    pub fn warning(file: &Arc<SourceFile>, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, span, message)
        }
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// 1-based line and column where it points.
    pub fn line_col(&self) -> (usize, usize) {
        self.file.line_col(self.span.start)
    }
}

impl fmt::Display for Diagnostic {
    /// ```text
    /// error: expected `}` to close struct `Foo`, found end of file
    ///  --> idl/foo.thrift:3:1
    ///   |
    /// 3 | struct Foo {
    ///   |            ^
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = self.line_col();
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{kind}: {}", self.message)?;
        let gutter = line.to_string().len();
        writeln!(
            f,
            "{:gutter$}--> {}:{line}:{col}",
            "",
            self.file.path.display()
        )?;
        let text = self.file.line_text(line);
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{line} | {text}")?;
        let (end_line, end_col) = self
            .file
            .line_col(self.span.end.max(self.span.start + 1) - 1);
        let width = if end_line == line {
            (end_col + 1).saturating_sub(col).max(1)
        } else {
            1
        };
        let pad: String = text
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{:gutter$} | {pad}{}", "", "^".repeat(width))?;
        if let Some(help) = &self.help {
            write!(f, "\n{:gutter$} = help: {help}", "")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The diagnostics of a failed run (at least one error), in source order.
#[derive(Debug, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let file = SourceFile::new("idl/a.thrift", "struct A {\n  1: strin name\n}\n");
        let d = Diagnostic::error(&file, Span::new(16, 21), "unknown type `strin`")
            .with_help("did you mean `string`?");
        assert_eq!(d.line_col(), (2, 6));
        assert_eq!(
            d.to_string(),
            "error: unknown type `strin`\n --> idl/a.thrift:2:6\n  |\n2 |   1: strin name\n  |      ^^^^^\n  = help: did you mean `string`?"
        );
    }
}
