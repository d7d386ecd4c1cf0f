//! Boot self-tests chosen with `selftest=NAME`. Each one proves a failure path end to end in
//! a real boot; the QEMU tests in `cargo xtask test` check what they print.
//!
//! - `fault`: read from an address nothing maps; must end in the fault report.
//! - `panic`: `panic!`; must end in "Kernel panic - not syncing".
//! - `reset`: PSCI SYSTEM_RESET instead of SYSTEM_OFF.

use log::{info, warn};

/// An address inside the 48-bit space that no early mapping covers (the early identity map
/// holds only the kernel, the DTB and the console, all far below).
const UNMAPPED: u64 = 0x0000_7f00_dead_0000;

pub fn run(name: &str) {
    info!("selftest: {name}");
    match name {
        "fault" => {
            // SAFETY: deliberately unsound: the read must fault and end in the report.
            let v = unsafe { core::ptr::read_volatile(UNMAPPED as *const u64) };
            panic!("selftest=fault: read of {UNMAPPED:#x} returned {v:#x} instead of faulting");
        }
        "panic" => panic!("selftest=panic"),
        "reset" => {
            info!("reboot: Restarting system");
            crate::console::Console::flush();
            crate::arch::psci::system_reset()
        }
        other => warn!("selftest: unknown test '{other}', ignored"),
    }
}
