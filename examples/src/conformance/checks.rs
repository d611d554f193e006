//! The ThriftTest client checks: every method of `service ThriftTest` called with ordinary
//! and edge values (empty containers, integer extremes, NaN/±inf/−0.0, multilingual strings,
//! all 256 byte values), the exception branches, oneway, an unknown method, and sequence-id
//! pedantry over a raw connection. Each check has a stable name (`testI32.min`) so a runner
//! can skip the ones a peer is known not to support.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use ringrpc::codec::frame::Framing;
use ringrpc::codec::{ApplicationErrorKind, Blob, BytesStr, Uuid};
use ringrpc::metainfo::{self, MetaInfo};
use ringrpc::{CallError, Channel, MethodInfo};

use super::raw::RawTarget;
use crate::conformance::handler::{insanity_answer, map_map_answer};
use crate::thrift_test::thrift_test::second_service;
use crate::thrift_test::thrift_test::thrift_test::{
    Client, TestExceptionError, TestMultiExceptionError, TestVoidArgs,
};
use crate::thrift_test::thrift_test::{Insanity, Numberz, Xception, Xception2, Xtruct, Xtruct2};

type Map<K, V> = ringrpc::codec::HashMap<K, V>;
type Set<T> = ringrpc::codec::HashSet<T>;

/// Counts and prints check outcomes, one line each.
#[derive(Debug)]
pub struct Report<W> {
    out: W,
    skip: BTreeSet<String>,
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed.
    pub failed: usize,
    /// Checks skipped on request.
    pub skipped: usize,
    /// The Apache cross runner's exit-code bits of the groups that had a failure.
    pub failed_groups: u8,
}

/// Apache's cross-runner client exit code bits (`test/README.md`): which group of checks
/// failed. 0 means every check passed.
pub mod exit_bits {
    /// Base types: strings, numbers, binary, uuid, enums, typedefs, void.
    pub const BASE_TYPES: u8 = 1;
    /// Structs: struct, nest, insanity, multi.
    pub const STRUCTS: u8 = 2;
    /// Containers: maps, sets, lists.
    pub const CONTAINERS: u8 = 4;
    /// Exceptions.
    pub const EXCEPTIONS: u8 = 8;
    /// Anything else (sequence ids, oneway, unknown methods, metainfo) and setup errors.
    pub const UNKNOWN: u8 = 64;
}

/// The exit-code group of the check `name`.
pub fn group_of(name: &str) -> u8 {
    let method = name.split('.').next().unwrap_or(name);
    match method {
        "testStruct" | "testNest" | "testInsanity" | "testMulti" => exit_bits::STRUCTS,
        "testMap" | "testStringMap" | "testSet" | "testList" | "testMapMap" => {
            exit_bits::CONTAINERS
        }
        "testException" | "testMultiException" => exit_bits::EXCEPTIONS,
        m if m.starts_with("test") && m != "testOneway" => exit_bits::BASE_TYPES,
        _ => exit_bits::UNKNOWN,
    }
}

impl<W: Write> Report<W> {
    /// A report printing to `out`, skipping the checks named in `skip`.
    pub fn new(out: W, skip: impl IntoIterator<Item = String>) -> Self {
        Report {
            out,
            skip: skip.into_iter().collect(),
            passed: 0,
            failed: 0,
            skipped: 0,
            failed_groups: 0,
        }
    }

    /// Runs the check `name` (unless it is to be skipped) and prints its outcome.
    pub async fn check(&mut self, name: &str, check: impl Future<Output = Result<(), String>>) {
        let line = if self.skip.contains(name) {
            self.skipped += 1;
            format!("skip {name}: skipped on request")
        } else {
            match check.await {
                Ok(()) => {
                    self.passed += 1;
                    format!("ok   {name}")
                }
                Err(why) => {
                    self.failed += 1;
                    self.failed_groups |= group_of(name);
                    format!("FAIL {name}: {why}")
                }
            }
        };
        // A closed stdout must not stop the checks.
        let _ = writeln!(self.out, "{line}");
    }

