#![no_main]
//! Fuzz target `frame_decode`: see `tests/support/fuzz_checks.rs` (`frames`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ringrpc_codec_fuzz::fuzz_checks::frames(data);
});
