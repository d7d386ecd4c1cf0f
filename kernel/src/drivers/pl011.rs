//! ARM PrimeCell UART (PL011): enough for a polled console, transmit and receive.
//!
//! The register block follows the PL011 TRM (DDI 0183). The driver never reprograms the baud
//! rate: like Linux's earlycon it keeps what firmware (or QEMU) set, and only makes sure the
//! UART, its transmitter and the FIFOs are enabled.
//!
//! It also keeps the one console UART: the address of its registers is recorded only once
//! they are mapped, so handing out a `Pl011` for it needs no trust from the caller.

use crate::arch::exception::probe_read32;
use crate::arch::idmap::{self, PoolExhausted};
use crate::arch::timer;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::mm::paging::KernelTables;
use kernel::mm::PhysAddr;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    /// Data register.
    DR [
        /// Overrun error: a byte arrived while the receive FIFO was full (it was lost).
        OE OFFSET(11) NUMBITS(1) [],
        /// Break error.
        BE OFFSET(10) NUMBITS(1) [],
        /// Parity error.
        PE OFFSET(9) NUMBITS(1) [],
        /// Framing error.
        FE OFFSET(8) NUMBITS(1) [],
        /// The byte received (on read) or to send (on write).
        DATA OFFSET(0) NUMBITS(8) []
    ],
    /// Flag register.
    FR [
        /// Transmit FIFO empty: room for a whole FIFO's worth of bytes.
        TXFE OFFSET(7) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    /// Line control register.
    LCR_H [
        /// Word length.
        WLEN OFFSET(5) NUMBITS(2) [
            FiveBit = 0,
            SixBit = 1,
            SevenBit = 2,
            EightBit = 3
        ],
        /// Enable the FIFOs.
        FEN OFFSET(4) NUMBITS(1) []
    ],
    /// Control register.
    CR [
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt clear register.
    ICR [
        /// Clear every interrupt.
        ALL OFFSET(0) NUMBITS(11) []
    ]
];

register_structs! {
    #[allow(non_snake_case)]
    pub Registers {
        (0x00 => dr: ReadWrite<u32, DR::Register>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x2c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x44 => icr: WriteOnly<u32, ICR::Register>),
        (0x48 => @END),
    }
}

/// A PL011 at a mapped MMIO address.
pub struct Pl011 {
    regs: &'static Registers,
}

impl Pl011 {
    /// # Safety
    /// `base` must be the address of a PL011 register block, mapped as device memory for the
    /// rest of the kernel's life, and no other code may drive the same UART concurrently.
    pub unsafe fn new(base: usize) -> Pl011 {
        // SAFETY: the caller guarantees `base` is a mapped PL011 block that lives forever.
        Pl011 { regs: unsafe { &*(base as *const Registers) } }
    }

    /// Poll until `done` holds, for at most [`WAIT_LIMIT_MS`]: `false` when it never did (a
    /// UART that stopped, or something else at its address), so that nothing hangs on it.
    fn wait(&self, done: impl Fn(&Registers) -> bool) -> bool {
        if done(self.regs) {
            return true;
        }
        let limit = timer::frequency() / 1000 * WAIT_LIMIT_MS;
        let start = timer::ticks();
        while !done(self.regs) {
            if timer::ticks().wrapping_sub(start) > limit {
                return false;
            }
            core::hint::spin_loop();
        }
        true
    }

    /// Enable the UART for 8-bit transmission with FIFOs, draining what is in flight first.
    pub fn init(&self) {
        self.wait(|r| !r.fr.is_set(FR::BUSY));
        self.regs.cr.set(0);
        self.regs.icr.write(ICR::ALL::SET);
        self.regs.lcr_h.write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        self.regs.cr.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    /// The next received byte, if the receive FIFO holds one (FR.RXFE clear). Error flags
    /// that come with it (DR bits 8-11) are dropped with them: a console keeps what it can.
    pub fn try_read(&self) -> Option<u8> {
        if self.regs.fr.is_set(FR::RXFE) {
            return None;
        }
        Some(self.regs.dr.read(DR::DATA) as u8)
    }

    /// Wait (polling) for the next received byte.
    pub fn read_byte(&self) -> u8 {
        loop {
            if let Some(b) = self.try_read() {
                return b;
            }
            core::hint::spin_loop();
        }
    }

    /// Wait until the last byte has left the shift register (before power-off).
    pub fn flush(&self) {
        self.wait(|r| !r.fr.is_set(FR::BUSY));
    }
}

/// The PrimeCell component ID of every PL011 (Linux's `AMBA_CID`).
pub const AMBA_CID: u32 = 0xb105_f00d;

/// How long a wait on the UART's flags may take before the UART counts as gone: 16 bytes at
/// 2400 baud drain in about 67 ms.
const WAIT_LIMIT_MS: u64 = 100;

/// Transmit FIFO depth of the smallest PL011 revision (r1p4 and earlier have 16).
const FIFO_DEPTH: usize = 16;

impl core::fmt::Write for Pl011 {
    /// Fill the FIFO a whole depth at a time once it is empty: one status read per 16 bytes
    /// instead of one per byte (each register access is costly under emulation).
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let mut room = 0;
        for b in s.bytes() {
            for byte in if b == b'\n' { [Some(b'\r'), Some(b)] } else { [Some(b), None] }.into_iter().flatten() {
                if room == 0 {
                    if !self.wait(|r| r.fr.is_set(FR::TXFE)) {
                        return Err(core::fmt::Error);
                    }
                    room = FIFO_DEPTH;
                }
                self.regs.dr.set(byte as u32);
                room -= 1;
            }
        }
        Ok(())
    }
}

/// The console UART's register block, mapped (0 while there is none).
static CONSOLE: AtomicU64 = AtomicU64::new(0);

/// Why the console could not be brought up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleError {
    /// No page-table page left to map its registers.
    NoPageTable,
    /// What answers at its address has this component ID, not [`AMBA_CID`]: not a PL011 (a
    /// `reg` read with the wrong cells, say). Writing to it would wait forever. `None`: the
    /// address is 0, which is not probed (no Rust reference may point there).
    NotPl011 { cid: Option<u32> },
    /// Nothing answers there: the read of the register at `at` aborted.
    NoAnswer { at: u64 },
    /// The block ends above what the CPU (or the identity map, 48 bits) can address.
    BeyondPhysRange { bits: u32 },
}

