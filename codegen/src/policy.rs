//! `@control_plane` policy: the closed, documented key set ([`KEYS`], shared with the runtime
//! through `ringrpc-policy-keys`), parsing from a doc
//! comment (`@control_plane(timeout_ms = 200, …)`) or native annotations
//! (`(control_plane.timeout_ms = "200")`), validation with located diagnostics ("did you
//! mean …?"), and method-over-service merging ([`Policy::over`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use ringrpc_policy_keys::{closest, closest_key};

use crate::diagnostic::{Diagnostic, SourceFile, Span};
use crate::thrift::ast::{Annotation, Doc};

pub use ringrpc_policy_keys::{KEYS, KeySpec, ValueKind};

/// A validated policy value.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyValue {
    /// Milliseconds or a count.
    Int(u64),
    /// A ratio or percentage.
    Number(f64),
    /// A flag.
    Bool(bool),
    /// A choice or text.
    Text(String),
}

impl PolicyValue {
    fn json(&self, out: &mut String) {
        match self {
            PolicyValue::Int(v) => write!(out, "{v}").unwrap_or(()),
            PolicyValue::Number(v) => write!(out, "{v}").unwrap_or(()),
            PolicyValue::Bool(v) => write!(out, "{v}").unwrap_or(()),
            PolicyValue::Text(s) => json_string(out, s),
        }
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap_or(()),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A set of validated `@control_plane` keys (service- or method-level).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    entries: BTreeMap<String, PolicyValue>,
}

impl Policy {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&PolicyValue> {
        self.entries.get(key)
    }

    /// All keys and values, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PolicyValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `self` (a method's policy) over `base` (its service's): method keys win.
    pub fn over(&self, base: &Policy) -> Policy {
        let mut entries = base.entries.clone();
        entries.extend(self.entries.iter().map(|(k, v)| (k.clone(), v.clone())));
        Policy { entries }
    }

    /// The policy as a JSON object (keys sorted).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            json_string(&mut out, k);
            out.push_str(": ");
            v.json(&mut out);
        }
        out.push('}');
        out
    }
}

/// A raw `key = value` before validation.
struct RawEntry {
    key: String,
    key_span: Span,
    value: RawValue,
    value_span: Span,
}

enum RawValue {
    /// A number, `true`/`false` or a bare word as written.
    Word(String),
    /// A quoted string.
    Quoted(String),
}

