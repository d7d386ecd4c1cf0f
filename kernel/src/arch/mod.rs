//! Architecture glue. Only AArch64 exists; everything that needs assembly, system registers
//! or a fixed machine fact lives below here, and so does the one piece of raw-pointer code
//! that is not tied to a machine: the global allocator's mechanism (`global_alloc`).
//!
//! With `drivers`, this is the only layer allowed `unsafe`; each block sits under a
//! `// SAFETY:` line, and each `unsafe fn` has a `# Safety` section (`cargo clippy` checks both).
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod aarch64;
pub mod global_alloc;
pub use aarch64::*;
