//! The Thrift front end parses Apache's conformance IDL, the repo's IDLs and a corpus of
//! every construct, and rejects bad IDL with exact, located diagnostics.

use std::path::{Path, PathBuf};

use ringrpc_codegen::thrift::ast::*;
use ringrpc_codegen::thrift::parse;
use ringrpc_codegen::{Severity, SourceFile};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Apache's ThriftTest.thrift from `../shared/idl/` (override with `RINGRPC_THRIFTTEST_IDL`).
fn thrift_test_idl() -> PathBuf {
    std::env::var_os("RINGRPC_THRIFTTEST_IDL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/idl/ThriftTest.thrift"))
}

fn parse_path(path: &Path) -> ringrpc_codegen::thrift::Parsed {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file = SourceFile::new(path, text);
    parse(&file).unwrap_or_else(|d| panic!("{d}"))
}

fn parse_err(src: &str) -> String {
    let file = SourceFile::new("bad.thrift", src);
    parse(&file).expect_err("must fail").to_string()
}

#[test]
fn apache_thrift_test_idl() {
    let parsed = parse_path(&thrift_test_idl());
    let doc = &parsed.document;
    assert!(doc.namespaces.iter().any(|n| n.scope.name == "*"));
    let xsd = doc
        .namespaces
        .iter()
        .find(|n| n.scope.name == "xsd")
        .unwrap();
    assert_eq!(xsd.annotations[0].key.name, "uri");
    let names: Vec<&str> = doc
        .definitions
        .iter()
        .map(|d| d.name().name.as_str())
        .collect();
    for expected in [
        "Numberz",
        "UserId",
        "Bonk",
        "Xtruct",
        "Insanity",
        "CrazyNesting",
        "SomeUnion",
        "Xception",
        "ThriftTest",
        "SecondService",
        "LargeDeltas",
        "OptionalBinary",
    ] {
        assert!(names.contains(&expected), "{expected} missing");
    }
    let service = doc
        .definitions
        .iter()
        .find_map(|d| match d {
            Definition::Service(s) if s.name.name == "ThriftTest" => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(service.functions.len(), 23);
    let oneway = service
        .functions
        .iter()
        .find(|f| f.name.name == "testOneway")
        .unwrap();
    assert!(oneway.oneway && oneway.returns.is_none());
    let multi = service
        .functions
        .iter()
        .find(|f| f.name.name == "testMultiException")
        .unwrap();
    assert_eq!(multi.throws.len(), 2);
    assert!(
        multi
            .doc
            .as_ref()
            .map_or("", |d| d.text.as_str())
            .contains("Xception2")
    );
    let numberz = doc
        .definitions
        .iter()
        .find_map(|d| match d {
            Definition::Enum(e) if e.name.name == "Numberz" => Some(e),
            _ => None,
        })
        .unwrap();
    let values: Vec<Option<i64>> = numberz
        .values
        .iter()
        .map(|v| v.value.map(|(v, _)| v))
        .collect();
    assert_eq!(values, [Some(1), None, None, Some(5), None, Some(8)]);
}

#[test]
fn repo_idls() {
    for name in ["golden.thrift", "bench.thrift"] {
        let parsed = parse_path(&repo().join("idl").join(name));
        assert!(parsed.warnings.is_empty(), "{name}: {:?}", parsed.warnings);
        assert!(!parsed.document.definitions.is_empty());
    }
}

#[test]
fn corpus_of_every_construct() {
    let parsed =
        parse_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus.thrift"));
    let doc = &parsed.document;
    assert_eq!(doc.includes[0].path, "shared.thrift");
    assert_eq!(doc.namespaces.len(), 4);
    let consts: Vec<&Const> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Const(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(consts.len(), 10);
    assert_eq!(consts[0].value.kind, ConstKind::Int(0x7f));
    assert_eq!(consts[1].value.kind, ConstKind::Int(-42));
    assert_eq!(consts[2].value.kind, ConstKind::Double(1.5e-3));
    assert_eq!(
        consts[4].value.kind,
        ConstKind::Str("single \"quoted\"".into())
    );
    assert!(matches!(&consts[6].value.kind, ConstKind::List(v) if v.len() == 3));
    assert!(matches!(&consts[7].value.kind, ConstKind::Map(v) if v.len() == 2));
    assert_eq!(
        consts[8].value.kind,
        ConstKind::Ident("shared.Color.RED".into())
    );

    let ty = doc
        .definitions
        .iter()
        .find_map(|d| match d {
            Definition::Struct(s) if s.name.name == "type" => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        ty.doc.as_ref().map(|d| d.text.as_str()),
        Some("Keywords of Rust as names.")
    );
    assert_eq!(ty.fields.len(), 10);
    assert_eq!(ty.fields[0].requiredness, Requiredness::Required);
    assert_eq!(
        ty.fields[1].default.as_ref().unwrap().kind,
        ConstKind::Str("m".into())
    );
    assert_eq!(ty.fields[3].id.unwrap().0, -4);
    assert!(matches!(ty.fields[7].ty.kind, TypeKind::Named(ref n) if n.name == "Deep"));
    assert_eq!(ty.annotations[0].key.name, "rs.derive");
    // The explicit negative id is warned about.
    assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
    assert_eq!(parsed.warnings[0].severity, Severity::Warning);
    assert!(parsed.warnings[0].message.contains("non-positive id -4"));

    let svc = doc
        .definitions
        .iter()
        .find_map(|d| match d {
            Definition::Service(s) if s.name.name == "Corpus" => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(svc.extends.as_ref().unwrap().name, "Base");
    assert!(
        svc.doc
            .as_ref()
            .unwrap()
            .text
            .contains("@control_plane(timeout_ms = 200)")
    );
    assert_eq!(svc.functions.len(), 4);
    assert_eq!(
        svc.functions[0].doc.as_ref().map(|d| d.text.as_str()),
        Some("Echo it.")
    );
    assert_eq!(svc.functions[0].throws.len(), 2);
    assert!(svc.functions[1].oneway);
    assert_eq!(
        svc.functions[2].annotations[0].key.name,
        "control_plane.timeout_ms"
    );
    assert_eq!(svc.functions[2].annotations[0].value, "50");
}

#[test]
fn missing_field_ids_get_implicit_negative_ids_and_a_warning() {
    let file = SourceFile::new("w.thrift", "struct S {\n  string a,\n  i32 b\n}\n");
    let parsed = parse(&file).unwrap();
    let Definition::Struct(s) = &parsed.document.definitions[0] else {
        panic!()
    };
    assert_eq!(s.fields[0].id.unwrap().0, -1);
    assert_eq!(s.fields[1].id.unwrap().0, -2);
    assert_eq!(parsed.warnings.len(), 2);
    assert_eq!(
        parsed.warnings[0].to_string(),
        "warning: field `a` of `S` has no id; it gets the implicit id -1\n --> w.thrift:2:10\n  |\n2 |   string a,\n  |          ^\n  = help: give every field an explicit positive id"
    );
}

#[test]
fn diagnostics_are_exact() {
    assert_eq!(
        parse_err("struct Foo {\n  1: i32 a\n"),
        "error: expected `}` to close `Foo`, found end of file\n --> bad.thrift:3:1\n  |\n3 | \n  | ^"
    );
    assert_eq!(
        parse_err("struct Foo {\n  1: list<i32 a\n}"),
        "error: expected `>` to close `list<…>`, found `a`\n --> bad.thrift:2:15\n  |\n2 |   1: list<i32 a\n  |               ^"
    );
    assert_eq!(
        parse_err("service S {\n  i32 f(1: i32 x) throws 5\n}"),
        "error: expected `(` after `throws`, found number `5`\n --> bad.thrift:2:26\n  |\n2 |   i32 f(1: i32 x) throws 5\n  |                          ^"
    );
    assert!(parse_err("strukt Foo {}").starts_with(
        "error: expected a definition (`include`, `namespace`, `const`, `typedef`, `enum`, `struct`, `union`, `exception` or `service`), found `strukt`"
    ));
    assert!(
        parse_err("struct A { 1: void x }")
            .starts_with("error: `void` is only allowed as a method's return type")
    );
    assert!(
        parse_err("struct A { 40000: i32 x }")
            .starts_with("error: field id 40000 of `x` does not fit in 16 bits (max 32767)")
    );
    assert!(
        parse_err("const i32 X = ;").starts_with("error: expected a constant value, found `;`")
    );
    assert!(
        parse_err("enum E { A = \"x\" }")
            .starts_with("error: expected an integer value, found string \"x\"")
    );
    assert!(
        parse_err("include shared.thrift")
            .starts_with("error: expected the included file's path in quotes")
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep_type = format!(
        "typedef {}i32{} T",
        "list<".repeat(10_000),
        ">".repeat(10_000)
    );
    assert!(parse_err(&deep_type).starts_with("error: nesting deeper than 64 levels"));
    let deep_const = format!("const list<i32> C = {}", "[".repeat(100_000));
    assert!(parse_err(&deep_const).starts_with("error: nesting deeper than 64 levels"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

    /// Arbitrary text, and arbitrary edits of a valid IDL, give a document or a diagnostic.
    #[test]
    fn never_panics(text in "\\PC{0,200}", cut in 0usize..2000, insert in "[{}()<>\\[\\],;:=*\"'/ a-z0-9.-]{0,4}") {
        if let Err(d) = parse(&SourceFile::new("p.thrift", text)) {
            let _ = d.to_string();
        }
        let corpus = include_str!("data/corpus.thrift");
        let at = corpus.char_indices().map(|(i, _)| i).nth(cut % corpus.chars().count()).unwrap_or(0);
        let edited = format!("{}{}{}", &corpus[..at], insert, &corpus[at..]);
        if let Err(d) = parse(&SourceFile::new("p.thrift", edited)) {
            let _ = d.to_string();
        }
        let truncated = &corpus[..at];
        let _ = parse(&SourceFile::new("p.thrift", truncated));
    }
}
