//! `/chosen` and the root properties the first boot lines need: the console named by
//! `stdout-path`, `bootargs`, `/model`.
//!
//! Linux resolves `stdout-path` in `of_alias_scan`: the part before `:` is a path, or an alias
//! from `/aliases` when it does not start with `/`; the rest is console options.

use crate::mm::PhysAddr;
use crate::of::cells::Cells;
use crate::of::fdt::{Fdt, Node};
use core::fmt;

/// Compatible strings of the one UART driver the kernel has.
pub const PL011_COMPATIBLE: &str = "arm,pl011";

/// A console found in the device tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleNode<'a> {
    /// Full path of the node, e.g. `/pl011@9000000`.
    pub path: &'a str,
    pub base: PhysAddr,
    pub size: u64,
    /// Console options after `:` in `stdout-path`, e.g. `115200n8`.
    pub options: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleError<'a> {
    /// `/chosen/stdout-path` is absent.
    NoStdoutPath,
    /// `stdout-path` names a node (or alias) that does not exist.
    NotFound(&'a str),
    /// The node is not a PL011.
    Unsupported(&'a str),
    /// The node has no `reg` that its cells decode.
    NoReg(&'a str),
}

impl fmt::Display for ConsoleError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::NoStdoutPath => write!(f, "no /chosen/stdout-path"),
            ConsoleError::NotFound(p) => write!(f, "stdout-path '{p}' names no node"),
            ConsoleError::Unsupported(p) => {
                write!(f, "stdout-path node '{p}' is not compatible with \"{PL011_COMPATIBLE}\"")
            }
            ConsoleError::NoReg(p) => write!(f, "stdout-path node '{p}' has no usable reg property"),
        }
    }
}

/// The raw `stdout-path` value split into (path or alias, options).
pub fn stdout_path<'a>(fdt: &Fdt<'a>) -> Option<(&'a str, Option<&'a str>)> {
    let value = fdt.chosen()?.property("stdout-path")?.as_str()?;
    Some(match value.split_once(':') {
        Some((path, opts)) => (path, Some(opts)),
        None => (value, None),
    })
}

/// The console that `/chosen/stdout-path` names.
pub fn stdout_console<'a>(fdt: &Fdt<'a>) -> Result<ConsoleNode<'a>, ConsoleError<'a>> {
    let (name, options) = stdout_path(fdt).ok_or(ConsoleError::NoStdoutPath)?;
    let path = if name.starts_with('/') {
        name
    } else {
        fdt.find_node("/aliases")
            .and_then(|a| a.property(name))
            .and_then(|p| p.as_str())
            .ok_or(ConsoleError::NotFound(name))?
    };
    let node = fdt.find_node(path).ok_or(ConsoleError::NotFound(path))?;
    console_from_node(path, node, options)
}

/// The first enabled PL011 in the tree: the fallback when `stdout-path` is missing.
pub fn first_pl011<'a>(fdt: &Fdt<'a>) -> Option<ConsoleNode<'a>> {
    fdt.all_nodes()
        .filter(|n| is_available(n))
        .find(|n| n.is_compatible(PL011_COMPATIBLE))
        .and_then(|n| console_from_node(n.name, n, None).ok())
}

fn console_from_node<'a>(
    path: &'a str,
    node: Node<'a>,
    options: Option<&'a str>,
) -> Result<ConsoleNode<'a>, ConsoleError<'a>> {
    if !node.is_compatible(PL011_COMPATIBLE) {
        return Err(ConsoleError::Unsupported(path));
    }
    let (base, size) = node.reg().and_then(|r| r.ok()?.next()).ok_or(ConsoleError::NoReg(path))?;
    Ok(ConsoleNode { path, base: PhysAddr(base), size, options })
}

/// Linux's `of_fdt_device_is_available`: no `status`, or `status` is "okay"/"ok". Linux
/// compares the value with `strcmp`, up to its first NUL: an empty `status` (or one that is
/// not text) is present and not "okay", so the node is not available.
pub fn is_available(node: &Node) -> bool {
    match node.property("status") {
        None => true,
        Some(p) => {
            let text = p.value.split(|&c| c == 0).next().unwrap_or_default();
            text == b"okay" || text == b"ok"
        }
    }
}

