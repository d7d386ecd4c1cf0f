//! Exception reports. Every entry of the EL1 vector table (`boot/head.S`) saves the whole
//! register state in a `TrapFrame` and lands in `handle_exception`, which prints what Linux's
//! arm64 fault path prints (`die_kernel_fault`, `mem_abort_decode`, `__die`, `__show_regs`)
//! and powers the machine off: nothing here returns to the interrupted code, but for the one
//! fault it expects, an abort of `probe_read32`'s load (Linux's exception-table fixup).
//!
//! A fault inside the report itself (a bad console, a corrupted frame) must not loop or
//! bury the first report: the second exception prints two short lines straight to the UART
//! (no log buffer, no register dump) and powers off; a third powers off without a word.
//! Linux's arm64 `die` would deadlock on its own `die_lock` there.

use crate::console;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Exceptions taken so far: the first is reported in full, the second in two lines.
static TAKEN: AtomicU32 = AtomicU32::new(0);

/// `selftest=fault-in-fault`: the next report faults right after its abort decode, by a read
/// of [`REPORT_FAULT_ADDR`], once.
pub static FAULT_IN_REPORT: AtomicBool = AtomicBool::new(false);

/// Where the device tree is mapped and its size (0 before `note_fdt`): a synchronous external
/// abort on memory a memory node claims names that node.
static FDT_VA: AtomicU64 = AtomicU64::new(0);
static FDT_LEN: AtomicU64 = AtomicU64::new(0);

/// The blob is readable at `va` for `len` bytes from now on (called again when it moves).
pub fn note_fdt(va: u64, len: usize) {
    FDT_LEN.store(0, Ordering::SeqCst);
    FDT_VA.store(va, Ordering::SeqCst);
    FDT_LEN.store(len as u64, Ordering::SeqCst);
}

/// Synchronous external abort, not on a table walk (`ESR_ELx.FSC`).
const FSC_SEA: u64 = 0x10;

/// For an external abort at `far`: the memory node whose `reg` claims the address, named,
/// when the device tree says that RAM is there. A tree that claims memory the machine does
/// not have (a node over the whole address space) ends here on the first write to it.
fn name_memory_node(out: &mut impl Write, far: u64) {
    let (va, len) = (FDT_VA.load(Ordering::SeqCst), FDT_LEN.load(Ordering::SeqCst));
    let Some(pa) = super::mmu::pa_of(far) else { return };
    if va == 0 || len == 0 {
        return;
    }
    // A fault here would be caught as an exception inside the report.
    // SAFETY: note_fdt was told where the blob is mapped, read-only, for the kernel's life.
    let blob = unsafe { core::slice::from_raw_parts(va as *const u8, len as usize) };
    let Ok(fdt) = kernel::of::fdt::Fdt::new(blob) else { return };
    for node in kernel::of::fdt_scan::memory_nodes(&fdt) {
        let Some(Ok(reg)) = node.reg() else { continue };
        for (base, size) in reg {
            if pa >= base && pa - base < size {
                let _ = writeln!(
                    out,
                    "OF: fdt: memory node '{}' claims [mem {base:#018x}-{:#018x}], but {pa:#x} in it does not respond: no RAM there",
                    node.name,
                    base.saturating_add(size - 1)
                );
                return;
            }
        }
    }
}

/// What the report reads to fault on purpose: in the 48-bit space, nothing maps it.
pub const REPORT_FAULT_ADDR: u64 = 0x0000_7f00_dead_1000;

/// Saved state, in the order `trap_common` stores it.
#[repr(C)]
pub struct TrapFrame {
    pub regs: [u64; 31],
    pub sp: u64,
    pub elr: u64,
    pub spsr: u64,
    pub esr: u64,
    pub far: u64,
}

const KIND_NAMES: [&str; 16] = [
    "Synchronous (EL1t)", "IRQ (EL1t)", "FIQ (EL1t)", "SError (EL1t)",
    "Synchronous (EL1h)", "IRQ (EL1h)", "FIQ (EL1h)", "SError (EL1h)",
    "Synchronous (EL0, 64-bit)", "IRQ (EL0, 64-bit)", "FIQ (EL0, 64-bit)", "SError (EL0, 64-bit)",
    "Synchronous (EL0, 32-bit)", "IRQ (EL0, 32-bit)", "FIQ (EL0, 32-bit)", "SError (EL0, 32-bit)",
];

const ESR_ELX_IL: u64 = 1 << 25;
const ESR_ELX_WNR: u64 = 1 << 6;
const EC_IABT_CUR: u64 = 0x21;
const EC_DABT_CUR: u64 = 0x25;

