//! PSCI (Arm DEN 0022) calls through the conduit the device tree names in `/psci/method`.

use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};
use kernel::of::PsciConduit;

const PSCI_0_2_FN_PSCI_VERSION: u32 = 0x8400_0000;
const PSCI_0_2_FN_MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
const PSCI_0_2_FN64_MIGRATE_INFO_UP_CPU: u32 = 0xc400_0007;
const PSCI_1_0_FN_PSCI_FEATURES: u32 = 0x8400_000a;
const ARM_SMCCC_VERSION_FUNC_ID: u32 = 0x8000_0000;
const PSCI_RET_NOT_SUPPORTED: i32 = -1;
const PSCI_0_2_TOS_UP_MIGRATE: i32 = 0;
const PSCI_0_2_TOS_UP_NO_MIGRATE: i32 = 1;
const PSCI_0_2_TOS_MP: i32 = 2;
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
    call1(function, 0)
}

/// A call with one argument in x1.
fn call1(function: u32, arg: u64) -> u64 {
    let mut x0 = function as u64;
    match conduit() {
        // SAFETY: a PSCI/SMCCC call; firmware clobbers at most x0..x3 (SMCCC).
        Some(PsciConduit::Hvc) => unsafe {
            asm!("hvc #0", inout("x0") x0, inout("x1") arg => _, out("x2") _, out("x3") _, options(nostack))
        },
        // SAFETY: as above, through the secure monitor.
        Some(PsciConduit::Smc) => unsafe {
            asm!("smc #0", inout("x0") x0, inout("x1") arg => _, out("x2") _, out("x3") _, options(nostack))
        },
        None => x0 = u64::MAX,
    }
    x0
}

/// The rest of Linux's `psci_probe` after the version: the v0.2 function IDs,
/// `psci_init_migrate` and, from PSCI 1.0, `psci_init_smccc`, with their lines.
pub fn probe_lines(major: u16, out: &mut dyn FnMut(core::fmt::Arguments)) {
    out(format_args!("psci: Using standard PSCI v0.2 function IDs"));
    match call(PSCI_0_2_FN_MIGRATE_INFO_TYPE) as i32 {
        PSCI_0_2_TOS_MP => out(format_args!("psci: Trusted OS migration not required")),
        PSCI_RET_NOT_SUPPORTED => out(format_args!("psci: MIGRATE_INFO_TYPE not supported.")),
        PSCI_0_2_TOS_UP_MIGRATE | PSCI_0_2_TOS_UP_NO_MIGRATE => {
            let cpu = call(PSCI_0_2_FN64_MIGRATE_INFO_UP_CPU);
            if cpu & !0xff_00ff_ffff != 0 {
                out(format_args!("psci: MIGRATE_INFO_UP_CPU reported invalid physical ID (0x{cpu:x})"));
            } else {
                out(format_args!("psci: Trusted OS resident on physical CPU 0x{cpu:x}"));
            }
        }
        t => out(format_args!("psci: MIGRATE_INFO_TYPE returned unknown type ({t})")),
    }
    if major >= 1 {
        let mut ver = 0x1_0000u32; // SMCCC v1.0
        if call1(PSCI_1_0_FN_PSCI_FEATURES, ARM_SMCCC_VERSION_FUNC_ID as u64) as i32 != PSCI_RET_NOT_SUPPORTED {
            let ret = call(ARM_SMCCC_VERSION_FUNC_ID) as u32;
            if ret >= 0x1_0001 && (ret as i32) >= 0 {
                ver = ret;
            }
        }
        out(format_args!("psci: SMC Calling Convention v{}.{}", ver >> 16, ver & 0xffff));
    }
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
