//! The console monitor's I/O: the `monitor` boot option ends the boot here instead of in
//! power-off. Bytes come from the console UART's receive FIFO (polled: the kernel takes no
//! interrupts), the line editor and the commands are `kernel::monitor`'s; this file only
//! connects them to the console, the log buffer, the live page tables and the page allocator.
//! It returns only through `poweroff`.

use core::fmt::{self, Write};
use kernel::mm::buddy::{ArrayLinks, Zones};
use kernel::mm::PhysAddr;
use kernel::monitor::line::LineEditor;
use kernel::monitor::{Facts, Flow, Machine, Monitor, PROMPT};

use crate::console::{Console, LOG_BUF};

/// The running kernel, as the monitor sees it.
struct Kernel {
    /// Root of the kernel's page tables (what TTBR1 holds).
    root: PhysAddr,
}

impl Machine for Kernel {
    type Links = ArrayLinks<'static>;

    fn with_zones(&mut self, f: &mut dyn FnMut(&mut Zones<'_, ArrayLinks<'static>>)) -> bool {
        crate::page_alloc::with(|z| f(z)).is_some()
    }

    fn dmesg(&mut self, out: &mut dyn Write) -> fmt::Result {
        let c = LOG_BUF.counters();
        LOG_BUF.write_range(c.tail, c.head, out)
    }

    fn ptdump(&mut self, range: Option<(u64, u64)>, out: &mut dyn Write) -> fmt::Result {
        use kernel::mm::pgtable;
        let tables = crate::arch::mmu::LinearTables;
        let mut line = |args: fmt::Arguments<'_>| {
            let _ = writeln!(out, "{args}");
        };
        match range {
            None => pgtable::dump(&tables, self.root, &kernel::arm64::PTDUMP_MARKERS, &mut line),
            // The parser only lets valid ranges through.
            Some(r) => {
                pgtable::dump_range(&tables, self.root, r, &mut line);
            }
        }
        Ok(())
    }
}

/// Serve commands on the console until `poweroff`.
pub fn run(facts: &Facts, root: PhysAddr) -> ! {
    let mut machine = Kernel { root };
    let mut monitor = Monitor::new();
    let mut editor = LineEditor::new();
    let _ = writeln!(Console, "monitor: type 'help' for the commands");
    loop {
        let _ = Console.write_str(PROMPT);
        let line = loop {
            if let Some(line) = editor.feed(Console::read_byte(), &mut Console) {
                break line;
            }
        };
        let flow = monitor.run_typed(&line, facts, &mut machine, &mut Console);
        if flow == Flow::PowerOff {
            crate::power_off();
        }
    }
}