    /// The closing line: `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// `value`'s `Debug` form, cut to a readable length (values under test reach 1 MiB).
pub fn brief(value: &impl Debug) -> String {
    const MAX: usize = 160;
    let text = format!("{value:?}");
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}… ({} characters)", &text[..cut], text.chars().count()),
        None => text,
    }
}

/// `Ok` when `got` is `want`.
fn expect<T: PartialEq + Debug, E: std::fmt::Display>(
    got: Result<T, E>,
    want: &T,
) -> Result<(), String> {
    match got {
        Ok(got) if &got == want => Ok(()),
        Ok(got) => Err(format!("sent {}, got {} back", brief(want), brief(&got))),
        Err(e) => Err(format!("sent {}, the call failed: {e}", brief(want))),
    }
}

/// `Ok` when `got` is the same double as `want`, bit for bit (any NaN for a NaN).
fn expect_double(got: Result<f64, CallError>, want: f64) -> Result<(), String> {
    match got {
        Ok(got) if want.is_nan() && got.is_nan() => Ok(()),
        Ok(got) if got.to_bits() == want.to_bits() => Ok(()),
        Ok(got) => Err(format!(
            "sent {want:e} ({:#018x}), got {got:e} ({:#018x}) back",
            want.to_bits(),
            got.to_bits()
        )),
        Err(e) => Err(format!("sent {want:e}, the call failed: {e}")),
    }
}

/// `Ok` when the call failed with a `TApplicationException` of `kind`.
fn expect_application_error<T: Debug>(
    got: Result<T, CallError>,
    kind: ApplicationErrorKind,
) -> Result<(), String> {
    match got {
        Err(CallError::Application(e)) if e.kind == kind => Ok(()),
        other => Err(format!(
            "expected a TApplicationException {}, got {}",
            kind.name(),
            brief(&other)
        )),
    }
}

/// Strings every implementation must carry unchanged.
pub fn test_strings() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("python", "Python".repeat(20)),
        (
            "multilingual",
            "Ünïcödé ☃ 日本語 العربية Ελληνικά Русский 한국어 🦀 \u{0} \"\\\n\t".to_owned(),
        ),
        ("64k", "ringrpc ".repeat(8 * 1024)),
    ]
}

/// A struct with every field at an extreme.
fn extreme_xtruct() -> Xtruct {
    Xtruct {
        string_thing: BytesStr::default(),
        byte_thing: i8::MIN,
        i32_thing: i32::MIN,
        i64_thing: i64::MAX,
    }
}

