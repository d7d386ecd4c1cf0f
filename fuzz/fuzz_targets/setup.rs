//! Arbitrary bytes (a command line and a device tree blob, see `fuzz_input`) through the
//! whole host memory setup, from the DTB header check to the buddy allocator, with memblock's,
//! reserved-memory's and the buddy allocator's invariants checked after it. A panic or a
//! broken invariant is a crash; each one found is kept in `kernel/testdata/fuzz-regressions/`.
#![no_main]

#[path = "../../kernel/tests/fuzz_input/mod.rs"]
mod fuzz_input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = fuzz_input::run(data) {
        panic!("invariant broken: {e}");
    }
});