/// arm64's `COMMAND_LINE_SIZE`: the command line's buffer, its NUL included.
pub const COMMAND_LINE_SIZE: usize = 2048;

/// The most bytes a command line of `COMMAND_LINE_SIZE - 1` bytes takes with each one shown as
/// U+FFFD (three bytes in UTF-8).
const SHOWN_MAX: usize = 3 * (COMMAND_LINE_SIZE - 1);

/// The command line as text: `/chosen/bootargs` itself when it is UTF-8, else a copy with
/// each byte (maximal invalid sequence) that is not shown as U+FFFD. Linux keeps such bytes
/// and prints them raw; read back with replacement they show as the same U+FFFD. Nothing
/// around them is lost: a word holding one is an unknown parameter in both, and a number is
/// read up to it as Linux reads it up to the byte.
pub enum CommandLine<'a> {
    Blob(&'a str),
    Shown { bytes: [u8; SHOWN_MAX], len: usize },
}

impl CommandLine<'_> {
    pub fn as_str(&self) -> &str {
        match self {
            CommandLine::Blob(s) => s,
            // Built from whole UTF-8 pieces below.
            CommandLine::Shown { bytes, len } => core::str::from_utf8(&bytes[..*len]).unwrap_or_default(),
        }
    }
}

/// `/chosen/bootargs` as `early_init_dt_scan_chosen` copies it
/// (`strlcpy(cmdline, p, min(l, COMMAND_LINE_SIZE))`): up to its first NUL, and at most one
/// byte less than the property's length or [`COMMAND_LINE_SIZE`], so a value without its NUL
/// loses its last byte and a longer line is cut at 2047 bytes. Empty when absent (Linux then
/// prints an empty command line).
pub fn bootargs<'a>(fdt: &Fdt<'a>) -> CommandLine<'a> {
    let Some(value) = fdt.chosen().and_then(|c| c.property("bootargs")).map(|p| p.value) else {
        return CommandLine::Blob("");
    };
    let copied = &value[..value.len().min(COMMAND_LINE_SIZE).saturating_sub(1)];
    let text = copied.split(|&c| c == 0).next().unwrap_or_default();
    if let Ok(s) = core::str::from_utf8(text) {
        return CommandLine::Blob(s);
    }
    let (mut bytes, mut len) = ([0; SHOWN_MAX], 0);
    for chunk in text.utf8_chunks() {
        let shown = if chunk.invalid().is_empty() { "" } else { "\u{fffd}" };
        for piece in [chunk.valid(), shown] {
            bytes[len..len + piece.len()].copy_from_slice(piece.as_bytes());
            len += piece.len();
        }
    }
    CommandLine::Shown { bytes, len }
}

/// The `/chosen` properties Debian's Linux 6.1 `efi_get_fdt_params` reads, in its order: the
/// system table, the memory map (start, size, descriptor size and version), and the secure
/// boot state (Debian's kernel asks for it too: booted, it names it when it is missing).
pub const UEFI_PARAMS: [&str; 6] = [
    "linux,uefi-system-table",
    "linux,uefi-mmap-start",
    "linux,uefi-mmap-size",
    "linux,uefi-mmap-desc-size",
    "linux,uefi-mmap-desc-ver",
    "linux,uefi-secure-boot",
];

/// What `efi_get_fdt_params` makes of `/chosen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UefiParams {
    /// No system table (or no `/chosen`): "UEFI not found."
    NotFound,
    /// A system table, but this later property is missing: Linux says so and boots without
    /// UEFI.
    Missing(&'static str),
    /// All of them: Linux boots through UEFI (its memory map, not the memory nodes).
    Found,
}

