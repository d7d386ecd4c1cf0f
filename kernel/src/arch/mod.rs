//! Architecture glue. Only AArch64 exists; everything that needs assembly, system registers
//! or a fixed machine fact lives below here, and so does the one piece of raw-pointer code
//! that is not tied to a machine: the global allocator's mechanism (`global_alloc`).

pub mod aarch64;
pub mod global_alloc;
pub use aarch64::*;