/// Reads the policy of one element from its doc comment and native annotations. A key set
/// in both, or twice, is an error; so is anything [`KEYS`] does not allow.
pub fn policy_of(
    file: &Arc<SourceFile>,
    doc: Option<&Doc>,
    annotations: &[Annotation],
) -> Result<Policy, Vec<Diagnostic>> {
    let mut raw = Vec::new();
    let mut errors = Vec::new();
    if let Some(doc) = doc {
        match doc_entries(file, doc) {
            Ok(entries) => raw.extend(entries),
            Err(e) => errors.push(e),
        }
    }
    for a in annotations {
        if let Some(key) = a.key.name.strip_prefix("control_plane.") {
            let offset = a.key.name.len() - key.len();
            raw.push(RawEntry {
                key: key.to_owned(),
                key_span: Span::new(a.key.span.start + offset, a.key.span.end),
                value: RawValue::Word(a.value.clone()),
                value_span: a.value_span,
            });
        }
    }
    let mut policy = Policy::default();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for entry in raw {
        if let Some(first) = seen.get(&entry.key) {
            let (line, col) = file.line_col(first.start);
            errors.push(Diagnostic::error(
                file,
                entry.key_span,
                format!(
                    "`{}` is set twice (first at line {line}, column {col})",
                    entry.key
                ),
            ));
            continue;
        }
        seen.insert(entry.key.clone(), entry.key_span);
        match validate(file, &entry) {
            Ok(value) => {
                policy.entries.insert(entry.key, value);
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(PolicyValue::Text(lb)) = policy.get("load_balance")
        && lb == "consistent_hash"
        && policy.get("load_balance.hash_key").is_none()
    {
        let span = seen["load_balance"];
        errors.push(
            Diagnostic::error(
                file,
                span,
                "`load_balance = \"consistent_hash\"` needs a key to hash",
            )
            .with_help("add `load_balance.hash_key = \"<metadata key>\"`"),
        );
    }
    if let (Some(PolicyValue::Int(base)), Some(PolicyValue::Int(max))) = (
        policy.get("retry.backoff_base_ms"),
        policy.get("retry.backoff_max_ms"),
    ) && max < base
    {
        errors.push(Diagnostic::error(
            file,
            seen["retry.backoff_max_ms"],
            format!("`retry.backoff_max_ms` ({max}) is below `retry.backoff_base_ms` ({base})"),
        ));
    }
    if errors.is_empty() {
        Ok(policy)
    } else {
        errors.sort_by_key(|d| d.span.start);
        Err(errors)
    }
}

fn validate(file: &Arc<SourceFile>, e: &RawEntry) -> Result<PolicyValue, Diagnostic> {
    let Some(spec) = ringrpc_policy_keys::spec(&e.key) else {
        let mut d = Diagnostic::error(
            file,
            e.key_span,
            format!("unknown `@control_plane` key `{}`", e.key),
        );
        d = match closest_key(&e.key) {
            Some(k) => d.with_help(format!("did you mean `{k}`?")),
            None => d.with_help(format!(
                "known keys: {}",
                KEYS.iter().map(|k| k.key).collect::<Vec<_>>().join(", ")
            )),
        };
        return Err(d);
    };
    let text = match &e.value {
        RawValue::Word(w) | RawValue::Quoted(w) => w.as_str(),
    };
    let wrong = |expected: &str| {
        Diagnostic::error(
            file,
            e.value_span,
            format!("`{}` takes {expected}, found `{text}`", e.key),
        )
    };
    let out_of_range = |range: String| {
        Diagnostic::error(
            file,
            e.value_span,
            format!("`{}` must be {range}, found {text}", e.key),
        )
    };
    match spec.kind {
        ValueKind::Millis { min, max } | ValueKind::Count { min, max } => {
            let what = if matches!(spec.kind, ValueKind::Millis { .. }) {
                "milliseconds (a whole number)"
            } else {
                "a whole number"
            };
            let v: u64 = text.trim().parse().map_err(|_| wrong(what))?;
            if !(min..=max).contains(&v) {
                return Err(out_of_range(format!("between {min} and {max}")));
            }
            Ok(PolicyValue::Int(v))
        }
        ValueKind::Number { min, max } => {
            let v: f64 = text.trim().parse().map_err(|_| wrong("a number"))?;
            if !v.is_finite() || v < min || v > max {
                return Err(out_of_range(format!("between {min} and {max}")));
            }
            Ok(PolicyValue::Number(v))
        }
        ValueKind::Bool => match text.trim() {
            "true" => Ok(PolicyValue::Bool(true)),
            "false" => Ok(PolicyValue::Bool(false)),
            _ => Err(wrong("`true` or `false`")),
        },
        ValueKind::Choice(choices) => {
            if choices.contains(&text) {
                Ok(PolicyValue::Text(text.to_owned()))
            } else {
                let mut d = wrong(&format!("one of {}", choices.join(", ")));
                if let Some(c) = closest(text, choices.iter().copied()) {
                    d = d.with_help(format!("did you mean `{c}`?"));
                }
                Err(d)
            }
        }
        ValueKind::Text => {
            if text.is_empty() {
                Err(wrong("a non-empty string"))
            } else {
                Ok(PolicyValue::Text(text.to_owned()))
            }
        }
    }
}

/// Parses every `@control_plane(…)` in a doc comment, reading the original source so spans
/// point at the exact text.
fn doc_entries(file: &Arc<SourceFile>, doc: &Doc) -> Result<Vec<RawEntry>, Diagnostic> {
    const MARK: &str = "@control_plane";
    let src = &file.text()[doc.span.start..doc.span.end];
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = src[from..].find(MARK) {
        let mut p = DocScanner {
            file,
            src,
            base: doc.span.start,
            pos: from + found + MARK.len(),
        };
        p.skip_trivia();
        if !p.eat('(') {
            return Err(p.error_here("expected `(` after `@control_plane`"));
        }
        loop {
            p.skip_trivia();
            if p.eat(')') {
                break;
            }
            let (key, key_span) = p.word(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if key.is_empty() {
                return Err(p.error_here("expected a `@control_plane` key or `)`"));
            }
            p.skip_trivia();
            if !p.eat('=') {
                return Err(p.error_here(&format!("expected `=` after `{key}`")));
            }
            p.skip_trivia();
            let (value, value_span) = match p.peek() {
                Some(q @ ('"' | '\'')) => p.quoted(q)?,
                _ => {
                    let (w, span) = p.word(|c| c.is_ascii_alphanumeric() || "_.-+".contains(c));
                    if w.is_empty() {
                        return Err(p.error_here(&format!("expected a value for `{key}`")));
                    }
                    (RawValue::Word(w), span)
                }
            };
            out.push(RawEntry {
                key,
                key_span,
                value,
                value_span,
            });
            p.skip_trivia();
            if !p.eat(',') && p.peek() != Some(')') {
                return Err(p.error_here("expected `,` or `)`"));
            }
        }
        from = p.pos;
    }
    Ok(out)
}

struct DocScanner<'a> {
    file: &'a Arc<SourceFile>,
    src: &'a str,
    base: usize,
    pos: usize,
}

impl DocScanner<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Whitespace and the comment decoration (`*` at line starts, `///`).
    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == '*' || c == '/' {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn word(&mut self, ok: impl Fn(char) -> bool) -> (String, Span) {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|&c| ok(c)) {
            self.pos += c.len_utf8();
        }
        (
            self.src[start..self.pos].to_owned(),
            Span::new(self.base + start, self.base + self.pos),
        )
    }

    fn quoted(&mut self, q: char) -> Result<(RawValue, Span), Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        let Some(len) = self.src[self.pos..].find(q) else {
            return Err(Diagnostic::error(
                self.file,
                Span::new(self.base + start, self.base + start + 1),
                "unterminated string in `@control_plane`",
            ));
        };
        let text = self.src[self.pos..self.pos + len].to_owned();
        self.pos += len + 1;
        Ok((
            RawValue::Quoted(text),
            Span::new(self.base + start, self.base + self.pos),
        ))
    }

    fn error_here(&self, message: &str) -> Diagnostic {
        let at = self.base + self.pos;
        let end = self.peek().map_or(at, |c| at + c.len_utf8());
        Diagnostic::error(self.file, Span::new(at, end.max(at)), message)
    }
}

/// A markdown table of [`KEYS`], for documentation and `idl-gen --help`.
pub fn keys_markdown() -> String {
    let mut out = String::from("| key | values | meaning |\n|---|---|---|\n");
    for k in KEYS {
        let values = match k.kind {
            ValueKind::Millis { min, max } => format!("{min}..={max} ms"),
            ValueKind::Count { min, max } => format!("{min}..={max}"),
            ValueKind::Number { min, max } => format!("{min}..={max}"),
            ValueKind::Bool => "true / false".to_owned(),
            ValueKind::Choice(c) => c.join(" / "),
            ValueKind::Text => "string".to_owned(),
        };
        let key = k.key.replace('*', "<tag>");
        let _ = writeln!(out, "| `{key}` | {values} | {} |", k.doc);
    }
    out
}