impl core::fmt::Display for ConsoleError {
    /// Why the block is no console, after "… at ADDRESS ".
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConsoleError::NoPageTable => write!(f, "cannot be mapped: no page table left"),
            ConsoleError::NotPl011 { cid: Some(cid) } => {
                write!(f, "has PrimeCell ID {cid:#010x}, not a PL011's {AMBA_CID:#010x}")
            }
            ConsoleError::NotPl011 { cid: None } => write!(f, "cannot be a PL011 (address 0)"),
            ConsoleError::NoAnswer { at } => write!(f, "does not answer (reading {at:#x} aborted)"),
            ConsoleError::BeyondPhysRange { bits } => write!(f, "lies beyond the {bits}-bit physical address range"),
        }
    }
}

impl From<PoolExhausted> for ConsoleError {
    fn from(_: PoolExhausted) -> Self {
        ConsoleError::NoPageTable
    }
}

/// Identity-map the PL011 at `base` as device memory, check that it is one (when `size`
/// covers the ID registers), enable it and make it the console.
pub fn console_init(base: PhysAddr, size: u64) -> Result<(), ConsoleError> {
    if base.0 == 0 {
        return Err(ConsoleError::NotPl011 { cid: None });
    }
    // The identity map reaches 48 bits of address, whatever the CPU's PARange.
    let bits = crate::arch::setup::phys_addr_bits().min(48);
    if base.0.checked_add(size.max(0x1000)).is_none_or(|end| end > 1 << bits) {
        return Err(ConsoleError::BeyondPhysRange { bits });
    }
    idmap::map_device(base, size)?;
    // Where nothing decodes the address, the first read aborts.
    let fr = base.0 + FR_OFFSET;
    probe_read32(fr).ok_or(ConsoleError::NoAnswer { at: fr })?;
    if size >= 0x1000 {
        let cid = component_id(base.0)?;
        if cid != AMBA_CID {
            return Err(ConsoleError::NotPl011 { cid: Some(cid) });
        }
    }
    // The kernel runs on one CPU with interrupts masked, and the block is not at address 0.
    // SAFETY: the block was just identity-mapped as device memory; this is the only console.
    let uart = unsafe { Pl011::new(base.0 as usize) };
    uart.init();
    CONSOLE.store(base.0, Ordering::Release);
    Ok(())
}

/// The PrimeCell component ID in the last four registers of the 4 KiB block at `base` (one
/// byte each): [`AMBA_CID`] on a PL011. Read apart from [`Registers`], which every console
/// mapping covers, since only a `reg` of 4 KiB or more vouches that these exist; console_init
/// calls this only for a block it mapped whole.
fn component_id(base: u64) -> Result<u32, ConsoleError> {
    (0..4).try_fold(0, |id, i| {
        let at = base + 0xff0 + 4 * i;
        let value = probe_read32(at).ok_or(ConsoleError::NoAnswer { at })?;
        Ok(id | (value & 0xff) << (8 * i))
    })
}

/// The flag register's offset in [`Registers`].
const FR_OFFSET: u64 = 0x18;

/// The console stopped answering (a wait on its flags ran out): drop it, so that the boot
/// goes on (its lines still reach the log buffer) and reports go to the fallback UART.
pub fn console_lost() {
    CONSOLE.store(0, Ordering::Release);
}

/// When there is no console yet, identity-map the PL011 at `base` and make it the console as
/// firmware left it (not reprogrammed). Nothing changes when the mapping fails.
pub fn console_fallback(base: PhysAddr) {
    if CONSOLE.load(Ordering::Acquire) == 0 && idmap::map_device(base, 0x1000).is_ok() {
        CONSOLE.store(base.0, Ordering::Release);
    }
}

/// Reach the console through its mapping in the kernel's own tables, once `tables` are live.
pub fn console_remap(tables: &KernelTables) {
    if let Some(va) = tables.console_va {
        if let Some(u) = console() {
            u.flush();
        }
        CONSOLE.store(va, Ordering::Release);
    }
}

/// The console UART, if there is one.
pub fn console() -> Option<Pl011> {
    match CONSOLE.load(Ordering::Acquire) {
        0 => None,
        // SAFETY: CONSOLE only ever holds the address of a PL011 block mapped as device memory.
        base => Some(unsafe { Pl011::new(base as usize) }),
    }
}
