#![no_main]
//! Fuzz target `detect`: see `tests/support/fuzz_checks.rs` (`detect`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ringrpc_codec_fuzz::fuzz_checks::detect(data);
});