/// Linux's `esr_class_str`: the exception class in words.
fn class_str(ec: u64) -> &'static str {
    match ec {
        0x00 => "Unknown/Uncategorized",
        0x01 => "WFI/WFE",
        0x03 => "CP15 MCR/MRC",
        0x04 => "CP15 MCRR/MRRC",
        0x05 => "CP14 MCR/MRC",
        0x06 => "CP14 LDC/STC",
        0x07 => "ASIMD",
        0x08 => "CP10 MRC/VMRS",
        0x09 => "PAC",
        0x0c => "CP14 MCRR/MRRC",
        0x0d => "BTI",
        0x0e => "PSTATE.IL",
        0x11 => "SVC (AArch32)",
        0x12 => "HVC (AArch32)",
        0x13 => "SMC (AArch32)",
        0x15 => "SVC (AArch64)",
        0x16 => "HVC (AArch64)",
        0x17 => "SMC (AArch64)",
        0x18 => "MSR/MRS (AArch64)",
        0x19 => "SVE",
        0x1a => "ERET/ERETAA/ERETAB",
        0x1c => "FPAC",
        0x1d => "SME",
        0x1f => "IMP DEF",
        0x20 => "IABT (lower EL)",
        0x21 => "IABT (current EL)",
        0x22 => "PC Alignment",
        0x24 => "DABT (lower EL)",
        0x25 => "DABT (current EL)",
        0x26 => "SP Alignment",
        0x28 => "FP (AArch32)",
        0x2c => "FP (AArch64)",
        0x2f => "SError",
        0x30 => "Breakpoint (lower EL)",
        0x31 => "Breakpoint (current EL)",
        0x32 => "Software Step (lower EL)",
        0x33 => "Software Step (current EL)",
        0x34 => "Watchpoint (lower EL)",
        0x35 => "Watchpoint (current EL)",
        0x38 => "BKPT (AArch32)",
        0x3a => "Vector catch (AArch32)",
        0x3c => "BRK (AArch64)",
        _ => "UNRECOGNIZED EC",
    }
}

/// Linux's `fault_info[]` names, by fault status code.
fn fault_name(fsc: u64) -> &'static str {
    match fsc {
        0x00 => "level 0 address size fault",
        0x01 => "level 1 address size fault",
        0x02 => "level 2 address size fault",
        0x03 => "level 3 address size fault",
        0x04 => "level 0 translation fault",
        0x05 => "level 1 translation fault",
        0x06 => "level 2 translation fault",
        0x07 => "level 3 translation fault",
        0x09 => "level 1 access flag fault",
        0x0a => "level 2 access flag fault",
        0x0b => "level 3 access flag fault",
        0x0d => "level 1 permission fault",
        0x0e => "level 2 permission fault",
        0x0f => "level 3 permission fault",
        0x10 => "synchronous external abort",
        0x11 => "synchronous tag check fault",
        0x14 => "level 0 (translation table walk)",
        0x15 => "level 1 (translation table walk)",
        0x16 => "level 2 (translation table walk)",
        0x17 => "level 3 (translation table walk)",
        0x18 => "synchronous parity or ECC error",
        0x1c => "level 0 synchronous parity error (translation table walk)",
        0x1d => "level 1 synchronous parity error (translation table walk)",
        0x1e => "level 2 synchronous parity error (translation table walk)",
        0x1f => "level 3 synchronous parity error (translation table walk)",
        0x21 => "alignment fault",
        0x30 => "TLB conflict abort",
        0x31 => "Unsupported atomic hardware update fault",
        0x3d => "section domain fault",
        0x3e => "page domain fault",
        _ => "unknown",
    }
}

fn is_permission_fault(fsc: u64) -> bool {
    (0x0d..=0x0f).contains(&fsc)
}

extern "C" {
    /// `boot/head.S`: a 32-bit load from `addr` whose abort is fixed up.
    #[link_name = "probe_read32"]
    fn probe_read32_asm(addr: u64) -> Probed;
    /// The one load `probe_read32` makes, and where it resumes when that load aborts.
    fn probe_read32_load();
    fn probe_read32_fixup();
}

/// What `probe_read32` returns, in x0 and x1.
#[repr(C)]
struct Probed {
    value: u64,
    aborted: u64,
}

