//! The Thrift lexer: source text → tokens with spans. Comments are skipped except doc
//! comments (`/** … */`, `///`), which become tokens so the parser can attach them.

use std::sync::Arc;

use crate::diagnostic::{Diagnostic, SourceFile, Span};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// An identifier or keyword; may contain dots (`a.b.c`).
    Ident(String),
    /// An integer literal (decimal or `0x` hex, with optional sign).
    Int(i64),
    /// A floating-point literal.
    Double(f64),
    /// A string literal, quotes removed, escapes resolved.
    Str(String),
    /// A doc comment's text, comment markers removed.
    Doc(String),
    /// One of `{ } ( ) < > [ ] , ; : = *`.
    Punct(char),
    /// End of input.
    Eof,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
}

/// Splits `file` into tokens (ending with [`TokenKind::Eof`]).
pub fn tokenize(file: &Arc<SourceFile>) -> Result<Vec<Token>, Diagnostic> {
    let text = file.text();
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = line_end(bytes, i);
                if bytes.get(i + 2) == Some(&b'/') && bytes.get(i + 3) != Some(&b'/') {
                    let doc = text[i + 3..end].trim().to_owned();
                    push_doc(&mut tokens, text, doc, Span::new(start, end));
                }
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let Some(close) = text[i + 2..].find("*/") else {
                    return Err(Diagnostic::error(
                        file,
                        Span::new(start, start + 2),
                        "unterminated block comment",
                    ));
                };
                let end = i + 2 + close + 2;
                let is_doc = bytes.get(i + 2) == Some(&b'*') && end - start > 4;
                if is_doc {
                    let doc = clean_block_doc(&text[i + 3..end - 2]);
                    tokens.push(Token {
                        kind: TokenKind::Doc(doc),
                        span: Span::new(start, end),
                    });
                }
                i = end;
            }
            b'{' | b'}' | b'(' | b')' | b'<' | b'>' | b'[' | b']' | b',' | b';' | b':' | b'='
            | b'*' => {
                tokens.push(Token {
                    kind: TokenKind::Punct(c as char),
                    span: Span::new(start, start + 1),
                });
                i += 1;
            }
            b'"' | b'\'' => {
                let (s, end) = string_literal(file, i)?;
                tokens.push(Token {
                    kind: TokenKind::Str(s),
                    span: Span::new(start, end),
                });
                i = end;
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                let (kind, end) = number(file, i)?;
                tokens.push(Token {
                    kind,
                    span: Span::new(start, end),
                });
                i = end;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut end = i + 1;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric()
                        || bytes[end] == b'_'
                        || bytes[end] == b'.')
                {
                    end += 1;
                }
                tokens.push(Token {
                    kind: TokenKind::Ident(text[i..end].to_owned()),
                    span: Span::new(start, end),
                });
                i = end;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(Diagnostic::error(
                    file,
                    Span::new(start, start + ch.len_utf8()),
                    format!("unexpected character `{ch}`"),
                ));
            }
        }
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(bytes.len(), bytes.len()),
    });
    Ok(tokens)
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

/// Consecutive `///` lines join into one doc token.
fn push_doc(tokens: &mut Vec<Token>, text: &str, doc: String, span: Span) {
    if let Some(Token {
        kind: TokenKind::Doc(prev),
        span: prev_span,
    }) = tokens.last_mut()
        && text[prev_span.start..].starts_with("///")
    {
        prev.push('\n');
        prev.push_str(&doc);
        *prev_span = prev_span.to(span);
        return;
    }
    tokens.push(Token {
        kind: TokenKind::Doc(doc),
        span,
    });
}

/// Strips the leading `*` of each line of a `/** … */` comment.
fn clean_block_doc(body: &str) -> String {
    let lines: Vec<&str> = body
        .lines()
        .map(|l| {
            let t = l.trim();
            t.strip_prefix("* ")
                .or_else(|| t.strip_prefix('*'))
                .unwrap_or(t)
                .trim_end()
        })
        .collect();
    let first = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let last = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(first, |l| l + 1);
    lines[first..last].join("\n")
}

