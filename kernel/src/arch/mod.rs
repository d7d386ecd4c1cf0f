//! Architecture glue. Only AArch64 exists; everything that needs assembly, system registers
//! or a fixed machine fact lives below here.

pub mod aarch64;
pub use aarch64::*;