/// Read the 32-bit device register at `addr` (mapped as device memory), which may not
/// answer: `None` when the read aborts (nothing decodes the address, as QEMU reports an
/// unassigned one) instead of a fatal exception. Linux probes a device that may be absent
/// the same way, through its exception table.
pub fn probe_read32(addr: u64) -> Option<u32> {
    // The caller mapped `addr`, and reading an ID or flag register has no side effect.
    // SAFETY: one load from a mapped `addr`, whose abort the handler turns into `aborted`.
    let probed = unsafe { probe_read32_asm(addr) };
    (probed.aborted == 0).then_some(probed.value as u32)
}

/// Entered from `trap_common` with the saved frame and the vector index (0..16). Returns
/// (to `trap_common`, which restores the frame) only for an abort of `probe_read32`'s load,
/// whose frame now resumes at the fixup.
#[no_mangle]
extern "C" fn handle_exception(frame: &mut TrapFrame, kind: u64) {
    let ec = (frame.esr >> 26) & 0x3f;
    if kind == 4 && ec == EC_DABT_CUR && frame.elr == probe_read32_load as *const () as u64 {
        frame.elr = probe_read32_fixup as *const () as u64;
        return;
    }
    report(frame, kind)
}

/// Report the exception as Linux's arm64 fault path does, then power off.
fn report(frame: &TrapFrame, kind: u64) -> ! {
    match TAKEN.fetch_add(1, Ordering::SeqCst) {
        0 => {}
        1 => exception_in_report(frame),
        _ => super::psci::system_off(),
    }
    let mut out = console::emergency();
    let esr = frame.esr;
    let ec = (esr >> 26) & 0x3f;
    let is_sync = kind % 4 == 0;
    let _ = writeln!(
        out,
        "trap: {} exception: ESR_EL1 {:#018x} FAR_EL1 {:#018x} ELR_EL1 {:#018x} SPSR_EL1 {:#010x}",
        KIND_NAMES[(kind & 15) as usize],
        esr,
        frame.far,
        frame.elr,
        frame.spsr
    );
    let layout = super::image::layout();
    if is_sync && (layout.stack_guard..layout.stack).contains(&frame.far) {
        // Linux's handle_bad_stack: the fault is the stack running into its guard page.
        let _ = writeln!(out, "Insufficient stack space to handle exception!");
        let _ = writeln!(out, "ESR: 0x{esr:016x} -- {}", class_str(ec));
        let _ = writeln!(out, "FAR: 0x{:016x}", frame.far);
        let _ = writeln!(out, "Task stack:     [0x{:016x}..0x{:016x}]", layout.stack, layout.stack_top);
        show_regs(&mut out, frame);
        let _ = writeln!(out, "Kernel panic - not syncing: kernel stack overflow");
        out.replay_log();
        let _ = writeln!(out, "---[ end Kernel panic - not syncing: kernel stack overflow ]---");
        super::psci::system_off()
    }
    let oops = if is_sync && (ec == EC_DABT_CUR || ec == EC_IABT_CUR) {
        let fsc = esr & 0x3f;
        let msg = if is_permission_fault(fsc) {
            if esr & ESR_ELX_WNR != 0 && ec == EC_DABT_CUR {
                "write to read-only memory"
            } else if ec == EC_IABT_CUR {
                "execute from non-executable memory"
            } else {
                "read from unreadable memory"
            }
        } else if frame.far < 4096 {
            "NULL pointer dereference"
        } else {
            "paging request"
        };
        let _ = writeln!(out, "Unable to handle kernel {msg} at virtual address {:016x}", frame.far);
        mem_abort_decode(&mut out, esr);
        if esr & 0x3f == FSC_SEA {
            name_memory_node(&mut out, frame.far);
        }
        if FAULT_IN_REPORT.swap(false, Ordering::SeqCst) {
            // SAFETY: deliberately unsound (selftest=fault-in-fault): the read must fault.
            let _ = unsafe { core::ptr::read_volatile(REPORT_FAULT_ADDR as *const u64) };
        }
        "Oops"
    } else if is_sync {
        let _ = writeln!(out, "Internal error: {}: unexpected exception", class_str(ec));
        "Oops - unexpected exception"
    } else if kind % 4 == 3 {
        let _ = writeln!(out, "SError Interrupt on CPU0, code {:#018x} -- {}", esr, class_str(ec));
        "Asynchronous SError Interrupt"
    } else {
        let _ = writeln!(out, "Unexpected {} on CPU0: no handler is installed", KIND_NAMES[(kind & 15) as usize]);
        "Oops - unexpected interrupt"
    };
    let _ = writeln!(out, "Internal error: {oops}: {esr:016x} [#1] SMP");
    show_regs(&mut out, frame);
    let _ = writeln!(out, "Kernel panic - not syncing: Oops: Fatal exception");
    out.replay_log();
    let _ = writeln!(out, "---[ end Kernel panic - not syncing: Oops: Fatal exception ]---");
    super::psci::system_off()
}

