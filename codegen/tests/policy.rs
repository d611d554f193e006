//! `@control_plane`: both forms, merging, and every validation error at its exact place.

use ringrpc_codegen::SourceFile;
use ringrpc_codegen::policy::{Policy, PolicyValue, keys_markdown, policy_of};
use ringrpc_codegen::thrift::ast::{Definition, Service};
use ringrpc_codegen::thrift::parse;

fn service(src: &str) -> (std::sync::Arc<SourceFile>, Service) {
    let file = SourceFile::new("p.thrift", src);
    let parsed = parse(&file).unwrap_or_else(|d| panic!("{d}"));
    let svc = parsed
        .document
        .definitions
        .into_iter()
        .find_map(|d| match d {
            Definition::Service(s) => Some(s),
            _ => None,
        })
        .unwrap();
    (file, svc)
}

fn service_policy(src: &str) -> Result<Policy, String> {
    let (file, svc) = service(src);
    policy_of(&file, svc.doc.as_ref(), &svc.annotations).map_err(|errs| {
        errs.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n\n")
    })
}

const FEED: &str = r#"
/** Home feed.
 *  @control_plane(timeout_ms = 200, retry.max_attempts = 2, idempotent = true,
 *                 circuit_breaker.failure_rate = 0.6, circuit_breaker.min_requests = 20,
 *                 circuit_breaker.open_ms = 60000, load_balance = "p2c")
 */
service Feed {
  /** @control_plane(timeout_ms = 50, weight.canary = 10) */
  string get_feed(1: string req)
  string other() (control_plane.retry.max_attempts = "3", control_plane.load_balance = "round_robin")
}
"#;

#[test]
fn design_example_parses_and_methods_override_the_service() {
    let (file, svc) = service(FEED);
    let base = policy_of(&file, svc.doc.as_ref(), &svc.annotations).unwrap();
    assert_eq!(base.get("timeout_ms"), Some(&PolicyValue::Int(200)));
    assert_eq!(base.get("idempotent"), Some(&PolicyValue::Bool(true)));
    assert_eq!(
        base.get("circuit_breaker.failure_rate"),
        Some(&PolicyValue::Number(0.6))
    );
    assert_eq!(
        base.get("load_balance"),
        Some(&PolicyValue::Text("p2c".into()))
    );

    let get_feed = &svc.functions[0];
    let method = policy_of(&file, get_feed.doc.as_ref(), &get_feed.annotations).unwrap();
    let effective = method.over(&base);
    assert_eq!(effective.get("timeout_ms"), Some(&PolicyValue::Int(50)));
    assert_eq!(
        effective.get("retry.max_attempts"),
        Some(&PolicyValue::Int(2))
    );
    assert_eq!(effective.get("weight.canary"), Some(&PolicyValue::Int(10)));

    let other = &svc.functions[1];
    let method = policy_of(&file, other.doc.as_ref(), &other.annotations).unwrap();
    let effective = method.over(&base);
    assert_eq!(
        effective.get("retry.max_attempts"),
        Some(&PolicyValue::Int(3))
    );
    assert_eq!(
        effective.get("load_balance"),
        Some(&PolicyValue::Text("round_robin".into()))
    );
    assert_eq!(
        effective.to_json(),
        r#"{"circuit_breaker.failure_rate": 0.6, "circuit_breaker.min_requests": 20, "circuit_breaker.open_ms": 60000, "idempotent": true, "load_balance": "round_robin", "retry.max_attempts": 3, "timeout_ms": 200}"#
    );
}

#[test]
fn unknown_keys_fail_with_a_suggestion_at_the_key() {
    let err =
        service_policy("/** @control_plane(timeout_msec = 200) */\nservice S {}").unwrap_err();
    assert_eq!(
        err,
        "error: unknown `@control_plane` key `timeout_msec`\n --> p.thrift:1:20\n  |\n1 | /** @control_plane(timeout_msec = 200) */\n  |                    ^^^^^^^^^^^^\n  = help: did you mean `timeout_ms`?"
    );
    let err = service_policy("service S {} (control_plane.retry.max_attempt = \"2\")").unwrap_err();
    assert!(
        err.starts_with(
            "error: unknown `@control_plane` key `retry.max_attempt`\n --> p.thrift:1:29"
        ),
        "{err}"
    );
    assert!(
        err.ends_with("= help: did you mean `retry.max_attempts`?"),
        "{err}"
    );
    let err = service_policy("/** @control_plane(colour = 1) */ service S {}").unwrap_err();
    assert!(err.contains("= help: known keys: timeout_ms, "), "{err}");
}

