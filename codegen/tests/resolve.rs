//! Resolution into the IR: Apache's conformance IDL and the corpus resolve; every semantic
//! error is reported at its place.

use std::path::{Path, PathBuf};

use ringrpc_codegen::ir::*;
use ringrpc_codegen::policy::PolicyValue;
use ringrpc_codegen::resolve;
use ringrpc_codegen::thrift::Loader;

fn thrift_test_idl() -> PathBuf {
    std::env::var_os("RINGRPC_THRIFTTEST_IDL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/idl/ThriftTest.thrift")
        })
}

fn load(path: &Path) -> Ir {
    let program = Loader::new().load(path).unwrap_or_else(|d| panic!("{d}"));
    resolve(&program).unwrap_or_else(|d| panic!("{d}")).0
}

fn find<'a>(ir: &'a Ir, name: &str) -> (DefId, &'a Def) {
    ir.defs
        .iter()
        .enumerate()
        .find(|(_, d)| d.name == name)
        .map(|(i, d)| (DefId(i), d))
        .unwrap_or_else(|| panic!("{name} not defined"))
}

/// Resolves one in-memory file and returns the rendered errors.
fn errors(src: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "ringrpc-resolve-{}-{:x}",
        std::process::id(),
        fxhash(src)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("e.thrift");
    std::fs::write(&path, src).unwrap();
    let program = Loader::new().load(&path).unwrap_or_else(|d| panic!("{d}"));
    let out = resolve(&program)
        .map(|_| ())
        .expect_err("must fail")
        .to_string();
    let _ = std::fs::remove_dir_all(&dir);
    out.replace(&dir.join("e.thrift").display().to_string(), "e.thrift")
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

#[test]
fn thrift_test_resolves() {
    let ir = load(&thrift_test_idl());
    let (numberz, _) = find(&ir, "Numberz");
    let (_, my) = find(&ir, "myNumberz");
    let DefKind::Const(c) = &my.kind else {
        panic!()
    };
    assert_eq!(c.value, Value::Enum(numberz, 1));
    let (_, e) = find(&ir, "Numberz");
    let DefKind::Enum(e) = &e.kind else { panic!() };
    let values: Vec<i64> = e.values.iter().map(|v| v.value).collect();
    assert_eq!(values, [1, 2, 3, 5, 6, 8]);
    let (_, user_id) = find(&ir, "UserId");
    assert!(matches!(user_id.kind, DefKind::Typedef(Ty::I64)));
    let (_, svc) = find(&ir, "ThriftTest");
    let DefKind::Service(svc) = &svc.kind else {
        panic!()
    };
    assert_eq!(svc.methods.len(), 23);
    let insanity = svc
        .methods
        .iter()
        .find(|m| m.name == "testInsanity")
        .unwrap();
    let Some(Ty::Map(k, _)) = &insanity.returns else {
        panic!()
    };
    assert!(matches!(**k, Ty::Typedef(_)));
    assert_eq!(ir.resolve_typedefs(k), &Ty::I64);
    let (_, second) = find(&ir, "SecondService");
    assert!(matches!(second.kind, DefKind::Service(_)));
    assert_eq!(
        ir.files.last().unwrap().rust_namespace.as_deref(),
        Some("thrift.test")
    );
}

#[test]
fn corpus_resolves_with_includes_consts_and_policies() {
    let ir = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus.thrift"));
    assert_eq!(ir.files.len(), 2);
    let (color, color_def) = find(&ir, "Color");
    assert_eq!(ir.files[color_def.file].stem, "shared");
    let (_, fav) = find(&ir, "FAV");
    let DefKind::Const(fav) = &fav.kind else {
        panic!()
    };
    assert_eq!(fav.value, Value::Enum(color, 1));
    let (_, counts) = find(&ir, "COUNTS");
    let DefKind::Const(counts) = &counts.kind else {
        panic!()
    };
    assert_eq!(
        counts.value,
        Value::Map(vec![
            (Value::String("a".into()), Value::Int(1)),
            (Value::String("b".into()), Value::Int(2))
        ])
    );
    let (_, ty) = find(&ir, "type");
    let DefKind::Struct(s) = &ty.kind else {
        panic!()
    };
    assert_eq!(s.fields[1].default, Some(Value::String("m".into())));
    assert_eq!(s.fields[9].default, Some(Value::Double(1.0)));
    assert!(matches!(s.fields[2].ty, Ty::List(ref inner) if matches!(**inner, Ty::Struct(_))));
    let (base, _) = find(&ir, "Base");
    let (_, corpus) = find(&ir, "Corpus");
    let DefKind::Service(svc) = &corpus.kind else {
        panic!()
    };
    assert_eq!(svc.extends, Some(base));
    assert_eq!(svc.policy.get("timeout_ms"), Some(&PolicyValue::Int(200)));
    let nested = svc.methods.iter().find(|m| m.name == "nested").unwrap();
    assert_eq!(nested.policy.get("timeout_ms"), Some(&PolicyValue::Int(50)));
    let echo = svc.methods.iter().find(|m| m.name == "echo").unwrap();
    assert_eq!(echo.policy.get("timeout_ms"), Some(&PolicyValue::Int(200)));
    assert_eq!(echo.throws.len(), 2);
}

#[test]
fn semantic_errors_are_located() {
    let e = errors("struct A {\n  1: Strng name\n}");
    assert_eq!(
        e,
        "error: unknown type `Strng`\n --> e.thrift:2:6\n  |\n2 |   1: Strng name\n  |      ^^^^^\n  = help: did you mean `string`?"
    );
    let e = errors("struct Bonk {}\nstruct A { 1: bonk b }");
    assert!(e.ends_with("= help: did you mean `Bonk`?"), "{e}");
    let e = errors("struct A {}\nenum A { X }");
    assert!(
        e.starts_with("error: `A` is defined twice (first at line 1, column 8)\n --> e.thrift:2:6"),
        "{e}"
    );
    let e = errors("struct A { 1: i32 a, 1: i32 b }");
    assert!(
        e.starts_with("error: fields `a` and `b` of `A` share the id 1"),
        "{e}"
    );
    let e = errors("struct A { 1: i32 a, 2: i32 a }");
    assert!(e.starts_with("error: `A` has two fields named `a`"), "{e}");
    let e = errors("const i8 X = 300");
    assert!(
        e.starts_with("error: 300 does not fit in i8\n --> e.thrift:1:14"),
        "{e}"
    );
    let e = errors("const string S = 5");
    assert!(e.starts_with("error: expected a string, found `5`"), "{e}");
    let e = errors("enum E { A }\nconst E X = E.B");
    assert!(
        e.starts_with("error: `E.B` is not a value of enum `E`"),
        "{e}"
    );
    let e = errors("struct S { 1: i32 a }\nconst S X = {\"b\": 1}");
    assert!(e.starts_with("error: `S` has no field `b`"), "{e}");
    let e = errors("const i32 A = B\nconst i32 B = A");
    assert!(e.contains("is defined in terms of itself"), "{e}");
    let e = errors("typedef A B\ntypedef B A");
    assert!(e.contains("refers to itself"), "{e}");
    let e = errors("service S {}\nstruct A { 1: S s }");
    assert!(e.starts_with("error: `S` is a service, not a type"), "{e}");
    let e = errors("struct NotExc {}\nservice S { void f() throws (1: NotExc e) }");
    assert!(
        e.starts_with("error: `e` is not an exception; `throws` lists exceptions"),
        "{e}"
    );
    let e = errors("service S { oneway i32 f() }");
    assert!(
        e.starts_with("error: oneway method `f` must return void and throw nothing"),
        "{e}"
    );
    let e = errors("struct P {}\nservice S extends P {}");
    assert!(e.starts_with("error: `P` is not a service"), "{e}");
    let e = errors("service S { void f(), void f() }");
    assert!(
        e.starts_with("error: service `S` has two methods named `f`"),
        "{e}"
    );
    let e = errors("/** @control_plane(timeout = 5) */\nservice S {}");
    assert!(
        e.starts_with("error: unknown `@control_plane` key `timeout`"),
        "{e}"
    );
    // Several errors are all reported, in source order.
    let e = errors("struct A { 1: Nope a }\nconst i8 X = 999");
    assert_eq!(e.matches("error:").count(), 2, "{e}");
}
