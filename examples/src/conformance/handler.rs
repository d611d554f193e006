//! [`ThriftTestHandler`]: Apache Thrift's standard `ThriftTest` semantics (echoes, the fixed
//! `testMapMap`/`testInsanity`/`testMulti` answers, the exception branches and the sleeping
//! oneway), as every language's TestServer implements them, plus a metainfo echo in
//! `testString`.

use std::time::Duration;

use ringrpc::CallError;
use ringrpc::codec::{ApplicationErrorKind, ApplicationException, Blob, BytesStr, Uuid};
use ringrpc::metainfo;

use crate::thrift_test::thrift_test::second_service::SecondService;
use crate::thrift_test::thrift_test::thrift_test::{
    TestExceptionError, TestMultiExceptionError, ThriftTest,
};
use crate::thrift_test::thrift_test::{
    Insanity, Numberz, UserId, Xception, Xception2, Xtruct, Xtruct2,
};

type Map<K, V> = ringrpc::codec::HashMap<K, V>;
type Set<T> = ringrpc::codec::HashSet<T>;

/// The standard ThriftTest handler. `testOneway` sleeps at most `max_oneway_sleep`.
#[derive(Debug, Clone)]
pub struct ThriftTestHandler {
    /// Bounds `testOneway`'s sleep, so a hostile `secondsToSleep` cannot park a task for days.
    pub max_oneway_sleep: Duration,
}

impl Default for ThriftTestHandler {
    fn default() -> Self {
        ThriftTestHandler {
            max_oneway_sleep: Duration::from_secs(10),
        }
    }
}

/// `testMapMap`'s fixed answer: `{-4: {-4: -4, …, -1: -1}, 4: {1: 1, …, 4: 4}}`.
pub fn map_map_answer() -> Map<i32, Map<i32, i32>> {
    let mut answer = Map::default();
    answer.insert(-4, (-4..=-1).map(|i| (i, i)).collect());
    answer.insert(4, (1..=4).map(|i| (i, i)).collect());
    answer
}

/// `testInsanity`'s fixed answer for `argument`: `{1: {TWO: argument, THREE: argument},
/// 2: {SIX: <empty Insanity>}}`.
pub fn insanity_answer(argument: &Insanity) -> Map<UserId, Map<Numberz, Insanity>> {
    let mut first = Map::default();
    first.insert(Numberz::TWO, argument.clone());
    first.insert(Numberz::THREE, argument.clone());
    let mut second = Map::default();
    second.insert(Numberz::SIX, Insanity::default());
    let mut answer = Map::default();
    answer.insert(1, first);
    answer.insert(2, second);
    answer
}

impl ThriftTest for ThriftTestHandler {
    async fn test_void(&self) -> Result<(), CallError> {
        Ok(())
    }

    /// Also sends every persistent and transient metainfo value it received back to the
    /// caller as a backward value of the same key (ringrpc's TTHeader round-trip check).
    async fn test_string(&self, thing: BytesStr) -> Result<BytesStr, CallError> {
        metainfo::with(|m| {
            let received: Vec<(String, BytesStr)> = m
                .persistents()
                .chain(m.upstream_transients())
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect();
            for (key, value) in received {
                m.send_backward(key, value);
            }
        });
        Ok(thing)
    }

    async fn test_bool(&self, thing: bool) -> Result<bool, CallError> {
        Ok(thing)
    }

    async fn test_byte(&self, thing: i8) -> Result<i8, CallError> {
        Ok(thing)
    }

    async fn test_i32(&self, thing: i32) -> Result<i32, CallError> {
        Ok(thing)
    }

    async fn test_i64(&self, thing: i64) -> Result<i64, CallError> {
        Ok(thing)
    }

    async fn test_double(&self, thing: f64) -> Result<f64, CallError> {
        Ok(thing)
    }

    async fn test_binary(&self, thing: Blob) -> Result<Blob, CallError> {
        Ok(thing)
    }

