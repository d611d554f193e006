#![no_main]
//! Fuzz target `server_conn`: an arbitrary byte stream into a live ThriftTest server
//! connection; see `examples/tests/support/server_fuzz.rs`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ringrpc_fuzz::server_fuzz::server_stream(data);
});
