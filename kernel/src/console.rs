//! The console: the UART that `/chosen/stdout-path` names, and the `log` backend that prints
//! each record behind printk's `[%5lu.%06lu] ` prefix, filtered by `loglevel=`.
//!
//! Before the device tree has been read there is no console. The one exception is the
//! documented fallback, `FALLBACK_PL011`: QEMU virt's UART, used only to report a DTB that
//! cannot be read, or a crash that happens before the console exists.
//!
//! Every record also goes into `LOG_BUF` (Linux's `log_buf`, see `kernel::log_buf` for the
//! layout a debugger reads: in gdb, `kernel::console::LOG_BUF`), and so do the emergency
//! reports. A panic or fault report on a console quieter than the default (`quiet`,
//! `loglevel=` below 7) replays the last lines the console may have hidden.

use crate::arch::timer;
use crate::drivers::pl011;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, Ordering};
use kernel::mm::paging::KernelTables;
use kernel::mm::PhysAddr;
use kernel::log_buf::LogBuf;
use kernel::printk::{console_prints, logged, Timestamp};

/// QEMU virt's PL011 (`VIRT_UART` in hw/arm/virt.c). Only for reporting an unreadable DTB.
pub const FALLBACK_PL011: PhysAddr = PhysAddr(0x0900_0000);

/// Size of the log buffer: 64 KiB holds the longest boot log (`memblock=debug dyndbg=+p`).
pub const LOG_BUF_LEN: usize = 1 << 16;

/// The kernel log, every record as the console prints it (read it from gdb: `mb-dmesg`).
pub static LOG_BUF: LogBuf<LOG_BUF_LEN> = LogBuf::new();

/// Lines a panic report replays from `LOG_BUF` on a quiet console.
const REPLAY_LINES: usize = 20;

static DYNDBG: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
static CONSOLE_LOGLEVEL: AtomicU8 = AtomicU8::new(kernel::cmdline::CONSOLE_LOGLEVEL_DEFAULT);

/// Map the PL011 at `base` and make it the console.
pub fn init(base: PhysAddr, size: u64) -> Result<(), pl011::ConsoleError> {
    pl011::console_init(base, size)
}

/// Use the console's registers through the kernel's own tables, once paging_init has built
/// and installed them.
pub fn relocate(tables: &KernelTables) {
    pl011::console_remap(tables);
}

/// Writes to the console, or to nothing when there is none yet.
pub struct Console;

impl Console {
    pub fn flush() {
        if let Some(u) = pl011::console() {
            u.flush();
        }
    }

    /// Wait for a byte from the console's receive side (polled; nothing to wait on without
    /// a console, so that waits forever).
    pub fn read_byte() -> u8 {
        loop {
            if let Some(u) = pl011::console() {
                return u.read_byte();
            }
            core::hint::spin_loop();
        }
    }
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match pl011::console() {
            Some(mut u) => u.write_str(s).inspect_err(|_| pl011::console_lost()),
            None => Ok(()),
        }
    }
}

/// The console for a report that must get out whatever the log level (Linux's `KERN_EMERG`):
/// the real console, or else the fallback UART (mapped on the spot). Every line it writes
/// carries the printk timestamp.
pub fn emergency() -> Emergency {
    pl011::console_fallback(FALLBACK_PL011);
    Emergency { at_line_start: true, report_start: LOG_BUF.counters().head }
}

/// See `emergency`.
pub struct Emergency {
    at_line_start: bool,
    /// Where this report starts in the log buffer.
    report_start: u64,
}

impl Emergency {
    /// On a console quieter than the default, the last lines logged before this report:
    /// what the console may not have shown.
    pub fn replay_log(&mut self) {
        let level = CONSOLE_LOGLEVEL.load(Ordering::Relaxed);
        if level >= kernel::cmdline::CONSOLE_LOGLEVEL_DEFAULT {
            return;
        }
        let from = LOG_BUF.last_lines_start(REPLAY_LINES, self.report_start);
        let n = LOG_BUF.lines_in(from, self.report_start);
        let _ = writeln!(self, "---[ log buffer: the last {n} lines before this report (console loglevel {level}) ]---");
        let _ = LOG_BUF.write_range(from, self.report_start, &mut Console);
    }
}

impl Write for Emergency {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for piece in s.split_inclusive('\n') {
            if self.at_line_start {
                let ts = Timestamp::from_ticks(timer::ticks(), timer::frequency());
                write!(Console, "{ts}")?;
                LOG_BUF.write_fmt(format_args!("{ts}"));
            }
            Console.write_str(piece)?;
            LOG_BUF.write_str(piece);
            self.at_line_start = piece.ends_with('\n');
        }
        Ok(())
    }
}

struct Printk;

impl log::Log for Printk {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        console_prints(metadata, CONSOLE_LOGLEVEL.load(Ordering::Relaxed), DYNDBG.load(Ordering::Relaxed))
    }

    fn log(&self, record: &log::Record) {
        // One timestamp for both: the buffer holds the console's line byte for byte.
        let ts = Timestamp::from_ticks(timer::ticks(), timer::frequency());
        let message = kernel::printk::LineMax(*record.args());
        if logged(record.level(), DYNDBG.load(Ordering::Relaxed)) {
            LOG_BUF.push_line(ts, format_args!("{message}"));
        }
        if self.enabled(record.metadata()) {
            let _ = write!(Console, "{ts}{message}\n");
        }
    }

    fn flush(&self) {
        Console::flush();
    }
}

static LOGGER: Printk = Printk;

/// Route `log` records to the console at `loglevel`.
pub fn init_log(loglevel: u8, dyndbg: bool) {
    CONSOLE_LOGLEVEL.store(loglevel, Ordering::Relaxed);
    DYNDBG.store(dyndbg, Ordering::Relaxed);
    let _ = log::set_logger(&LOGGER);
    // Without dynamic debug a `pr_debug` line (`trace`) is neither printed nor logged: the
    // macro's own level check then skips it before its arguments are built.
    log::set_max_level(if dyndbg { log::LevelFilter::Trace } else { log::LevelFilter::Debug });
}
