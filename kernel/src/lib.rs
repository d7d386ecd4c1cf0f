//! The platform-independent core of the kernel: physical memory management (`mm`) and the
//! device-tree scan (`of`), driven by the boot's memory setup (`setup`) with the arm64
//! parameters of `arm64`.
//!
//! Nothing in this crate touches hardware: no assembly, no MMIO, no fixed addresses. It takes
//! inputs (DTB bytes, the image range, the command line) and produces state and log lines, so
//! it compiles for the host, where `cargo test` runs its unit and property tests, and for
//! `aarch64-unknown-none`, where the kernel binary (`main.rs`, `arch/`, `drivers/`) drives it.
//! `unsafe` is forbidden here; it lives in the binary's `arch` and `drivers` layers.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

// The host dry-run's mem_init (`setup::dryrun::host`) keeps memmaps in host vectors.
#[cfg(all(not(test), not(target_os = "none")))]
extern crate std;
// The host-only parts (the dry-run's memmaps) use the heap; the kernel's library does not.
#[cfg(not(target_os = "none"))]
extern crate alloc;

pub mod arm64;
pub mod mm;
pub mod cmdline;
pub mod log_buf;
pub mod memmap;
pub mod monitor;
pub mod of;
pub mod printk;
pub mod setup;
#[cfg(test)]
mod testlog;
