//! Boot self-tests chosen with `selftest=NAME`. Each one proves a failure path end to end in
//! a real boot; the QEMU tests in `cargo xtask test` check what they print.
//!
//! - `fault`: read from an address nothing maps; must end in the fault report.
//! - `panic`: `panic!`; must end in "Kernel panic - not syncing".
//! - `reset`: PSCI SYSTEM_RESET instead of SYSTEM_OFF.
//! - `nomap`: read the first byte of the first NOMAP region through the linear map: no-map
//!   memory is memory, but it is not in the linear map, so this must end in the fault report.
//! - `wx`: write to the kernel's text, which is mapped read-only: a permission fault.

use kernel::mm::memblock::{Memblock, MemblockKind};
use log::{info, warn};

/// An address inside the 48-bit space that no early mapping covers (the early identity map
/// holds only the kernel, the DTB and the console, all far below).
const UNMAPPED: u64 = 0x0000_7f00_dead_0000;

pub fn run(name: &str, mb: &Memblock) {
    info!("selftest: {name}");
    match name {
        "nomap" => match mb.ty(MemblockKind::Memory).regions().iter().find(|r| r.is_nomap()) {
            Some(r) => {
                let va = crate::arch::mmu::va(r.base);
                info!("selftest: reading NOMAP memory at {:#x} through the linear map at {va:#x}", r.base.0);
                // SAFETY: deliberately unsound: the address is not mapped, the read must fault.
                let v = unsafe { core::ptr::read_volatile(va as *const u8) };
                panic!("selftest=nomap: read of {va:#x} returned {v:#x} instead of faulting");
            }
            None => warn!("selftest: nomap: no NOMAP region in memblock.memory, nothing to test"),
        },
        "wx" => {
            let text = run as *const () as *mut u32;
            info!("selftest: writing to kernel text at {:#x}", text as usize);
            // SAFETY: deliberately unsound: text is read-only, the write must fault.
            unsafe { core::ptr::write_volatile(text, 0xd503_201f) };
            panic!("selftest=wx: write to kernel text at {:#x} did not fault", text as usize);
        }
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
