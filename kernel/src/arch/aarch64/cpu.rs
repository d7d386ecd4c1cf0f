//! CPU identification and the idle loop.

use aarch64_cpu::registers::{Readable, MIDR_EL1, MPIDR_EL1};

/// Linux's `MPIDR_HWID_BITMASK`: Aff3 and Aff2..Aff0.
const MPIDR_HWID_BITMASK: u64 = 0xff_00ff_ffff;

/// The affinity fields of MPIDR_EL1, as Linux prints them in "Booting Linux on physical CPU".
pub fn hwid() -> u64 {
    MPIDR_EL1.get() & MPIDR_HWID_BITMASK
}

/// MIDR_EL1 (Linux's `read_cpuid_id()`).
pub fn midr() -> u32 {
    MIDR_EL1.get() as u32
}

/// Stop this CPU for good (used only when even PSCI is unavailable).
pub fn halt() -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}