/// Runs the raw-connection checks against `raw` (first: some peer servers serve one
/// connection at a time), then every check of the ThriftTest service through `client`.
pub async fn run_all<C: Channel, W: Write>(
    client: &Client<C>,
    raw: &RawTarget,
    report: &mut Report<W>,
) {
    super::raw::run_checks(raw, report).await;
    if raw.dialect.framing == Framing::TTHeader {
        report
            .check("metainfo.roundtrip", metainfo_round_trip(client))
            .await;
    }
    report
        .check("testVoid", async { expect(client.test_void().await, &()) })
        .await;
    for (name, s) in test_strings() {
        let s = BytesStr::from(s);
        report
            .check(&format!("testString.{name}"), async {
                expect(client.test_string(s.clone()).await, &s)
            })
            .await;
    }
    for b in [true, false] {
        report
            .check(&format!("testBool.{b}"), async {
                expect(client.test_bool(b).await, &b)
            })
            .await;
    }
    for (name, v) in [
        ("zero", 0),
        ("one", 1),
        ("minus_one", -1),
        ("max", i8::MAX),
        ("min", i8::MIN),
    ] {
        report
            .check(&format!("testByte.{name}"), async {
                expect(client.test_byte(v).await, &v)
            })
            .await;
    }
    for (name, v) in [
        ("zero", 0),
        ("one", 1),
        ("minus_one", -1),
        ("max", i32::MAX),
        ("min", i32::MIN),
    ] {
        report
            .check(&format!("testI32.{name}"), async {
                expect(client.test_i32(v).await, &v)
            })
            .await;
    }
    for (name, v) in [
        ("zero", 0),
        ("minus_one", -1),
        ("max", i64::MAX),
        ("min", i64::MIN),
        ("apache", -34_359_738_368),
    ] {
        report
            .check(&format!("testI64.{name}"), async {
                expect(client.test_i64(v).await, &v)
            })
            .await;
    }
    for (name, v) in [
        ("zero", 0.0),
        ("negative_zero", -0.0),
        ("apache", -5.235_098_235),
        ("tiny", 1e-308),
        ("subnormal", 5e-324),
        ("max", f64::MAX),
        ("inf", f64::INFINITY),
        ("negative_inf", f64::NEG_INFINITY),
        ("nan", f64::NAN),
    ] {
        report
            .check(&format!("testDouble.{name}"), async {
                expect_double(client.test_double(v).await, v)
            })
            .await;
    }
    let all_bytes: Vec<u8> = (0..=255).collect();
    let mebibyte: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 + i / 256) as u8).collect();
    for (name, v) in [
        ("empty", Vec::new()),
        ("all_bytes", all_bytes),
        ("1mib", mebibyte),
    ] {
        let v = Blob::from(v);
        report
            .check(&format!("testBinary.{name}"), async {
                expect(client.test_binary(v.clone()).await, &v)
            })
            .await;
    }
    for (name, v) in [
        (
            "apache",
            Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff),
        ),
        ("nil", Uuid::nil()),
        ("ff", Uuid::from_bytes([0xff; 16])),
    ] {
        report
            .check(&format!("testUuid.{name}"), async {
                expect(client.test_uuid(v).await, &v)
            })
            .await;
    }
    let zero = Xtruct {
        string_thing: "Zero".into(),
        byte_thing: 1,
        i32_thing: -3,
        i64_thing: -5,
    };
    for (name, v) in [("apache", zero.clone()), ("extremes", extreme_xtruct())] {
        report
            .check(&format!("testStruct.{name}"), async {
                expect(client.test_struct(v.clone()).await, &v)
            })
            .await;
    }
    let nest = Xtruct2 {
        byte_thing: 1,
        struct_thing: zero.clone(),
        i32_thing: 5,
    };
    report
        .check("testNest", async {
            expect(client.test_nest(nest.clone()).await, &nest)
        })
        .await;
    containers(client, report).await;
    for v in [
        Numberz::ONE,
        Numberz::TWO,
        Numberz::THREE,
        Numberz::FIVE,
        Numberz::SIX,
        Numberz::EIGHT,
    ] {
        report
            .check(&format!("testEnum.{v:?}"), async {
                expect(client.test_enum(v).await, &v)
            })
            .await;
    }
    for (name, v) in [("apache", 0x00ff_ffff_ffff_ffff), ("min", i64::MIN)] {
        report
            .check(&format!("testTypedef.{name}"), async {
                expect(client.test_typedef(v).await, &v)
            })
            .await;
    }
    report
        .check("testMapMap", async {
            expect(client.test_map_map(42).await, &map_map_answer())
        })
        .await;
    let insanity = Insanity {
        user_map: [(Numberz::FIVE, 5), (Numberz::EIGHT, 8)]
            .into_iter()
            .collect(),
        xtructs: vec![
            Xtruct {
                string_thing: "Goodbye4".into(),
                byte_thing: 4,
                i32_thing: 4,
                i64_thing: 4,
            },
            Xtruct {
                string_thing: "Hello2".into(),
                byte_thing: 2,
                i32_thing: 2,
                i64_thing: 2,
            },
        ],
    };
    report
        .check("testInsanity", async {
            expect(
                client.test_insanity(insanity.clone()).await,
                &insanity_answer(&insanity),
            )
        })
        .await;
    report
        .check("testMulti", async {
            let arg3 = [(0i16, BytesStr::from("abc"))].into_iter().collect();
            let got = client
                .test_multi(
                    74,
                    0xff00ff,
                    0xffff_ffff_d0d0,
                    arg3,
                    Numberz::FIVE,
                    0xf0f0f0,
                )
                .await;
            let want = Xtruct {
                string_thing: "Hello2".into(),
                byte_thing: 74,
                i32_thing: 0xff00ff,
                i64_thing: 0xffff_ffff_d0d0,
            };
            expect(got, &want)
        })
        .await;
    exceptions(client, report).await;
    report
        .check("testOneway", async {
            let started = Instant::now();
            client
                .test_oneway(1)
                .await
                .map_err(|e| format!("the oneway call failed: {e}"))?;
            let took = started.elapsed();
            if took > Duration::from_millis(900) {
                return Err(format!("a oneway call waited {} ms", took.as_millis()));
            }
            expect(client.test_void().await, &())
                .map_err(|e| format!("testVoid after testOneway: {e}"))
        })
        .await;
    if raw.multiplexed {
        report
            .check("SecondService.secondtestString", async {
                let second = second_service::Client::new(client.channel());
                expect(
                    second.secondtest_string("foobar".into()).await,
                    &BytesStr::from("testString(\"foobar\")"),
                )
            })
            .await;
    }
    report
        .check("unknownMethod", async {
            static NO_SUCH_METHOD: MethodInfo = MethodInfo {
                service: "ThriftTest",
                name: "noSuchMethod",
                oneway: false,
                policy: &[],
            };
            let got = client
                .channel()
                .call::<_, ()>(&NO_SUCH_METHOD, &TestVoidArgs {})
                .await;
            expect_application_error(got, ApplicationErrorKind::UNKNOWN_METHOD)?;
            expect(client.test_i32(7).await, &7)
                .map_err(|e| format!("the call after the unknown method: {e}"))
        })
        .await;
}

