//! Several services on one port (`ringrpc::server::Multiplexed`, Apache's multiplexed
//! protocol): `Service:method` calls reach the named service, plain names the default one,
//! and an unknown service or a plain name without a default get UNKNOWN_METHOD on a
//! connection that keeps serving.

use ringrpc::codec::{ApplicationErrorKind, BytesStr};
use ringrpc::rt::block_on;
use ringrpc::server::Multiplexed;
use ringrpc::{CallError, Channel, Client, Driver, MethodInfo, PoolMode, Server};
use ringrpc_examples::conformance::handler::{SecondServiceHandler, ThriftTestHandler};
use ringrpc_examples::thrift_test::thrift_test::thrift_test::TestVoidArgs;
use ringrpc_examples::thrift_test::thrift_test::{second_service, thrift_test};

fn is_unknown_method<T: std::fmt::Debug>(got: Result<T, CallError>) -> bool {
    matches!(got, Err(CallError::Application(e)) if e.kind == ApplicationErrorKind::UNKNOWN_METHOD)
}

#[test]
fn calls_reach_the_service_they_name_and_only_that_one() {
    // SecondService only, no default service.
    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || {
            Multiplexed::new().service(
                "SecondService",
                second_service::Server::new(SecondServiceHandler),
            )
        })
        .unwrap();
    let address = server.address().to_string();
    block_on(Driver::Auto, async move {
        let builder =
            || Client::builder(&address).pool_mode(PoolMode::PingPong { max_connections: 1 });
        let multiplexed = builder().multiplexed(true).build().unwrap();
        let plain = builder().build().unwrap();
        let second = second_service::Client::new(&multiplexed);
        assert_eq!(
            second.secondtest_string("x".into()).await.unwrap(),
            BytesStr::from("testString(\"x\")")
        );
        // ThriftTest is not registered here.
        assert!(is_unknown_method(
            thrift_test::Client::new(&multiplexed).test_i32(1).await
        ));
        // A plain name with no default service.
        assert!(is_unknown_method(
            second_service::Client::new(&plain)
                .secondtest_string("x".into())
                .await
        ));
        // A name with an empty service part.
        static ODD: MethodInfo = MethodInfo {
            service: "",
            name: "secondtestString",
            oneway: false,
            policy: &[],
        };
        let got = multiplexed.call::<_, ()>(&ODD, &TestVoidArgs {}).await;
        assert!(is_unknown_method(got));
        // The connection kept serving through all of it.
        assert_eq!(
            second.secondtest_string("y".into()).await.unwrap(),
            BytesStr::from("testString(\"y\")")
        );
        assert_eq!(multiplexed.stats().connects, 1);
    })
    .unwrap();
    server.shutdown().unwrap();
}

#[test]
fn a_default_service_takes_plain_names() {
    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || {
            Multiplexed::new()
                .default_service(thrift_test::Server::new(ThriftTestHandler::default()))
                .service(
                    "SecondService",
                    second_service::Server::new(SecondServiceHandler),
                )
        })
        .unwrap();
    let address = server.address().to_string();
    block_on(Driver::Auto, async move {
        let plain = Client::builder(&address).build().unwrap();
        assert_eq!(
            thrift_test::Client::new(&plain).test_i32(9).await.unwrap(),
            9
        );
        let multiplexed = Client::builder(&address).multiplexed(true).build().unwrap();
        // Not registered by name, although it is the default.
        assert!(is_unknown_method(
            thrift_test::Client::new(&multiplexed).test_i32(9).await
        ));
    })
    .unwrap();
    server.shutdown().unwrap();
}

#[test]
fn a_client_can_name_the_service_as_the_server_registered_it_inherited_methods_included() {
    use ringrpc_examples::echo::echo::{base, echo};
    use ringrpc_examples::echo_service::EchoHandler;

    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || {
            Multiplexed::new().service("EchoSvc", echo::Server::new(EchoHandler::default()))
        })
        .unwrap();
    let address = server.address().to_string();
    block_on(Driver::Auto, async move {
        let named = Client::builder(&address)
            .multiplexed_as("EchoSvc")
            .build()
            .unwrap();
        // `ping` is declared by `Base`, which `Echo` extends: still `EchoSvc:ping`.
        assert_eq!(base::Client::new(&named).ping().await.unwrap(), "pong");
        assert_eq!(
            echo::Client::new(&named).echo("hi".into()).await.unwrap(),
            "hi"
        );
        // Named after the IDL, the same calls miss the registered name.
        let by_idl = Client::builder(&address).multiplexed(true).build().unwrap();
        assert!(is_unknown_method(base::Client::new(&by_idl).ping().await));
        let other = Client::builder(&address)
            .multiplexed_as("Other")
            .build()
            .unwrap();
        assert!(is_unknown_method(base::Client::new(&other).ping().await));
        // The first client's names are still its own (names are cached by content).
        assert_eq!(base::Client::new(&named).ping().await.unwrap(), "pong");
    })
    .unwrap();
    server.shutdown().unwrap();
}
