#![no_main]
//! Fuzz target `binary_decode`: see `tests/support/fuzz_checks.rs` (`binary`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ringrpc_codec_fuzz::fuzz_checks::binary(data);
});