/// Over TTHeader, persistent and transient values reach a ringrpc ThriftTest server, which
/// sends them back as backward values.
async fn metainfo_round_trip<C: Channel>(client: &Client<C>) -> Result<(), String> {
    let mut info = MetaInfo::new();
    info.set_persistent("trace-id", "4bf92f3577b34da6");
    info.set_transient("tenant", "日本語 🦀");
    metainfo::scope(info, async {
        expect(
            client.test_string("with metainfo".into()).await,
            &"with metainfo".into(),
        )?;
        let back = |key| metainfo::with(|m| m.received_backward(key).cloned()).flatten();
        match (back("trace-id"), back("tenant")) {
            (Some(trace), Some(tenant)) if trace == "4bf92f3577b34da6" && tenant == "日本語 🦀" => {
                Ok(())
            }
            other => Err(format!(
                "sent trace-id and tenant, got these backward values: {other:?}"
            )),
        }
    })
    .await
}

async fn containers<C: Channel, W: Write>(client: &Client<C>, report: &mut Report<W>) {
    let maps: [(&str, Map<i32, i32>); 3] = [
        ("empty", Map::default()),
        (
            "apache",
            [(0, 1), (1, 2), (2, 3), (3, 4), (-1, -2)]
                .into_iter()
                .collect(),
        ),
        (
            "extremes",
            [(i32::MIN, i32::MAX), (i32::MAX, i32::MIN)]
                .into_iter()
                .collect(),
        ),
    ];
    for (name, v) in maps {
        report
            .check(&format!("testMap.{name}"), async {
                expect(client.test_map(v.clone()).await, &v)
            })
            .await;
    }
    let string_maps: [(&str, Map<BytesStr, BytesStr>); 2] = [
        ("empty", Map::default()),
        (
            "multilingual",
            [
                ("a", "2"),
                ("b", "blah"),
                ("日本語", "ελληνικά"),
                ("", "🦀"),
                ("empty", ""),
            ]
            .into_iter()
            .map(|(k, v)| (BytesStr::from(k), BytesStr::from(v)))
            .collect(),
        ),
    ];
    for (name, v) in string_maps {
        report
            .check(&format!("testStringMap.{name}"), async {
                expect(client.test_string_map(v.clone()).await, &v)
            })
            .await;
    }
    let sets: [(&str, Set<i32>); 2] = [
        ("empty", Set::default()),
        ("apache", [8, 1, 42, i32::MIN].into_iter().collect()),
    ];
    for (name, v) in sets {
        report
            .check(&format!("testSet.{name}"), async {
                expect(client.test_set(v.clone()).await, &v)
            })
            .await;
    }
    let lists: [(&str, Vec<i32>); 2] = [
        ("empty", Vec::new()),
        ("apache", vec![1, 4, 9, -42, i32::MAX, i32::MIN]),
    ];
    for (name, v) in lists {
        report
            .check(&format!("testList.{name}"), async {
                expect(client.test_list(v.clone()).await, &v)
            })
            .await;
    }
}

