//! Architecture glue. Only AArch64 exists; everything that needs assembly, system registers
//! or a fixed machine fact lives below here, and so does the one piece of raw-pointer code
//! that is not tied to a machine: the global allocator's mechanism (`global_alloc`).
//!
//! With `drivers`, this is the only layer allowed `unsafe`; each block sits under a
//! `// SAFETY:` line, and each `unsafe fn` has a `# Safety` section (`cargo clippy` checks both).
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

/// Linux's `__init` and `__initdata`: put a function in `.init.text` or a static in
/// `.init.data`, which `free_initmem` unmaps and hands to the page allocator at the end of
/// boot. Only for what nothing reaches after boot: calling such a function later faults
/// (`selftest=initmem`), and `cargo xtask test` checks the calls from the code that runs
/// after boot. The platform-independent library cannot carry the attribute (it forbids
/// `unsafe_code`); its boot-only functions are listed by path in `kernel/build.rs`.
///
/// ```ignore
/// __init! { pub fn early_thing() -> u32 { 1 } }
/// __init! { static SEEN: AtomicBool = AtomicBool::new(false); }
/// ```
macro_rules! __init {
    ($(#[$m:meta])* $vis:vis fn $($rest:tt)*) => {
        $(#[$m])*
        #[link_section = ".init.text"]
        $vis fn $($rest)*
    };
    ($(#[$m:meta])* $vis:vis static $($rest:tt)*) => {
        $(#[$m])*
        #[link_section = ".init.data"]
        $vis static $($rest)*
    };
}
pub(crate) use __init;

pub mod aarch64;
pub mod global_alloc;
pub use aarch64::*;
