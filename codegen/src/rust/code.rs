//! [`Code`]: the text the Rust back end writes, line by line with four-space indentation,
//! laid out as rustfmt would (blocks opened with ` {`, one item per line, a blank line
//! between items). Writing text directly, instead of building tokens and formatting them,
//! is what keeps generation fast on large IDL.

use std::fmt::{self, Write as _};

/// rustfmt's default line width.
const MAX_WIDTH: usize = 100;
/// rustfmt's default `fn_call_width`: wider argument lists go one per line.
const CALL_ARGS_WIDTH: usize = 60;

/// Generated source under construction.
#[derive(Debug, Default)]
pub(crate) struct Code {
    out: String,
    depth: usize,
}

/// Writes one formatted line into a [`Code`]: `line!(code, "pub x: {ty},")`.
macro_rules! line {
    ($code:expr, $($fmt:tt)*) => {
        $code.line(format_args!($($fmt)*))
    };
}
pub(crate) use line;

/// Opens a block: writes the formatted line with ` {` appended and indents what follows.
macro_rules! open {
    ($code:expr, $($fmt:tt)*) => {
        $code.open(format_args!($($fmt)*))
    };
}
pub(crate) use open;

impl Code {
    /// The text written so far.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    /// Writes one line at the current indentation.
    pub(crate) fn line(&mut self, text: fmt::Arguments<'_>) {
        self.indent();
        // Writing into a String cannot fail.
        let _ = self.out.write_fmt(text);
        self.out.push('\n');
    }

    /// Writes `text {` and indents.
    pub(crate) fn open(&mut self, text: fmt::Arguments<'_>) {
        self.indent();
        let _ = self.out.write_fmt(text);
        self.out.push_str(" {\n");
        self.depth += 1;
    }

    /// Opens a bare block: `{` on its own line (a function body after a `where` clause).
    pub(crate) fn open_block(&mut self) {
        self.indent();
        self.out.push_str("{\n");
        self.depth += 1;
    }

    /// Writes `head(args…)tail` on one line if it fits rustfmt's limits (100 columns, 60 for
    /// the arguments), otherwise with one argument per line, as rustfmt lays out a call or a
    /// signature. A `tail` ending in `{` opens a block.
    pub(crate) fn call(&mut self, head: &str, args: &[String], tail: &str) {
        let args_width = args
            .iter()
            .map(|a| a.len() + 2)
            .sum::<usize>()
            .saturating_sub(2);
        let width = self.depth * 4 + head.len() + args_width + tail.len();
        let opens = tail.ends_with('{');
        if width <= MAX_WIDTH && (args_width <= CALL_ARGS_WIDTH || head.contains("fn ")) {
            self.indent();
            self.out.push_str(head);
            self.out.push_str(&args.join(", "));
            self.out.push_str(tail);
            self.out.push('\n');
        } else {
            self.indent();
            self.out.push_str(head);
            self.out.push('\n');
            self.depth += 1;
            for arg in args {
                line!(self, "{arg},");
            }
            self.depth -= 1;
            self.indent();
            self.out.push_str(tail);
            self.out.push('\n');
        }
        if opens {
            self.depth += 1;
        }
    }

    /// A match arm `pat => head(args…)tail,` laid out as rustfmt does: on one line if it
    /// fits, else the call alone in a block on the next line, else one argument per line.
    pub(crate) fn arm(&mut self, pat: &str, head: &str, args: &[String], tail: &str) {
        let args_width = args
            .iter()
            .map(|a| a.len() + 2)
            .sum::<usize>()
            .saturating_sub(2);
        let call_width = head.len() + args_width + tail.len();
        let one_line = self.depth * 4 + pat.len() + 4 + call_width + 1;
        if args_width <= CALL_ARGS_WIDTH && one_line <= MAX_WIDTH {
            line!(self, "{pat} => {head}{}{tail},", args.join(", "));
        } else if args_width <= CALL_ARGS_WIDTH && (self.depth + 1) * 4 + call_width <= MAX_WIDTH {
            open!(self, "{pat} =>");
            line!(self, "{head}{}{tail}", args.join(", "));
            self.close();
        } else {
            self.call(&format!("{pat} => {head}"), args, &format!("{tail},"));
        }
    }

    /// Dedents and writes `}`.
    pub(crate) fn close(&mut self) {
        self.close_with("}");
    }

    /// Dedents and writes `closing` (`}`, `});`, `},`…).
    pub(crate) fn close_with(&mut self, closing: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str(closing);
        self.out.push('\n');
    }

    /// An empty line (between items).
    pub(crate) fn blank(&mut self) {
        self.out.push('\n');
    }

    /// `///` lines for an IDL doc comment, if any.
    pub(crate) fn doc(&mut self, doc: Option<&str>) {
        for text in doc.into_iter().flat_map(str::lines) {
            if text.is_empty() {
                line!(self, "///");
            } else {
                line!(self, "/// {text}");
            }
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("    ");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_indent_and_docs_become_triple_slash_lines() {
        let mut code = Code::default();
        code.doc(Some("First.\n\nThird."));
        open!(code, "pub struct {}", "Point");
        line!(code, "pub x: {},", "i32");
        code.close();
        assert_eq!(
            code.finish(),
            "/// First.\n///\n/// Third.\npub struct Point {\n    pub x: i32,\n}\n"
        );
    }
}