async fn exceptions<C: Channel, W: Write>(client: &Client<C>, report: &mut Report<W>) {
    report
        .check("testException.Xception", async {
            match client.test_exception("Xception".into()).await {
                Err(TestExceptionError::Err1(Xception {
                    error_code: 1001,
                    message,
                })) if message == "Xception" => Ok(()),
                other => Err(format!(
                    "expected Xception(1001, \"Xception\"), got {other:?}"
                )),
            }
        })
        .await;
    report
        .check("testException.TException", async {
            match client.test_exception("TException".into()).await {
                Err(TestExceptionError::Call(CallError::Application(_))) => {}
                other => return Err(format!("expected a TApplicationException, got {other:?}")),
            }
            expect(client.test_void().await, &())
                .map_err(|e| format!("the call after the exception: {e}"))
        })
        .await;
    report
        .check("testException.success", async {
            client
                .test_exception("success".into())
                .await
                .map_err(|e| format!("expected no exception, got {e:?}"))
        })
        .await;
    report
        .check("testMultiException.Xception", async {
            match client
                .test_multi_exception("Xception".into(), "test 1".into())
                .await
            {
                Err(TestMultiExceptionError::Err1(Xception {
                    error_code: 1001,
                    message,
                })) if message == "This is an Xception" => Ok(()),
                other => Err(format!("expected Xception(1001), got {other:?}")),
            }
        })
        .await;
    report
        .check("testMultiException.Xception2", async {
            match client
                .test_multi_exception("Xception2".into(), "test 2".into())
                .await
            {
                Err(TestMultiExceptionError::Err2(Xception2 {
                    error_code: 2002,
                    struct_thing,
                })) if struct_thing.string_thing == "This is an Xception2" => Ok(()),
                other => Err(format!("expected Xception2(2002), got {other:?}")),
            }
        })
        .await;
    report
        .check("testMultiException.success", async {
            let want = Xtruct {
                string_thing: "test 3".into(),
                ..Xtruct::default()
            };
            match client
                .test_multi_exception("success".into(), "test 3".into())
                .await
            {
                Ok(got) if got == want => Ok(()),
                other => Err(format!("expected {want:?}, got {other:?}")),
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_fall_into_apache_exit_code_groups() {
        assert_eq!(group_of("testString.empty"), exit_bits::BASE_TYPES);
        assert_eq!(group_of("testVoid"), exit_bits::BASE_TYPES);
        assert_eq!(group_of("testInsanity"), exit_bits::STRUCTS);
        assert_eq!(group_of("testMapMap"), exit_bits::CONTAINERS);
        assert_eq!(
            group_of("testMultiException.Xception2"),
            exit_bits::EXCEPTIONS
        );
        assert_eq!(group_of("testOneway"), exit_bits::UNKNOWN);
        assert_eq!(group_of("seqid.wrap"), exit_bits::UNKNOWN);
    }

    #[test]
    fn a_report_counts_prints_and_skips() {
        let mut out = Vec::new();
        let mut report = Report::new(&mut out, ["testI32.skipped".to_owned()]);
        let run = async {
            report.check("testI32.ok", async { Ok(()) }).await;
            report
                .check("testList.bad", async { Err("wrong".into()) })
                .await;
            report
                .check("testI32.skipped", async {
                    panic!("a skipped check does not run")
                })
                .await;
        };
        ringrpc::rt::block_on(ringrpc::Driver::Epoll, run).unwrap();
        assert_eq!((report.passed, report.failed, report.skipped), (1, 1, 1));
        assert_eq!(report.failed_groups, exit_bits::CONTAINERS);
        assert_eq!(report.summary(), "1 passed, 1 failed");
        drop(report);
        let printed = String::from_utf8(out).unwrap();
        assert_eq!(
            printed,
            "ok   testI32.ok\nFAIL testList.bad: wrong\nskip testI32.skipped: skipped on request\n"
        );
    }
}