/// [`UefiParams`] for this tree.
pub fn uefi_params(fdt: &Fdt) -> UefiParams {
    let Some(chosen) = fdt.chosen() else { return UefiParams::NotFound };
    match UEFI_PARAMS.iter().position(|p| chosen.property(p).is_none()) {
        Some(0) => UefiParams::NotFound,
        Some(i) => UefiParams::Missing(UEFI_PARAMS[i]),
        None => UefiParams::Found,
    }
}

/// The root `model`, or failing that the root `compatible`, as the C string Linux's
/// `of_flat_dt_get_machine_name` prints: up to the first NUL, so an empty `model = ""` is an
/// empty name (not the compatible), and a list gives its first string. `None` when neither is
/// there, or the name is not UTF-8.
pub fn machine_name<'a>(fdt: &Fdt<'a>) -> Option<&'a str> {
    let root = fdt.root()?;
    let value = root.property("model").or_else(|| root.property("compatible"))?.value;
    let name = value.split(|&c| c == 0).next().unwrap_or(value);
    core::str::from_utf8(name).ok()
}

/// `/chosen/linux,initrd-start` and `-end`, as Linux's `early_init_dt_check_for_initrd`:
/// both must be present, each read as `of_read_number(prop, len / 4)`: its whole cells (a
/// trailing partial cell is not read; no cell reads as 0), each shifted into a `u64`, so a
/// 32-bit value is that value and of more than two cells the last two remain. An end below
/// the start is no initrd (Linux returns before setting `phys_initrd_size`). Returns
/// `[start, end)`.
pub fn initrd(fdt: &Fdt) -> Option<(PhysAddr, PhysAddr)> {
    let chosen = fdt.chosen()?;
    let number = |name| chosen.property(name).map(|p| of_read_number(p.value));
    let (start, end) = (number("linux,initrd-start")?, number("linux,initrd-end")?);
    (start <= end).then_some((PhysAddr(start), PhysAddr(end)))
}

/// Linux's `of_read_number(value, len / 4)`: the value's whole big-endian cells, each shifted
/// into a `u64` (cells before the last two fall off the top).
fn of_read_number(value: &[u8]) -> u64 {
    crate::of::cells::number(&value[..value.len() / 4 * 4])
}

/// Linux's `MAX_USABLE_RANGES`.
pub const MAX_USABLE_RANGES: usize = 2;

/// `/chosen/linux,usable-memory-range` (what a crash kernel is given), as Linux's
/// `early_init_dt_check_for_usable_mem_range` reads it: up to two `(base, size)` entries in
/// the root's cells; none when absent or when the cells cannot decode it. Linux returns
/// silently when the byte length is not a multiple of the cell count and reads on past the
/// value when it is one but not a whole number of entries; here every such value is refused
/// with a line saying why.
pub fn usable_memory_ranges(fdt: &Fdt, cells: Cells) -> [(u64, u64); MAX_USABLE_RANGES] {
    let mut out = [(0, 0); MAX_USABLE_RANGES];
    let Some(prop) = fdt.chosen().and_then(|c| c.property("linux,usable-memory-range")) else {
        return out;
    };
    match cells.reg(prop.value) {
        Ok(entries) => out.iter_mut().zip(entries).for_each(|(slot, entry)| *slot = entry),
        Err(e) => crate::warn!("OF: fdt: invalid {} property in '/chosen', ignoring it: {e}", prop.name),
    }
    out
}

