//! PSCI (Arm DEN 0022) calls through the conduit the device tree names in `/psci/method`.

use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};
use kernel::of::PsciConduit;

const PSCI_0_2_FN_PSCI_VERSION: u32 = 0x8400_0000;
const PSCI_0_2_FN_SYSTEM_OFF: u32 = 0x8400_0008;
const PSCI_0_2_FN_SYSTEM_RESET: u32 = 0x8400_0009;

const NONE: u8 = 0;
const HVC: u8 = 1;
const SMC: u8 = 2;

static CONDUIT: AtomicU8 = AtomicU8::new(NONE);

/// Use `conduit` for every later call.
pub fn set_conduit(conduit: PsciConduit) {
    let v = match conduit {
        PsciConduit::Hvc => HVC,
        PsciConduit::Smc => SMC,
    };
    CONDUIT.store(v, Ordering::Relaxed);
}

pub fn conduit() -> Option<PsciConduit> {
    match CONDUIT.load(Ordering::Relaxed) {
        HVC => Some(PsciConduit::Hvc),
        SMC => Some(PsciConduit::Smc),
        _ => None,
    }
}

/// The conduit to guess when the device tree cannot be read: a kernel entered at EL2 owns the
/// hypervisor call, so firmware must be behind SMC; one entered at EL1 reaches it with HVC.
pub fn fallback_conduit(entry_el: u64) -> PsciConduit {
    if entry_el >= 2 {
        PsciConduit::Smc
    } else {
        PsciConduit::Hvc
    }
}

fn call(function: u32) -> u64 {
    let mut x0 = function as u64;
    match conduit() {
        // SAFETY: a PSCI call with no arguments; firmware clobbers at most x0..x3 (SMCCC).
        Some(PsciConduit::Hvc) => unsafe {
            asm!("hvc #0", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _, options(nostack))
        },
        // SAFETY: as above, through the secure monitor.
        Some(PsciConduit::Smc) => unsafe {
            asm!("smc #0", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _, options(nostack))
        },
        None => x0 = u64::MAX,
    }
    x0
}

/// PSCI_VERSION: (major, minor), or `None` without a conduit.
pub fn version() -> Option<(u16, u16)> {
    conduit()?;
    let v = call(PSCI_0_2_FN_PSCI_VERSION) as u32;
    Some(((v >> 16) as u16, v as u16))
}

/// SYSTEM_OFF. If firmware returns (or there is no conduit), the CPU halts.
pub fn system_off() -> ! {
    call(PSCI_0_2_FN_SYSTEM_OFF);
    super::cpu::halt()
}

/// SYSTEM_RESET. If firmware returns (or there is no conduit), the CPU halts.
#[allow(dead_code)]
pub fn system_reset() -> ! {
    call(PSCI_0_2_FN_SYSTEM_RESET);
    super::cpu::halt()
}
