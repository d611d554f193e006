#![no_main]
//! Fuzz target `client_conn`: a hostile server's bytes as the replies to three calls in
//! flight on a ringrpc client; see `examples/tests/support/client_fuzz.rs`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ringrpc_fuzz::client_fuzz::client_stream(data);
});