/// The second exception, taken while the first was being reported: two lines straight to the
/// UART, then power off.
fn exception_in_report(frame: &TrapFrame) -> ! {
    let mut out = console::Console;
    let _ = writeln!(
        out,
        "trap: exception inside the exception handler: ESR_EL1 {:#018x} FAR_EL1 {:#018x} ELR_EL1 {:#018x}",
        frame.esr, frame.far, frame.elr
    );
    let _ = writeln!(out, "Kernel panic - not syncing: exception inside the exception handler");
    console::Console::flush();
    super::psci::system_off()
}

/// Linux's `mem_abort_decode` + `data_abort_decode`.
fn mem_abort_decode(out: &mut impl Write, esr: u64) {
    let ec = (esr >> 26) & 0x3f;
    let fsc = esr & 0x3f;
    let _ = writeln!(out, "Mem abort info:");
    let _ = writeln!(out, "  ESR = 0x{esr:016x}");
    let il = if esr & ESR_ELX_IL != 0 { 32 } else { 16 };
    let _ = writeln!(out, "  EC = 0x{ec:02x}: {}, IL = {il} bits", class_str(ec));
    let _ = writeln!(out, "  SET = {}, FnV = {}", (esr >> 11) & 3, (esr >> 10) & 1);
    let _ = writeln!(out, "  EA = {}, S1PTW = {}", (esr >> 9) & 1, (esr >> 7) & 1);
    let _ = writeln!(out, "  FSC = 0x{fsc:02x}: {}", fault_name(fsc));
    if ec == EC_DABT_CUR {
        let _ = writeln!(out, "Data abort info:");
        if esr & (1 << 24) != 0 {
            let _ = writeln!(
                out,
                "  Access size = {} byte(s)",
                1u32 << ((esr >> 22) & 3)
            );
            let _ = writeln!(
                out,
                "  SSE = {}, SRT = {}",
                (esr >> 21) & 1,
                (esr >> 16) & 0x1f
            );
            let _ = writeln!(out, "  SF = {}, AR = {}", (esr >> 15) & 1, (esr >> 14) & 1);
        } else {
            let _ = writeln!(out, "  ISV = 0, ISS = 0x{:08x}", esr & 0x1ff_ffff);
        }
        let _ = writeln!(out, "  CM = {}, WnR = {}", (esr >> 8) & 1, (esr >> 6) & 1);
    }
}

/// Linux's `__show_regs` for a kernel context: pstate, pc, lr, sp, then x29..x0 three a line.
fn show_regs(out: &mut impl Write, frame: &TrapFrame) {
    let _ = writeln!(out, "CPU: 0 PID: 0 Comm: swapper");
    let p = frame.spsr;
    let flag = |bit: u32, c: char| if p & (1 << bit) != 0 { c.to_ascii_uppercase() } else { c };
    let on = |bit: u32| if p & (1 << bit) != 0 { '+' } else { '-' };
    let _ = writeln!(
        out,
        "pstate: {:08x} ({}{}{}{} {}{}{}{} {}PAN {}UAO {}TCO {}DIT {}SSBS BTYPE={})",
        p,
        flag(31, 'n'),
        flag(30, 'z'),
        flag(29, 'c'),
        flag(28, 'v'),
        flag(9, 'd'),
        flag(8, 'a'),
        flag(7, 'i'),
        flag(6, 'f'),
        on(22),
        on(23),
        on(25),
        on(24),
        on(12),
        ["--", "j-", "-c", "jc"][((p >> 10) & 3) as usize]
    );
    let _ = writeln!(out, "pc : {:016x}", frame.elr);
    let _ = writeln!(out, "lr : {:016x}", frame.regs[30]);
    let _ = writeln!(out, "sp : {:016x}", frame.sp);
    let mut i: i32 = 29;
    while i >= 0 {
        let _ = write!(out, "x{:<2}: {:016x}", i, frame.regs[i as usize]);
        loop {
            let more = i % 3 != 0;
            i -= 1;
            if !more {
                break;
            }
            let _ = write!(out, " x{:<2}: {:016x}", i, frame.regs[i as usize]);
        }
        let _ = writeln!(out);
    }
}
