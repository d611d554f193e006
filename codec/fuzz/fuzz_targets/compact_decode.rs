#![no_main]
//! Fuzz target `compact_decode`: see `tests/support/fuzz_checks.rs` (`compact`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ringrpc_codec_fuzz::fuzz_checks::compact(data);
});
