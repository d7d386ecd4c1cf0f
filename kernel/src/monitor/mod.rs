//! The console monitor: after the boot, with the `monitor` option, the kernel reads commands
//! from the serial console and answers them, instead of powering off. It stands in for what a
//! Linux user reads from a shell: `dmesg`, `/sys/kernel/debug/memblock`, `/proc/iomem`,
//! `/proc/buddyinfo`, `/proc/zoneinfo`, `kernel_page_tables`, plus `alloc`/`free` to watch the
//! buddy allocator split and merge blocks.
//!
//! This module is the platform-free part: the line editor ([`line`]), parsing ([`parse`]),
//! the table of blocks `alloc` handed out ([`Allocations`]), and each command's output
//! ([`Monitor::run_line`], with the `/proc` formats in [`procfs`]). What needs the machine
//! (the log buffer, the live page tables, the page allocator behind its lock) comes through
//! [`Machine`]. It never frees a block it did not allocate itself.

use core::fmt::{self, Write};

use crate::mm::buddy::{FreePageLinks, Zones, ZoneType, MAX_ORDER};
use crate::mm::memblock::Memblock;
use crate::mm::{Pfn, PhysAddr, PAGE_SHIFT};
use crate::of::fdt::Fdt;
use crate::of::reserved_mem::ReservedMemTable;

pub mod line;
pub mod procfs;

#[cfg(test)]
mod tests;

/// What the monitor prints when it waits for a command.
pub const PROMPT: &str = "memboot> ";

/// The commands and their one-line help, in the order `help` lists them.
pub const HELP: &[(&str, &str)] = &[
    ("help", "this list"),
    ("dmesg", "the kernel log buffer"),
    ("memblock", "memblock's memory and reserved arrays (the memblock=debug dump)"),
    ("iomem", "physical memory map, as /proc/iomem"),
    ("buddyinfo", "free blocks per order, as /proc/buddyinfo"),
    ("zoneinfo", "per zone: pages free, spanned, present, managed; free blocks per order"),
    ("rmem", "the /reserved-memory regions: name, range, no-map/reusable, hook"),
    ("memmap", "physical memory map at the end of mem_init: every range and its owner"),
    ("ptdump [START END]", "the kernel page tables, or the part in [START, END)"),
    ("alloc ORDER [dma|dma32|normal]", "allocate 2^ORDER pages (highest zone: normal)"),
    ("free PFN ORDER", "free a block that alloc returned"),
    ("poweroff", "power the machine off"),
];

/// A parsed command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Dmesg,
    Memblock,
    Iomem,
    Buddyinfo,
    Zoneinfo,
    Rmem,
    Memmap,
    /// `None`: the whole dump; else `[start, end)`.
    Ptdump(Option<(u64, u64)>),
    Alloc { order: u32, highest: ZoneType },
    Free { pfn: Pfn, order: u32 },
    Poweroff,
    /// An empty line: just the prompt again.
    Nothing,
}

/// Why a line is not a command. Printed as one line after `monitor: `.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError<'a> {
    Unknown(&'a str),
    /// `cmd` needs the argument `what`.
    Missing { cmd: &'a str, what: &'static str },
    /// Arguments after the last one `cmd` takes.
    TooMany { cmd: &'a str, extra: &'a str },
    /// `what` is not a number (decimal, or hex with 0x).
    BadNumber { what: &'static str, value: &'a str },
    /// An order of `MAX_ORDER` or more.
    BadOrder(u32),
    BadZone(&'a str),
    /// `ptdump START END` with the ends reversed, equal, or in different halves.
    BadRange(u64, u64),
}

impl fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ParseError::Unknown(w) => write!(f, "unknown command '{w}' (try 'help')"),
            ParseError::Missing { cmd, what } => write!(f, "{cmd}: missing {what} (try 'help')"),
            ParseError::TooMany { cmd, extra } => write!(f, "{cmd}: unexpected argument '{extra}'"),
            ParseError::BadNumber { what, value } => {
                write!(f, "{what} '{value}' is not a number (decimal, or hex with 0x)")
            }
            ParseError::BadOrder(o) => write!(f, "order {o} out of range 0..={}", MAX_ORDER - 1),
            ParseError::BadZone(z) => write!(f, "unknown zone '{z}' (dma, dma32 or normal)"),
            ParseError::BadRange(s, e) => {
                write!(f, "ptdump: [0x{s:016x}, 0x{e:016x}) is not a range inside one half of the address space")
            }
        }
    }
}

