#![no_main]
//! Fuzz target `headers`: see `tests/support/fuzz_checks.rs` (`headers`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ringrpc_codec_fuzz::fuzz_checks::headers(data);
});