    async fn test_uuid(&self, thing: Uuid) -> Result<Uuid, CallError> {
        Ok(thing)
    }

    async fn test_struct(&self, thing: Xtruct) -> Result<Xtruct, CallError> {
        Ok(thing)
    }

    async fn test_nest(&self, thing: Xtruct2) -> Result<Xtruct2, CallError> {
        Ok(thing)
    }

    async fn test_map(&self, thing: Map<i32, i32>) -> Result<Map<i32, i32>, CallError> {
        Ok(thing)
    }

    async fn test_string_map(
        &self,
        thing: Map<BytesStr, BytesStr>,
    ) -> Result<Map<BytesStr, BytesStr>, CallError> {
        Ok(thing)
    }

    async fn test_set(&self, thing: Set<i32>) -> Result<Set<i32>, CallError> {
        Ok(thing)
    }

    async fn test_list(&self, thing: Vec<i32>) -> Result<Vec<i32>, CallError> {
        Ok(thing)
    }

    async fn test_enum(&self, thing: Numberz) -> Result<Numberz, CallError> {
        Ok(thing)
    }

    async fn test_typedef(&self, thing: UserId) -> Result<UserId, CallError> {
        Ok(thing)
    }

    async fn test_map_map(&self, _hello: i32) -> Result<Map<i32, Map<i32, i32>>, CallError> {
        Ok(map_map_answer())
    }

    async fn test_insanity(
        &self,
        argument: Insanity,
    ) -> Result<Map<UserId, Map<Numberz, Insanity>>, CallError> {
        Ok(insanity_answer(&argument))
    }

    async fn test_multi(
        &self,
        arg0: i8,
        arg1: i32,
        arg2: i64,
        _arg3: Map<i16, BytesStr>,
        _arg4: Numberz,
        _arg5: UserId,
    ) -> Result<Xtruct, CallError> {
        Ok(Xtruct {
            string_thing: "Hello2".into(),
            byte_thing: arg0,
            i32_thing: arg1,
            i64_thing: arg2,
        })
    }

    async fn test_exception(&self, arg: BytesStr) -> Result<(), TestExceptionError> {
        match arg.as_str() {
            "Xception" => Err(TestExceptionError::Err1(Xception {
                error_code: 1001,
                message: arg,
            })),
            "TException" => Err(TestExceptionError::Call(CallError::Application(
                ApplicationException::new(
                    ApplicationErrorKind::INTERNAL_ERROR,
                    "testException(\"TException\") raises an undeclared exception",
                ),
            ))),
            _ => Ok(()),
        }
    }

    async fn test_multi_exception(
        &self,
        arg0: BytesStr,
        arg1: BytesStr,
    ) -> Result<Xtruct, TestMultiExceptionError> {
        match arg0.as_str() {
            "Xception" => Err(TestMultiExceptionError::Err1(Xception {
                error_code: 1001,
                message: "This is an Xception".into(),
            })),
            "Xception2" => Err(TestMultiExceptionError::Err2(Xception2 {
                error_code: 2002,
                struct_thing: Xtruct {
                    string_thing: "This is an Xception2".into(),
                    ..Xtruct::default()
                },
            })),
            _ => Ok(Xtruct {
                string_thing: arg1,
                ..Xtruct::default()
            }),
        }
    }

    async fn test_oneway(&self, seconds_to_sleep: i32) -> Result<(), CallError> {
        let asked = Duration::from_secs(u64::try_from(seconds_to_sleep).unwrap_or(0));
        ringrpc::rt::sleep(asked.min(self.max_oneway_sleep)).await;
        Ok(())
    }
}

/// ThriftTest's second service, for multiplexed servers: `secondtestString("x")` returns
/// `testString("x")`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecondServiceHandler;

impl SecondService for SecondServiceHandler {
    async fn secondtest_string(&self, thing: BytesStr) -> Result<BytesStr, CallError> {
        Ok(format!("testString(\"{thing}\")").into())
    }
}