/// `/chosen/linux,elfcorehdr` (the crash dump's ELF header, given to a crash kernel), as
/// Linux's `early_init_dt_check_for_elfcorehdr` reads it: the first `(address, size)` entry in
/// the root's cells. Linux checks the length against the number of cells, not bytes, and reads
/// past a shorter value; here a value shorter than one entry (or that the cells cannot decode)
/// is refused with a line saying why.
pub fn elfcorehdr(fdt: &Fdt, cells: Cells) -> Option<(u64, u64)> {
    let prop = fdt.chosen()?.property("linux,elfcorehdr")?;
    if prop.value.len() < ((cells.addr + cells.size) as usize) {
        return None;
    }
    let entry = (cells.addr + cells.size) as usize * 4;
    let first = prop.value.get(..entry).map(|v| cells.reg(v));
    match first {
        Some(Ok(mut reg)) => reg.next(),
        Some(Err(e)) => {
            crate::warn!("OF: fdt: invalid {} property in '/chosen', ignoring it: {e}", prop.name);
            None
        }
        None => {
            crate::warn!(
                "OF: fdt: invalid {} property in '/chosen', ignoring it: its {} bytes are less than one {entry}-byte entry (Linux reads past it)",
                prop.name,
                prop.value.len()
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::of::testblob::{cells, Builder};
    use std::vec::Vec;

    /// A root (2/2 cells) with `/chosen` (its `stdout-path` when given), `/aliases` with
    /// `serial0 = "/pl011@9000000"`, an enabled PL011 at 0x0900_0000 (4 KiB), a disabled one
    /// at 0x0a00_0000 ahead of it, a `/virtio` that is not a PL011 and a `/noreg` PL011
    /// without `reg`.
    fn tree(stdout_path: Option<&str>) -> Vec<u8> {
        let mut b = Builder::new();
        b.begin("");
        b.prop("#address-cells", &2u32.to_be_bytes());
        b.prop("#size-cells", &2u32.to_be_bytes());
        b.begin("chosen");
        if let Some(p) = stdout_path {
            b.prop("stdout-path", &[p.as_bytes(), b"\0"].concat());
        }
        b.end();
        b.begin("aliases");
        b.prop("serial0", b"/pl011@9000000\0");
        b.end();
        for (name, base, status) in [("pl011@a000000", 0x0a00_0000, Some("disabled")), ("pl011@9000000", 0x0900_0000, None)] {
            b.begin(name);
            b.prop("compatible", b"arm,pl011\0arm,primecell\0");
            b.prop("reg", &cells(base, 0x1000));
            if let Some(s) = status {
                b.prop("status", &[s.as_bytes(), b"\0"].concat());
            }
            b.end();
        }
        b.begin("virtio");
        b.prop("compatible", b"virtio,mmio\0");
        b.prop("reg", &cells(0x0a00_3000, 0x200));
        b.end();
        b.begin("noreg");
        b.prop("compatible", b"arm,pl011\0");
        b.end();
        b.end();
        b.finish(&[])
    }

    fn console(stdout_path: Option<&str>) -> Result<(&'static str, u64, u64, Option<&'static str>), std::string::String> {
        let blob = std::boxed::Box::leak(tree(stdout_path).into_boxed_slice());
        let fdt = Fdt::new(blob).unwrap();
        stdout_console(&fdt).map(|c| (c.path, c.base.0, c.size, c.options)).map_err(|e| std::string::ToString::to_string(&e))
    }

    /// `stdout-path` is a path or an alias, then options after ':'; the node must be a PL011
    /// with a `reg`.
    #[test]
    fn stdout_path_names_the_console_by_path_or_alias() {
        let pl011 = Ok(("/pl011@9000000", 0x0900_0000, 0x1000, Some("115200n8")));
        assert_eq!(console(Some("/pl011@9000000:115200n8")), pl011);
        assert_eq!(console(Some("serial0:115200n8")), pl011);
        assert_eq!(console(Some("serial0")), Ok(("/pl011@9000000", 0x0900_0000, 0x1000, None)));
        assert_eq!(console(None), Err("no /chosen/stdout-path".into()));
        assert_eq!(console(Some("serial1")), Err("stdout-path 'serial1' names no node".into()));
        assert_eq!(console(Some("/uart@1000")), Err("stdout-path '/uart@1000' names no node".into()));
        assert_eq!(console(Some("/virtio")), Err("stdout-path node '/virtio' is not compatible with \"arm,pl011\"".into()));
        assert_eq!(console(Some("/noreg")), Err("stdout-path node '/noreg' has no usable reg property".into()));
    }

    /// `bootargs` is `/chosen/bootargs` without its NUL, empty when `/chosen` has none or
    /// there is no `/chosen`.
    #[test]
    fn bootargs_is_the_chosen_property_or_empty() {
        let with = |chosen: Option<&[u8]>| {
            let mut b = Builder::new();
            b.begin("");
            if let Some(args) = chosen {
                b.begin("chosen");
                if !args.is_empty() {
                    b.prop("bootargs", args);
                }
                b.end();
            }
            b.end();
            b.finish(&[])
        };
        let args = |blob: &[u8]| bootargs(&Fdt::new(blob).unwrap()).as_str().to_string();
        assert_eq!(args(&with(Some(b"console=ttyAMA0 mem=512M\0"))), "console=ttyAMA0 mem=512M");
        assert_eq!(args(&with(Some(b""))), "");
        assert_eq!(args(&with(None)), "");
        assert_eq!(args(&tree(None)), "");
        // strlcpy(.., min(l, 2048)): without its NUL the value loses its last byte (Debian's
        // 6.1 given `mem=512M` without a NUL prints `Kernel command line: mem=512`); a longer
        // line keeps its first 2047 bytes; the first NUL ends it.
        assert_eq!(args(&with(Some(b"mem=512M"))), "mem=512");
        let long = [b'x'; 2100];
        assert_eq!(args(&with(Some(&long))), "x".repeat(2047));
        assert_eq!(args(&with(Some(b"a b\0c d\0"))), "a b");
        // Bytes that are not UTF-8 show as U+FFFD, one for each maximal invalid sequence (as
        // Python's and Rust's lossy decoding show Linux's raw bytes), and what follows stays:
        // Debian's 6.1 given `mem=512M \xff cma=16M x\xc3=1` limits memory and reserves the
        // CMA area, and calls `\xff` and `x\xc3=1` unknown.
        assert_eq!(args(&with(Some(b"ok \xff\xfe mem=1G\0"))), "ok \u{fffd}\u{fffd} mem=1G");
        assert_eq!(args(&with(Some(b"mem=512M \xff cma=16M x\xc3=1\0"))), "mem=512M \u{fffd} cma=16M x\u{fffd}=1");
        assert_eq!(args(&with(Some(b"a\xe2\x82b\0"))), "a\u{fffd}b");
        let worst = [0xffu8; 2100];
        assert_eq!(args(&with(Some(&worst))), "\u{fffd}".repeat(2047));
    }

    /// Without `stdout-path`, the first PL011 that is available: the disabled one at
    /// 0x0a00_0000 comes first in the tree and is skipped.
    #[test]
    fn the_fallback_is_the_first_enabled_pl011() {
        let blob = tree(None);
        let fdt = Fdt::new(&blob).unwrap();
        let c = first_pl011(&fdt).unwrap();
        assert_eq!((c.base, c.size, c.options), (PhysAddr(0x0900_0000), 0x1000, None));
    }

    /// `linux,usable-memory-range` in the root's cells: its first two entries; nothing when it
    /// is absent or its length is not a whole number of entries.
    #[test]
    fn usable_memory_ranges_are_the_first_two_entries() {
        let with = |value: Option<&[u8]>| {
            let mut b = Builder::new();
            b.begin("");
            b.begin("chosen");
            if let Some(v) = value {
                b.prop("linux,usable-memory-range", v);
            }
            b.end();
            b.end();
            b.finish(&[])
        };
        let ranges = |blob: &[u8]| usable_memory_ranges(&Fdt::new(blob).unwrap(), Cells { addr: 2, size: 2 });
        let three = [cells(0x4000_0000, 0x1000_0000), cells(0x5040_0000, 0x2000), cells(0x6000_0000, 0x1000)].concat();
        assert_eq!(ranges(&with(Some(&three))), [(0x4000_0000, 0x1000_0000), (0x5040_0000, 0x2000)]);
        assert_eq!(ranges(&with(Some(&three[..16]))), [(0x4000_0000, 0x1000_0000), (0, 0)]);
        assert_eq!(ranges(&with(Some(&three[..20]))), [(0, 0); MAX_USABLE_RANGES], "not a whole entry");
        assert_eq!(ranges(&with(None)), [(0, 0); MAX_USABLE_RANGES]);
    }
}