fn string_literal(file: &Arc<SourceFile>, start: usize) -> Result<(String, usize), Diagnostic> {
    let text = file.text();
    let quote = text.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        let at = start + 1 + off;
        match c {
            c if c == quote => return Ok((out, at + 1)),
            '\n' => break,
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\'')) => out.push('\''),
                Some((_, other)) => {
                    return Err(Diagnostic::error(
                        file,
                        Span::new(at, at + 1 + other.len_utf8()),
                        format!("unknown escape `\\{other}` in string literal"),
                    ));
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(Diagnostic::error(
        file,
        Span::new(start, start + 1),
        "unterminated string literal",
    ))
}

fn number(file: &Arc<SourceFile>, start: usize) -> Result<(TokenKind, usize), Diagnostic> {
    let bytes = file.text().as_bytes();
    let mut end = start;
    if matches!(bytes[end], b'+' | b'-') {
        end += 1;
    }
    let digits_start = end;
    let bad = |end: usize, what: &str| {
        Diagnostic::error(
            file,
            Span::new(start, end.max(start + 1)),
            format!(
                "invalid number literal `{}`: {what}",
                &file.text()[start..end.max(start + 1)]
            ),
        )
    };
    if bytes[end..].starts_with(b"0x") || bytes[end..].starts_with(b"0X") {
        end += 2;
        let hex_start = end;
        while end < bytes.len() && bytes[end].is_ascii_hexdigit() {
            end += 1;
        }
        let digits = &file.text()[hex_start..end];
        let magnitude =
            u64::from_str_radix(digits, 16).map_err(|_| bad(end, "not a 64-bit hex integer"))?;
        let negative = bytes[start] == b'-';
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        return value
            .map(|v| (TokenKind::Int(v), end))
            .ok_or_else(|| bad(end, "out of range for i64"));
    }
    let mut is_double = false;
    while end < bytes.len() {
        match bytes[end] {
            b'0'..=b'9' => end += 1,
            b'.' => {
                is_double = true;
                end += 1;
            }
            b'e' | b'E' => {
                is_double = true;
                end += 1;
                if matches!(bytes.get(end), Some(b'+' | b'-')) {
                    end += 1;
                }
            }
            _ => break,
        }
    }
    if end == digits_start || !bytes[digits_start..end].iter().any(u8::is_ascii_digit) {
        return Err(bad(end, "no digits"));
    }
    let literal = &file.text()[start..end];
    if is_double {
        literal
            .parse::<f64>()
            .map(|v| (TokenKind::Double(v), end))
            .map_err(|_| bad(end, "not a valid double"))
    } else {
        literal
            .parse::<i64>()
            .map(|v| (TokenKind::Int(v), end))
            .map_err(|_| bad(end, "out of range for i64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(&SourceFile::new("t.thrift", src))
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn tokens_literals_and_comments() {
        use TokenKind::*;
        assert_eq!(
            kinds("const i32 a.b = -0x10; # c\n// c\n/* c */ 'x\\n' 1.5e3 -7 +2"),
            vec![
                Ident("const".into()),
                Ident("i32".into()),
                Ident("a.b".into()),
                Punct('='),
                Int(-16),
                Punct(';'),
                Str("x\n".into()),
                Double(1500.0),
                Int(-7),
                Int(2),
                Eof
            ]
        );
    }

    #[test]
    fn doc_comments_are_kept() {
        use TokenKind::*;
        assert_eq!(
            kinds("/**\n * Home feed.\n *  Second line.\n */\n/// one\n/// two\nstruct"),
            vec![
                Doc("Home feed.\n Second line.".into()),
                Doc("one\ntwo".into()),
                Ident("struct".into()),
                Eof
            ]
        );
    }

    #[test]
    fn errors_point_at_the_text() {
        let file = SourceFile::new("t.thrift", "const string s = \"abc\nx");
        let e = tokenize(&file).unwrap_err();
        assert_eq!(e.message, "unterminated string literal");
        assert_eq!(e.line_col(), (1, 18));
        let e = tokenize(&SourceFile::new(
            "t.thrift",
            "const i64 x = 99999999999999999999",
        ))
        .unwrap_err();
        assert!(e.message.contains("out of range for i64"), "{}", e.message);
        let e = tokenize(&SourceFile::new("t.thrift", "struct A { 1: i32 a @ }")).unwrap_err();
        assert_eq!(e.message, "unexpected character `@`");
    }
}
