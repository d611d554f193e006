//! Rust names for IDL names: `snake_case` fields and methods, `UpperCamelCase` types,
//! `SCREAMING_SNAKE_CASE` constants, and keyword escaping (`r#type`; `self_` where a raw
//! identifier is not allowed). The IDL name itself stays on the wire.

/// Rust's strict and reserved keywords (2024 edition).
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super", "_"];

/// Splits an IDL name into lowercase words: `getHTTPResponse2` → `get http response2`,
/// `RPC_TIMEOUT` → `rpc timeout`.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '.' || c == '-' {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && !cur.is_empty()
            && (prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(char::is_uppercase) && next.is_some_and(char::is_lowercase)));
        if boundary {
            words.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Escapes `ident` if it is a keyword.
pub fn escape(ident: String) -> String {
    if NOT_RAW.contains(&ident.as_str()) {
        format!("{ident}_")
    } else if KEYWORDS.contains(&ident.as_str()) {
        format!("r#{ident}")
    } else if ident.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{ident}")
    } else {
        ident
    }
}

/// `snake_case` (fields, methods, modules).
pub fn snake(name: &str) -> String {
    escape(words(name).join("_"))
}

/// `UpperCamelCase` (types, enum variants).
pub fn camel(name: &str) -> String {
    let out: String = words(name)
        .iter()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    escape(if out.is_empty() {
        "Unnamed".to_owned()
    } else {
        out
    })
}

/// `SCREAMING_SNAKE_CASE` (constants, enum values).
pub fn screaming(name: &str) -> String {
    escape(words(name).join("_").to_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idiomatic_names() {
        assert_eq!(snake("testI32"), "test_i32");
        assert_eq!(snake("getHTTPResponse"), "get_http_response");
        assert_eq!(snake("string_thing"), "string_thing");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("fn"), "r#fn");
        assert_eq!(camel("xtruct"), "Xtruct");
        assert_eq!(camel("Xtruct2"), "Xtruct2");
        assert_eq!(camel("type"), "Type");
        assert_eq!(camel("get_feed_request"), "GetFeedRequest");
        assert_eq!(camel("HTTPServer"), "HttpServer");
        assert_eq!(camel("Self"), "Self_");
        assert_eq!(screaming("myNumberz"), "MY_NUMBERZ");
        assert_eq!(screaming("ONE"), "ONE");
        assert_eq!(screaming("RPC_TIMEOUT"), "RPC_TIMEOUT");
        assert_eq!(snake("2fast"), "_2fast");
    }
}