#[test]
fn wrong_types_and_ranges_point_at_the_value() {
    let err =
        service_policy("/** @control_plane(timeout_ms = \"soon\") */ service S {}").unwrap_err();
    assert!(err.starts_with("error: `timeout_ms` takes milliseconds (a whole number), found `soon`\n --> p.thrift:1:33"), "{err}");
    let err =
        service_policy("/** @control_plane(circuit_breaker.failure_rate = 1.5) */ service S {}")
            .unwrap_err();
    assert!(
        err.starts_with("error: `circuit_breaker.failure_rate` must be between 0 and 1, found 1.5"),
        "{err}"
    );
    let err =
        service_policy("/** @control_plane(retry.max_attempts = 0) */ service S {}").unwrap_err();
    assert!(
        err.starts_with("error: `retry.max_attempts` must be between 1 and 10, found 0"),
        "{err}"
    );
    let err = service_policy("/** @control_plane(idempotent = yes) */ service S {}").unwrap_err();
    assert!(
        err.starts_with("error: `idempotent` takes `true` or `false`, found `yes`"),
        "{err}"
    );
    let err =
        service_policy("/** @control_plane(load_balance = \"p2\") */ service S {}").unwrap_err();
    assert!(
        err.contains("takes one of round_robin, weighted_round_robin, p2c, consistent_hash"),
        "{err}"
    );
    assert!(err.ends_with("= help: did you mean `p2c`?"), "{err}");
    let err =
        service_policy("/** @control_plane(weight.canary = 101) */ service S {}").unwrap_err();
    assert!(
        err.starts_with("error: `weight.canary` must be between 0 and 100, found 101"),
        "{err}"
    );
}

#[test]
fn cross_key_rules_and_duplicates() {
    let err = service_policy("/** @control_plane(load_balance = consistent_hash) */ service S {}")
        .unwrap_err();
    assert!(err.contains("needs a key to hash"), "{err}");
    service_policy("/** @control_plane(load_balance = consistent_hash, load_balance.hash_key = \"uid\") */ service S {}")
        .unwrap();
    let err = service_policy("/** @control_plane(retry.backoff_base_ms = 100, retry.backoff_max_ms = 10) */ service S {}")
        .unwrap_err();
    assert!(
        err.contains("`retry.backoff_max_ms` (10) is below `retry.backoff_base_ms` (100)"),
        "{err}"
    );
    let err = service_policy(
        "/** @control_plane(timeout_ms = 1) */ service S {} (control_plane.timeout_ms = \"2\")",
    )
    .unwrap_err();
    assert!(
        err.starts_with("error: `timeout_ms` is set twice (first at line 1, column 20)"),
        "{err}"
    );
}

#[test]
fn malformed_annotations_are_reported() {
    let err = service_policy("/** @control_plane timeout_ms = 1 */ service S {}").unwrap_err();
    assert!(
        err.starts_with("error: expected `(` after `@control_plane`\n --> p.thrift:1:20"),
        "{err}"
    );
    let err = service_policy("/** @control_plane(timeout_ms 1) */ service S {}").unwrap_err();
    assert!(
        err.starts_with("error: expected `=` after `timeout_ms`"),
        "{err}"
    );
    let err =
        service_policy("/** @control_plane(timeout_ms = 1 idempotent = true) */ service S {}")
            .unwrap_err();
    assert!(err.starts_with("error: expected `,` or `)`"), "{err}");
    let err = service_policy("/** @control_plane(hash = \"x) */ service S {}").unwrap_err();
    assert!(
        err.starts_with("error: unterminated string in `@control_plane`"),
        "{err}"
    );
}

#[test]
fn the_key_table_documents_every_key() {
    let table = keys_markdown();
    for key in [
        "timeout_ms",
        "retry.budget_percent",
        "weight.<tag>",
        "fault.abort_percent",
    ] {
        assert!(table.contains(&format!("`{key}`")), "{key}");
    }
}