/// A number as the monitor prints them: `0x` hex, or decimal.
fn number<'a>(what: &'static str, value: &'a str) -> Result<u64, ParseError<'a>> {
    let parsed = match value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    parsed.map_err(|_| ParseError::BadNumber { what, value })
}

fn order(value: &str) -> Result<u32, ParseError<'_>> {
    let o = number("order", value)?;
    match u32::try_from(o) {
        Ok(o) if o < MAX_ORDER => Ok(o),
        _ => Err(ParseError::BadOrder(o.min(u32::MAX as u64) as u32)),
    }
}

/// Parse one line (words separated by spaces or tabs).
pub fn parse(line: &str) -> Result<Command, ParseError<'_>> {
    let mut words = line.split_ascii_whitespace();
    let Some(cmd) = words.next() else { return Ok(Command::Nothing) };
    let mut arg = |what| words.next().ok_or(ParseError::Missing { cmd, what });
    let command = match cmd {
        "help" => Command::Help,
        "dmesg" => Command::Dmesg,
        "memblock" => Command::Memblock,
        "iomem" => Command::Iomem,
        "buddyinfo" => Command::Buddyinfo,
        "zoneinfo" => Command::Zoneinfo,
        "rmem" => Command::Rmem,
        "memmap" => Command::Memmap,
        "poweroff" => Command::Poweroff,
        "ptdump" => match arg("START") {
            Err(_) => Command::Ptdump(None),
            Ok(start) => {
                let start = number("START", start)?;
                let end = number("END", arg("END")?)?;
                if !crate::mm::pgtable::ptdump::range_is_valid(start, end) {
                    return Err(ParseError::BadRange(start, end));
                }
                Command::Ptdump(Some((start, end)))
            }
        },
        "alloc" => {
            let order = order(arg("ORDER")?)?;
            let highest = match words.next() {
                None | Some("normal") => ZoneType::Normal,
                Some("dma32") => ZoneType::Dma32,
                Some("dma") => ZoneType::Dma,
                Some(z) => return Err(ParseError::BadZone(z)),
            };
            Command::Alloc { order, highest }
        }
        "free" => {
            let pfn = Pfn(number("PFN", arg("PFN")?)?);
            let order = order(arg("ORDER")?)?;
            Command::Free { pfn, order }
        }
        other => return Err(ParseError::Unknown(other)),
    };
    match words.next() {
        Some(extra) => Err(ParseError::TooMany { cmd, extra }),
        None => Ok(command),
    }
}

/// Blocks `alloc` handed out and `free` has not yet returned.
pub const MAX_ALLOCATIONS: usize = 32;

/// The monitor's own allocations: `free` takes back only what is listed here, with the order
/// it was allocated with.
#[derive(Clone, Debug, Default)]
pub struct Allocations {
    slots: [Option<(Pfn, u32)>; MAX_ALLOCATIONS],
}

/// Why `free` refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeRefused {
    /// No block of the monitor's starts at this frame.
    NotAllocated(Pfn),
    /// The block at this frame was allocated with another order.
    OtherOrder { pfn: Pfn, allocated: u32 },
}

impl fmt::Display for FreeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FreeRefused::NotAllocated(pfn) => {
                write!(f, "free: pfn {:#x} was not allocated by 'alloc'; refusing to free it", pfn.0)
            }
            FreeRefused::OtherOrder { pfn, allocated } => {
                write!(f, "free: pfn {:#x} was allocated with order {allocated}; free it with that order", pfn.0)
            }
        }
    }
}

impl Allocations {
    pub fn is_full(&self) -> bool {
        self.slots.iter().all(Option::is_some)
    }

    /// Note a block; `false` when the table is full (check [`is_full`](Self::is_full) first).
    pub fn record(&mut self, pfn: Pfn, order: u32) -> bool {
        match self.slots.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some((pfn, order));
                true
            }
            None => false,
        }
    }

    /// Whether `free pfn order` may go ahead.
    pub fn check(&self, pfn: Pfn, order: u32) -> Result<(), FreeRefused> {
        match self.slots.iter().flatten().find(|(p, _)| *p == pfn) {
            Some(&(_, o)) if o == order => Ok(()),
            Some(&(_, allocated)) => Err(FreeRefused::OtherOrder { pfn, allocated }),
            None => Err(FreeRefused::NotAllocated(pfn)),
        }
    }

    /// Forget the block at `pfn`.
    pub fn remove(&mut self, pfn: Pfn) {
        for s in self.slots.iter_mut().filter(|s| s.is_some_and(|(p, _)| p == pfn)) {
            *s = None;
        }
    }

    /// The blocks held, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (Pfn, u32)> + '_ {
        self.slots.iter().flatten().copied()
    }
}

/// What the monitor needs from the running kernel.
pub trait Machine {
    type Links: FreePageLinks;
    /// Run `f` on the page allocator; `false` when it is not available (not installed, or busy).
    fn with_zones(&mut self, f: &mut dyn FnMut(&mut Zones<'_, Self::Links>)) -> bool;
    /// Write the log buffer as `dmesg` prints it.
    fn dmesg(&mut self, out: &mut dyn Write) -> fmt::Result;
    /// Write the kernel page table dump, whole or of `[start, end)`.
    fn ptdump(&mut self, range: Option<(u64, u64)>, out: &mut dyn Write) -> fmt::Result;
}

/// The boot's state the monitor reads: memblock (closed, its arrays kept), the reserved-memory
/// table, the device tree it came from, and where the kernel image lies.
pub struct Facts<'f, 'a> {
    /// What the memory map is made of (`memmap`); `None` when the boot did not keep it.
    pub map: Option<&'f crate::memmap::MapFacts<'f, 'a>>,
    pub memblock: &'f Memblock,
    pub rmem: &'f ReservedMemTable<'a>,
    pub fdt: &'f Fdt<'a>,
    /// `[_stext, __init_begin)` as physical addresses (Linux's `kernel_code` resource): text
    /// and rodata.
    pub kernel_code: (PhysAddr, PhysAddr),
    /// `[_sdata, _end)` as physical addresses (Linux's `kernel_data`).
    pub kernel_data: (PhysAddr, PhysAddr),
}

/// Whether the monitor goes on after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    PowerOff,
}

/// The monitor's state between commands.
#[derive(Clone, Debug, Default)]
pub struct Monitor {
    allocs: Allocations,
}

/// Write `args` then a newline (the closure form the `mm` printers take).
fn line_to(out: &mut dyn Write) -> impl FnMut(fmt::Arguments<'_>) + '_ {
    move |args| {
        let _ = writeln!(out, "{args}");
    }
}

impl Monitor {
    pub fn new() -> Monitor {
        Monitor::default()
    }

    /// The blocks `alloc` handed out and not yet freed.
    pub fn allocations(&self) -> &Allocations {
        &self.allocs
    }

    /// Run a line from the [`line::LineEditor`]: one too long is refused with a message.
    pub fn run_typed<M: Machine>(&mut self, line: &line::Line, facts: &Facts, machine: &mut M, out: &mut dyn Write) -> Flow {
        match line.text() {
            Some(text) => self.run_line(text, facts, machine, out),
            None => {
                let _ = writeln!(out, "monitor: line too long (at most {} characters)", line::MAX_LINE);
                Flow::Continue
            }
        }
    }

    /// Parse and run one line, writing its output (or its one-line error) to `out`.
    pub fn run_line<M: Machine>(&mut self, line: &str, facts: &Facts, machine: &mut M, out: &mut dyn Write) -> Flow {
        match parse(line) {
            Ok(cmd) => {
                let _ = self.run(cmd, facts, machine, out);
                if cmd == Command::Poweroff {
                    Flow::PowerOff
                } else {
                    Flow::Continue
                }
            }
            Err(e) => {
                let _ = writeln!(out, "monitor: {e}");
                Flow::Continue
            }
        }
    }

    fn run<M: Machine>(&mut self, cmd: Command, facts: &Facts, machine: &mut M, out: &mut dyn Write) -> fmt::Result {
        let unavailable = "monitor: the page allocator is not available";
        match cmd {
            Command::Nothing | Command::Poweroff => Ok(()),
            Command::Help => {
                for (usage, what) in HELP {
                    writeln!(out, "  {usage:<32} {what}")?;
                }
                Ok(())
            }
            Command::Dmesg => machine.dmesg(out),
            Command::Memblock => {
                facts.memblock.dump_to(&mut line_to(out));
                Ok(())
            }
            Command::Iomem => procfs::iomem(facts, &mut line_to(out)),
            Command::Rmem => procfs::rmem(facts, &mut line_to(out)),
            Command::Memmap => match facts.map {
                Some(map) => {
                    crate::memmap::fmt_map(map, &mut line_to(out));
                    Ok(())
                }
                None => writeln!(out, "monitor: memmap: the boot kept no memory map"),
            },
            Command::Buddyinfo => {
                if !machine.with_zones(&mut |z| z.fmt_buddyinfo(&mut line_to(out))) {
                    writeln!(out, "{unavailable}")?;
                }
                Ok(())
            }
            Command::Zoneinfo => {
                if !machine.with_zones(&mut |z| procfs::zoneinfo(z, &mut line_to(out))) {
                    writeln!(out, "{unavailable}")?;
                }
                Ok(())
            }
            Command::Ptdump(range) => machine.ptdump(range, out),
            Command::Alloc { order, highest } => {
                if self.allocs.is_full() {
                    return writeln!(out, "monitor: alloc: {MAX_ALLOCATIONS} blocks held already; free one first");
                }
                let mut result = None;
                if !machine.with_zones(&mut |z| {
                    result = Some(z.alloc_pages(order, highest).map(|pfn| {
                        let zone = z.zones().find(|zone| zone.spans(pfn.0)).map_or("?", |zone| zone.name());
                        (pfn, zone)
                    }))
                }) {
                    return writeln!(out, "{unavailable}");
                }
                match result {
                    Some(Ok((pfn, zone))) => {
                        self.allocs.record(pfn, order);
                        writeln!(
                            out,
                            "alloc: order {order} ({} pages) at pfn {:#x}, pa 0x{:016x}, zone {zone}",
                            1u64 << order,
                            pfn.0,
                            pfn.0 << PAGE_SHIFT
                        )
                    }
                    Some(Err(e)) => writeln!(out, "monitor: alloc: {e}"),
                    None => Ok(()),
                }
            }
            Command::Free { pfn, order } => {
                if let Err(refused) = self.allocs.check(pfn, order) {
                    return writeln!(out, "monitor: {refused}");
                }
                let mut result = None;
                if !machine.with_zones(&mut |z| result = Some(z.free_pages(pfn, order))) {
                    return writeln!(out, "{unavailable}");
                }
                match result {
                    Some(Ok(())) => {
                        self.allocs.remove(pfn);
                        writeln!(out, "free: order {order} ({} pages) at pfn {:#x}", 1u64 << order, pfn.0)
                    }
                    Some(Err(e)) => writeln!(out, "monitor: free: {e}"),
                    None => Ok(()),
                }
            }
        }
    }
}
