//! The kernel command line: splitting it as Linux's `next_arg` does and reading the early
//! parameters this kernel knows (`loglevel=`, `quiet`, `debug`, `mem=`, `memblock=debug`, `cma=`,
//! `swiotlb=`, `numa=off`, `cma_pernuma=`, `hugetlb_cma=`, `kernelcore=`, `movablecore=`,
//! `movable_node`, and the kernel-specific `selftest=`, `ptdump`, `buddyinfo`, `monitor`).
//!
//! Unknown parameters are left alone, as Linux leaves them for later handlers. A known
//! parameter with a malformed value is reported with Linux's `Malformed early option '%s'`
//! (from `do_early_param`) and otherwise ignored. What parsing prints ([`EarlyLine`]: those
//! warnings, `early_mem`'s `Memory limited to`, `early_cma`'s complaint) comes out in
//! command-line order, as Linux prints it while `parse_early_param` walks the line.

use core::fmt;

/// Linux's `CONSOLE_LOGLEVEL_DEFAULT`: messages below level 7 (everything but debug) print.
pub const CONSOLE_LOGLEVEL_DEFAULT: u8 = 7;
/// `quiet` sets `CONSOLE_LOGLEVEL_QUIET`.
pub const CONSOLE_LOGLEVEL_QUIET: u8 = 4;
/// `debug` sets `CONSOLE_LOGLEVEL_DEBUG`.
pub const CONSOLE_LOGLEVEL_DEBUG: u8 = 10;

/// Split a command line into `(name, value)` pairs the way Linux's `next_arg` does: spaces
/// separate parameters, double quotes group, `=` splits name and value. Quotes are removed
/// only where `next_arg` removes them: one opening the word (and then one closing it), one
/// opening the value (and then one closing the word); a quote inside stays (`"cma"=32M`
/// names `cma"`, which no handler knows).
pub fn params<'a>(cmdline: &'a str) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
    let mut rest = cmdline;
    core::iter::from_fn(move || {
        rest = rest.trim_start_matches(is_space);
        if rest.is_empty() {
            return None;
        }
        let quoted = rest.starts_with('"');
        let args = &rest[usize::from(quoted)..];
        let mut in_quote = quoted;
        let mut end = args.len();
        // next_arg's `equals`: 0 stands for "none", so an `=` at the very start is no split.
        let mut equals = 0;
        for (i, c) in args.char_indices() {
            if is_space(c) && !in_quote {
                end = i;
                break;
            }
            if equals == 0 && c == '=' {
                equals = i;
            }
            if c == '"' {
                in_quote = !in_quote;
            }
        }
        let word = &args[..end];
        rest = &args[end..];
        // The closing quote of the word goes when the word, or its value, opened with one.
        let unquote = |w: &'a str, opened: bool| if opened { w.strip_suffix('"').unwrap_or(w) } else { w };
        Some(if equals == 0 {
            (unquote(word, quoted), None)
        } else {
            let (name, value) = (&word[..equals], &word[equals + 1..]);
            match value.strip_prefix('"') {
                Some(v) => (name, Some(unquote(v, true))),
                None => (name, Some(unquote(value, quoted))),
            }
        })
    })
}

/// The kernel's `isspace` on ASCII: space, and `\t` through `\r` (with the vertical tab,
/// which Rust's `is_ascii_whitespace` leaves out).
pub(crate) fn is_space(c: char) -> bool {
    c == ' ' || ('\t'..='\r').contains(&c)
}

/// `name` with every `-` read as `_`, as `parameq` compares parameter names
/// (`cma-pernuma` is `cma_pernuma`), in `buf`; a name longer than `buf` (no known parameter
/// is) as it is.
fn dash2underscore<'n>(name: &'n str, buf: &'n mut [u8; 32]) -> &'n str {
    let Some(out) = buf.get_mut(..name.len()) else { return name };
    for (o, b) in out.iter_mut().zip(name.bytes()) {
        *o = if b == b'-' { b'_' } else { b };
    }
    // Only ASCII '-' was replaced by ASCII '_': still UTF-8.
    core::str::from_utf8(out).unwrap_or(name)
}

/// What [`memparse`] read: the value, the text after what was read, and whether the number
/// (or the number times its suffix) did not fit in 64 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memparsed<'a> {
    pub value: u64,
    pub rest: &'a str,
    pub overflowed: bool,
}

/// Linux's `memparse` (lib/cmdline.c) over `simple_strtoull(s, &end, 0)` (lib/vsprintf.c):
/// - the radix: `0x` or `0X` followed by a hex digit is hex (the prefix skipped), any other
///   leading `0` octal (`0x` alone reads as `0`, ending at the `x`), else decimal;
/// - the longest run of digits of that radix; none reads as 0 (`garbage` is 0, not an error);
/// - then one suffix letter K, M, G, T, P or E, either case, multiplies by 2^10 .. 2^60 and
///   is consumed, even after no digits (`memparse("M")` is 0 with nothing left);
/// - it stops there: the rest is handed back (`512MB` is 512 MiB, `rest` = `"B"`).
///
/// Overflow rule: the value is the written number times the suffix modulo 2^64, exactly as
/// Linux computes it (`_parse_integer_limit` notes the overflow but `simple_strtoull` drops
/// the note, and the suffix's `<<=` drops the high bits), so that every caller sees the
/// number Linux's caller sees and prints the same lines (`mem=20E` limits to 4 EiB, as
/// `20 << 60` wraps to `4 << 60`; `mem=16E` is 0, no limit). The wrap is not silent here:
/// `overflowed` says it happened, and `EarlyParams::parse` reports it with the option.
pub fn memparse(s: &str) -> Memparsed<'_> {
    let Memparsed { mut value, mut rest, mut overflowed } = simple_strtoull(s);
    let shift = match rest.as_bytes().first() {
        Some(b'k' | b'K') => 10,
        Some(b'm' | b'M') => 20,
        Some(b'g' | b'G') => 30,
        Some(b't' | b'T') => 40,
        Some(b'p' | b'P') => 50,
        Some(b'e' | b'E') => 60,
        _ => 0,
    };
    if shift != 0 {
        overflowed |= value >> (64 - shift) != 0;
        value <<= shift;
        rest = &rest[1..];
    }
    Memparsed { value, rest, overflowed }
}

/// Linux's `simple_strtoull(s, &end, 0)`: [`memparse`] without the suffix (the radix and
/// wrapping rules are the same); `rest` starts where the digits end.
pub fn simple_strtoull(s: &str) -> Memparsed<'_> {
    let b = s.as_bytes();
    let (digits, radix) = if b.first() == Some(&b'0') {
        if matches!(b.get(1), Some(b'x' | b'X')) && b.get(2).is_some_and(u8::is_ascii_hexdigit) {
            (&s[2..], 16)
        } else {
            (s, 8)
        }
    } else {
        (s, 10)
    };
    let split = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    let (num, rest) = digits.split_at(split);
    let (mut value, mut overflowed) = (0u64, false);
    for d in num.chars().filter_map(|c| c.to_digit(radix)) {
        let next = value.checked_mul(radix as u64).and_then(|v| v.checked_add(d as u64));
        overflowed |= next.is_none();
        value = value.wrapping_mul(radix as u64).wrapping_add(d as u64);
    }
    Memparsed { value, rest, overflowed }
}

/// Linux's `get_option` for one number: an optional `-`, then [`simple_strtoull`], kept as
/// the `int` it is stored in (the low 32 bits); `None` when no digit was read.
pub fn get_option(s: &str) -> Option<i32> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let m = simple_strtoull(digits);
    if m.rest.len() == digits.len() {
        return None;
    }
    let v = m.value as u32 as i32;
    Some(if negative { v.wrapping_neg() } else { v })
}

/// The early parameters, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlyParams<'a> {
    /// Console log level: a message of level `l` prints when `l < loglevel`.
    pub loglevel: u8,
    /// `ignore_loglevel`: every level prints, whatever `loglevel` says (`pr_debug` lines
    /// still need `dyndbg=`). See [`console_loglevel`](Self::console_loglevel).
    pub ignore_loglevel: bool,
    /// `mem=`: the memory limit in bytes, page aligned down, as arm64's `early_mem`.
    pub memory_limit: Option<u64>,
    /// `memblock=debug`.
    pub memblock_debug: bool,
    /// `selftest=NAME`: a self-test to run during boot.
    pub selftest: Option<&'a str>,
    /// `ptdump`: print the kernel page tables after paging_init.
    pub ptdump: bool,
    /// `buddyinfo`: print `/proc/buddyinfo` after mm init.
    pub buddyinfo: bool,
    /// `monitor`: serve the console monitor after the boot instead of powering off.
    pub monitor: bool,
    /// `dyndbg=...` (or `MODULE.dyndbg=...`): print the `pr_debug` lines. Any query turns
    /// all of them on; the kernel has no per-site control.
    pub dyndbg: bool,
    /// `swiotlb=`: the bounce buffer's size and forcing.
    pub swiotlb: crate::mm::swiotlb::SwiotlbParams,
    /// `cma=`: the default CMA area's size, base and limit (`early_cma`).
    pub cma: Option<crate::mm::cma::CmaCmdline>,
    /// `numa=off` (any value starting with `off`): one fake node, whatever the firmware says.
    pub numa_off: bool,
    /// `cma_pernuma=SIZE`: a CMA area of SIZE on every online node (0: none).
    pub cma_pernuma: u64,
    /// `hugetlb_cma=`: CMA for gigantic huge pages.
    pub hugetlb_cma: crate::mm::cma::HugetlbCma,
    /// `kernelcore=`, `movablecore=`, `movable_node`: `ZONE_MOVABLE`.
    pub movable: crate::mm::zone_sizes::MovableParams,
    /// `elfcorehdr=[SIZE@]ADDR`: the crash dump header's address, and its size when given
    /// (`setup_elfcorehdr`), replacing what `/chosen/linux,elfcorehdr` says.
    pub elfcorehdr: Option<(u64, Option<u64>)>,
    /// `initrd=START,SIZE` (or `initrdmem=`): the initrd's start and size, replacing what
    /// `/chosen` says (`early_initrdmem`).
    pub initrd: Option<(u64, u64)>,
    /// `nr_cpu_ids`: `CONFIG_NR_CPUS`, lowered by `nr_cpus=` (`nrcpus`), the bound of the
    /// CPUs `smp_init_cpus` makes possible.
    pub nr_cpu_ids: u32,
    /// The whole command line, for what Linux reads as a string rather than as a parameter
    /// (`crashkernel=`, searched for anywhere in it).
    pub cmdline: &'a str,
}

impl Default for EarlyParams<'_> {
    fn default() -> Self {
        EarlyParams {
            loglevel: CONSOLE_LOGLEVEL_DEFAULT,
            ignore_loglevel: false,
            memory_limit: None,
            memblock_debug: false,
            selftest: None,
            ptdump: false,
            buddyinfo: false,
            monitor: false,
            dyndbg: false,
            swiotlb: crate::mm::swiotlb::SwiotlbParams::default(),
            cma: None,
            numa_off: false,
            cma_pernuma: 0,
            hugetlb_cma: crate::mm::cma::HugetlbCma { size: 0, in_node: [0; 16] },
            movable: crate::mm::zone_sizes::MovableParams {
                kernelcore: crate::mm::zone_sizes::Core::None,
                movablecore: crate::mm::zone_sizes::Core::None,
                mirror: false,
                movable_node: false,
            },
            elfcorehdr: None,
            initrd: None,
            nr_cpu_ids: crate::of::fdt_scan::NR_CPUS,
            cmdline: "",
        }
    }
}

/// A known parameter whose value could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
}

impl fmt::Display for Malformed<'_> {
    /// Linux's wording, from `do_early_param`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Malformed early option '{}'", self.name)
    }
}

/// A line `parse_early_param` prints, in the order of the options that print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarlyLine<'a> {
    /// `do_early_param`'s warning: the option's handler refused its value.
    Malformed(Malformed<'a>),
    /// arm64's `early_mem`, once for every `mem=` (the last one is the limit).
    MemoryLimited(u64),
    /// `early_cma` given no value (then `do_early_param` calls it malformed).
    CmaNoConfig,
    /// Ours: a number of the option did not fit in 64 bits and was read modulo 2^64, as
    /// Linux's `memparse` reads it (see [`memparse`]).
    Wrapped { name: &'a str, value: &'a str },
    /// `swiotlb=N,M`'s area count, said by `setup_io_tlb_npages` as it reads it.
    Swiotlb(crate::mm::swiotlb::SwiotlbLine),
    /// `ignore_loglevel_setup`'s line.
    IgnoreLoglevel,
    /// Ours, where Linux's `cmdline_parse_core` WARNs with a stack dump: a `kernelcore=` or
    /// `movablecore=` percentage over 100, used as it is.
    OverHundred { name: &'a str, value: &'a str },
}

impl EarlyLine<'_> {
    /// Print the line at Linux's level: early_mem's `pr_notice`, early_cma's `pr_err`,
    /// do_early_param's (and our own notes') `pr_warn`, the others' `pr_info`.
    pub fn print(&self) {
        match self {
            EarlyLine::MemoryLimited(_) => crate::notice!("{self}"),
            EarlyLine::CmaNoConfig => crate::error!("{self}"),
            EarlyLine::Malformed(_) | EarlyLine::Wrapped { .. } | EarlyLine::OverHundred { .. } => crate::warn!("{self}"),
            EarlyLine::Swiotlb(_) | EarlyLine::IgnoreLoglevel => crate::info!("{self}"),
        }
    }
}

impl fmt::Display for EarlyLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EarlyLine::Malformed(m) => write!(f, "{m}"),
            EarlyLine::MemoryLimited(limit) => write!(f, "Memory limited to {}MB", limit >> 20),
            EarlyLine::CmaNoConfig => write!(f, "cma: Config string not provided"),
            EarlyLine::Swiotlb(line) => write!(f, "{line}"),
            EarlyLine::IgnoreLoglevel => write!(f, "printk: debug: ignoring loglevel setting."),
            EarlyLine::OverHundred { name, value } => write!(
                f,
                "cmdline: {name}={value}: a percentage over 100, used as it is (Linux 6.1 WARNs in cmdline_parse_core and goes on)"
            ),
            EarlyLine::Wrapped { name, value } => {
                write!(f, "cmdline: {name}={value}: a number past 2^64 - 1, read modulo 2^64 as Linux's memparse reads it")
            }
        }
    }
}

/// How many lines [`EarlyParams::parse_collect`] keeps for printing; later ones are dropped.
pub const MAX_EARLY_LINES: usize = 16;

impl<'a> EarlyParams<'a> {
    /// The level the console filters with: `loglevel`, or past every level under
    /// `ignore_loglevel` (Linux's `suppress_message_printing`).
    pub fn console_loglevel(&self) -> u8 {
        if self.ignore_loglevel {
            u8::MAX
        } else {
            self.loglevel
        }
    }

    /// [`EarlyParams::parse`], keeping the first [`MAX_EARLY_LINES`] lines it would print, in
    /// order, to print once the console is up (`parse_early_param` runs before anything prints
    /// in our boot).
    pub fn parse_collect(cmdline: &'a str) -> (EarlyParams<'a>, [Option<EarlyLine<'a>>; MAX_EARLY_LINES]) {
        let mut lines = [None; MAX_EARLY_LINES];
        let mut n = 0;
        let params = EarlyParams::parse(cmdline, &mut |line| {
            if let Some(slot) = lines.get_mut(n) {
                *slot = Some(line);
                n += 1;
            }
        });
        (params, lines)
    }

    /// Decode the early parameters of `cmdline`, left to right as `parse_early_param` does;
    /// each line that would print on the way is passed to `report`.
    pub fn parse(cmdline: &'a str, report: &mut dyn FnMut(EarlyLine<'a>)) -> EarlyParams<'a> {
        let mut p = EarlyParams { cmdline, ..EarlyParams::default() };
        for (name, value) in params(cmdline) {
            // parse_args stops at a bare `--`: what follows is init's.
            if (name, value) == ("--", None) {
                break;
            }
            let mut buf = [0; 32];
            let key = dash2underscore(name, &mut buf);
            let bad = |report: &mut dyn FnMut(EarlyLine<'a>)| report(EarlyLine::Malformed(Malformed { name, value }));
            // memparse, naming the option when its value wrapped past 2^64.
            let size = |v: &'a str, report: &mut dyn FnMut(EarlyLine<'a>)| {
                let m = memparse(v);
                if m.overflowed {
                    report(EarlyLine::Wrapped { name, value: v });
                }
                m.value
            };
            match (key, value) {
                // loglevel: the int `get_option` reads (trailing text ignored), else malformed
                // and unchanged. Below 1 nothing prints and from 8 everything does, as 0 and
                // 255 do here.
                ("loglevel", v) => match v.and_then(get_option) {
                    Some(level) => p.loglevel = level.clamp(0, u8::MAX.into()) as u8,
                    None => bad(report),
                },
                // ignore_loglevel_setup takes any value, or none, and says so.
                ("ignore_loglevel", _) => {
                    p.ignore_loglevel = true;
                    report(EarlyLine::IgnoreLoglevel);
                }
                // quiet_kernel and debug_kernel take any value, or none.
                ("quiet", _) => p.loglevel = CONSOLE_LOGLEVEL_QUIET,
                ("debug", _) => p.loglevel = CONSOLE_LOGLEVEL_DEBUG,
                // arm64's early_mem: any value is a limit (page aligned down; 0, which
                // `memblock_mem_limit_remove_map` ignores, for one without digits), said at
                // once; only a missing `=` is malformed.
                ("mem", Some(v)) => {
                    let limit = size(v, report) & !(crate::mm::PAGE_SIZE - 1);
                    p.memory_limit = Some(limit);
                    report(EarlyLine::MemoryLimited(limit));
                }
                ("mem", None) => bad(report),
                // early_memblock: `debug` anywhere in the value turns it on; it refuses
                // nothing, not even a missing value.
                ("memblock", v) => p.memblock_debug |= v.is_some_and(|v| v.contains("debug")),
                ("selftest", Some(name)) if !name.is_empty() => p.selftest = Some(name),
                ("selftest", _) => bad(report),
                ("ptdump", None) => p.ptdump = true,
                ("buddyinfo", None) => p.buddyinfo = true,
                ("monitor", None) => p.monitor = true,
                ("swiotlb", Some(v)) => p.swiotlb.parse_into(v, &mut |line| report(EarlyLine::Swiotlb(line))),
                // early_cma: a later cma= keeps the base and limit of an earlier one unless it
                // names its own.
                ("cma", Some(v)) => {
                    let (cma, wrapped) = p.cma.unwrap_or_default().parse_checked(v);
                    if wrapped {
                        report(EarlyLine::Wrapped { name, value: v });
                    }
                    p.cma = Some(cma);
                }
                ("cma", None) => {
                    report(EarlyLine::CmaNoConfig);
                    bad(report);
                }
                // arch_numa's numa_parse_early_param: a value starting with `off` turns NUMA
                // off for good; other values are accepted and do nothing.
                ("numa", Some(v)) => p.numa_off |= v.starts_with("off"),
                ("numa", None) => bad(report),
                // early_cma_pernuma: memparse, whatever follows (Linux 6.1 dereferences a
                // missing value; here it is malformed).
                ("cma_pernuma", Some(v)) => p.cma_pernuma = size(v, report),
                ("cma_pernuma", None) => bad(report),
                // cmdline_parse_hugetlb_cma (Linux 6.1 dereferences a missing value).
                ("hugetlb_cma", Some(v)) => p.hugetlb_cma = crate::mm::cma::HugetlbCma::parse(v),
                ("hugetlb_cma", None) => bad(report),
                // cmdline_parse_kernelcore: `mirror` in its comma list, else a size or a
                // percentage (Linux 6.1 dereferences a missing value; here it is malformed).
                ("kernelcore", Some(v)) if v.split(',').any(|o| o == "mirror") => p.movable.mirror = true,
                ("kernelcore" | "movablecore", Some(v)) => {
                    let core = crate::mm::zone_sizes::Core::parse(v);
                    if matches!(core, crate::mm::zone_sizes::Core::Percent(p) if p > 100) {
                        report(EarlyLine::OverHundred { name, value: v });
                    }
                    match key {
                        "kernelcore" => p.movable.kernelcore = core,
                        _ => p.movable.movablecore = core,
                    }
                }
                ("kernelcore" | "movablecore", None) => bad(report),
                ("movable_node", _) => p.movable.movable_node = true,
                // setup_elfcorehdr: ADDR, or SIZE@ADDR, in memparse's syntax, set whatever was
                // read (0 where nothing was); malformed when nothing was read at all.
                ("elfcorehdr", Some(v)) => {
                    let first = memparse(v);
                    let (addr, size, end) = match first.rest.strip_prefix('@') {
                        Some(at) => {
                            let addr = memparse(at);
                            (addr.value, Some(first.value), addr.rest)
                        }
                        None => (first.value, None, first.rest),
                    };
                    p.elfcorehdr = Some((addr, size));
                    if end.len() == v.len() {
                        bad(report);
                    }
                }
                ("elfcorehdr", None) => bad(report),
                // early_initrdmem: two memparse numbers joined by a comma set both (a size of 0
                // included: no initrd then); anything else does nothing.
                ("initrd" | "initrdmem", Some(v)) => {
                    let start = memparse(v);
                    if let Some(size) = start.rest.strip_prefix(',') {
                        p.initrd = Some((start.value, memparse(size).value));
                    }
                }
                // nrcpus: a count that `get_option` reads (its `int`, so modulo 2^32) lowers
                // nr_cpu_ids when it is positive and below it; anything else does nothing.
                ("nr_cpus", v) => {
                    if let Some(n) = v.and_then(get_option).filter(|&n| n > 0 && (n as u32) < p.nr_cpu_ids) {
                        p.nr_cpu_ids = n as u32;
                    }
                }
                (n, Some(_)) if n == "dyndbg" || n.ends_with(".dyndbg") => p.dyndbg = true,
                _ => {}
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn splits_like_next_arg() {
        let v: Vec<_> = params("  console=ttyAMA0 quiet foo=\"a b\" \"x=y z\"  ").collect();
        assert_eq!(
            v,
            [("console", Some("ttyAMA0")), ("quiet", None), ("foo", Some("a b")), ("x", Some("y z"))]
        );
        // next_arg removes a quote only where it opens the word or the value (and then the
        // word's last character when it is one); the vertical tab separates, as isspace says.
        let v: Vec<_> = params("\"cma\"=32M \"q\" =x =a=b\u{b}c a=b\"").collect();
        assert_eq!(v, [("cma\"", Some("32M")), ("q", None), ("=x", None), ("=a", Some("b")), ("c", None), ("a", Some("b\""))]);
    }

    /// parse_early_param's walk (checked against Debian's 6.1 with the same command lines):
    /// it stops at a bare `--` (init's arguments follow), names compare with `-` as `_`
    /// (parameq), a quoted name is another name, and cma= keeps an earlier base and limit.
    #[test]
    fn early_param_walk_as_parse_args() {
        let p = EarlyParams::parse("mem=1G -- mem=512M cma=16M swiotlb=force", &mut |_| {});
        assert_eq!((p.memory_limit, p.cma, p.swiotlb.force), (Some(1 << 30), None, false));
        assert_eq!(p.cmdline, "mem=1G -- mem=512M cma=16M swiotlb=force", "crashkernel= still reads it all");
        assert_eq!(EarlyParams::parse("--=x mem=1G", &mut |_| {}).memory_limit, Some(1 << 30), "only a bare --");
        let p = EarlyParams::parse("cma-pernuma=16M hugetlb-cma=1G numa=off", &mut |_| {});
        assert_eq!((p.cma_pernuma, p.hugetlb_cma.size, p.numa_off), (16 << 20, 1 << 30, true));
        assert_eq!(EarlyParams::parse("\"cma\"=32M", &mut |_| {}).cma, None);
        let cma = |line| EarlyParams::parse(line, &mut |_| {}).cma.unwrap();
        let sticky = cma("cma=16M@0x60000000 cma=32M");
        assert_eq!((sticky.size, sticky.base, sticky.limit), (32 << 20, 0x6000_0000, 0x6100_0000));
        let ranged = cma("cma=16M@0x60000000-0x70000000 cma=32M");
        assert_eq!((ranged.size, ranged.base, ranged.limit), (32 << 20, 0x6000_0000, 0x7000_0000));
        // swiotlb= goes through setup_io_tlb_npages, its area line said where the option is.
        let said = lines("mem=1G swiotlb=1024,4,force");
        assert_eq!(said, ["Memory limited to 1024MB", "software IO TLB: area num 4."]);
        let p = EarlyParams::parse("swiotlb=1024,4,force", &mut |_| {});
        assert_eq!((p.swiotlb.nslabs, p.swiotlb.nareas, p.swiotlb.force), (1024, 4, true));
    }

    /// `memparse(s)` as (value, rest, overflowed).
    fn mp(s: &str) -> (u64, &str, bool) {
        let m = memparse(s);
        (m.value, m.rest, m.overflowed)
    }

    #[test]
    fn memparse_suffixes_and_radix() {
        assert_eq!(mp("512M"), (512 << 20, "", false));
        assert_eq!(mp("1g"), (1 << 30, "", false));
        assert_eq!(mp("0x1000"), (0x1000, "", false));
        assert_eq!(mp("0X1fK"), (0x1f << 10, "", false));
        assert_eq!(mp("010"), (8, "", false));
        assert_eq!(mp("017k"), (15 << 10, "", false));
        assert_eq!(mp("4096"), (4096, "", false));
        assert_eq!(mp("4095M"), (4095 << 20, "", false));
        assert_eq!(mp("1E"), (1 << 60, "", false));
    }

    #[test]
    fn memparse_stops_where_linux_stops() {
        // simple_strtoull finds no digits: 0; memparse's switch still reads (and consumes)
        // a suffix letter at that place.
        assert_eq!(mp("M"), (0, "", false));
        assert_eq!(mp("garbage"), (0, "arbage", false));
        assert_eq!(mp("@1"), (0, "@1", false));
        // The first character that fits nothing ends it; one suffix letter at most.
        assert_eq!(mp("12Q"), (12, "Q", false));
        assert_eq!(mp("512MB"), (512 << 20, "B", false));
        assert_eq!(mp("64M@0x1000"), (64 << 20, "@0x1000", false));
        assert_eq!(mp("0x40000000-1"), (0x4000_0000, "-1", false));
        // Octal: the 8 ends the number after the 0.
        assert_eq!(mp("08"), (0, "8", false));
        // "0x" not followed by a hex digit: _parse_integer_fixup_radix picks octal and keeps
        // the x, which ends the number "0".
        assert_eq!(mp("0x"), (0, "x", false));
        assert_eq!(mp("0xg"), (0, "xg", false));
    }

    #[test]
    fn memparse_wraps_modulo_2_64_as_linux_and_says_so() {
        // 20 << 60 = 0x14 << 60: the 1 falls off the top, 4 << 60 is left.
        assert_eq!(mp("20E"), (4 << 60, "", true));
        // 16 << 60 = 2^64: 0.
        assert_eq!(mp("16E"), (0, "", true));
        // 15 << 60 fits.
        assert_eq!(mp("15E"), (15 << 60, "", false));
        // 2^64 - 1 fits; 2^64 = 18446744073709551616 wraps to 0; 10^20 is
        // 100000000000000000000 - 5 * 2^64 = 7766279631452241920.
        assert_eq!(mp("18446744073709551615"), (u64::MAX, "", false));
        assert_eq!(mp("18446744073709551616"), (0, "", true));
        assert_eq!(mp("100000000000000000000"), (7_766_279_631_452_241_920, "", true));
        // 17 hex digits: the leading 1 is shifted out.
        assert_eq!(mp("0x10000000000000001"), (1, "", true));
    }

    /// The lines `parse` reports, as printed.
    fn lines(cmdline: &str) -> Vec<std::string::String> {
        let mut v = Vec::new();
        EarlyParams::parse(cmdline, &mut |l| v.push(l.to_string()));
        v
    }

    #[test]
    fn early_params_and_malformed_values() {
        let mut bad = Vec::new();
        let p = EarlyParams::parse(
            "loglevel=8 mem=1G memblock=debug selftest=fault root=/dev/vda loglevel=x mem",
            &mut |l| bad.push(l),
        );
        assert_eq!(p.loglevel, 8, "a malformed later loglevel leaves the earlier value");
        assert_eq!(p.memory_limit, Some(1 << 30));
        assert!(p.memblock_debug);
        assert_eq!(p.selftest, Some("fault"));
        assert!(!p.monitor);
        assert!(EarlyParams::parse("quiet monitor", &mut |_| panic!()).monitor);
        assert_eq!(
            bad,
            [
                EarlyLine::MemoryLimited(1 << 30),
                EarlyLine::Malformed(Malformed { name: "loglevel", value: Some("x") }),
                EarlyLine::Malformed(Malformed { name: "mem", value: None }),
            ]
        );
        assert_eq!(bad[1].to_string(), "Malformed early option 'loglevel'");
    }

    #[test]
    fn lines_come_in_command_line_order() {
        // parse_early_param calls each handler as it meets the option, and each prints at
        // once: early_mem's pr_notice for every mem= (the last one is the limit), loglevel's
        // -EINVAL as do_early_param's warning, early_cma's pr_err for a missing value and then
        // do_early_param's warning for its -EINVAL.
        assert_eq!(
            lines("mem=1G loglevel=x cma mem=512M memblock"),
            [
                "Memory limited to 1024MB",
                "Malformed early option 'loglevel'",
                "cma: Config string not provided",
                "Malformed early option 'cma'",
                "Memory limited to 512MB",
            ]
        );
        assert_eq!(EarlyParams::parse("mem=1G mem=512M", &mut |_| {}).memory_limit, Some(512 << 20));
    }

    #[test]
    fn memblock_debug_is_debug_anywhere_in_the_value() {
        // early_memblock: strstr(p, "debug"), and it returns 0 whatever it is given.
        let debug = |cmdline| {
            let mut said = Vec::new();
            let p = EarlyParams::parse(cmdline, &mut |l| said.push(l));
            assert_eq!(said, [], "{cmdline}: memblock= never reports a malformed value");
            p.memblock_debug
        };
        assert!(debug("memblock=debug"));
        assert!(debug("memblock=debug,foo"));
        assert!(debug("memblock=nodebug"));
        assert!(!debug("memblock=deb"));
        assert!(!debug("memblock"));
        assert!(!debug("memblock="));
        assert!(!debug("memblock=Debug"), "strstr is case-sensitive");
    }

    #[test]
    fn numa_off_is_any_value_starting_with_off() {
        // numa_parse_early_param: str_has_prefix(opt, "off"); no value is -EINVAL (booted on
        // Linux 6.1: `numa` alone says "Malformed early option 'numa'" and keeps NUMA on).
        let off = |cmdline| {
            let mut said = Vec::new();
            let p = EarlyParams::parse(cmdline, &mut |l| said.push(l.to_string()));
            (p.numa_off, said)
        };
        assert_eq!(off("numa=off"), (true, Vec::<String>::new()));
        assert_eq!(off("numa=offline").0, true);
        assert_eq!(off("numa=on").0, false);
        assert_eq!(off("numa=Off").0, false);
        assert_eq!(off("numa=off numa=on").0, true, "nothing turns it back on");
        assert_eq!(off("numa"), (false, std::vec!["Malformed early option 'numa'".to_string()]));
    }

    #[test]
    fn a_wrapped_mem_or_cma_value_is_named_and_read_as_linux_reads_it() {
        // mem=20E: Linux's memory_limit is 4 << 60 (see memparse), printed >> 20 = 2^42 MB.
        let mut said = Vec::new();
        let p = EarlyParams::parse("mem=20E", &mut |l| said.push(l.to_string()));
        assert_eq!(p.memory_limit, Some(4 << 60));
        assert_eq!(
            said,
            [
                "cmdline: mem=20E: a number past 2^64 - 1, read modulo 2^64 as Linux's memparse reads it",
                "Memory limited to 4398046511104MB",
            ]
        );
        // cma=16M@0xfffffffffff00000: base + size wraps to 0xf00000, as early_cma's sum does.
        let mut said = Vec::new();
        let p = EarlyParams::parse("cma=16M@0xfffffffffff00000", &mut |l| said.push(l.to_string()));
        assert_eq!(p.cma.map(|c| c.limit), Some(0xf0_0000));
        assert_eq!(said.len(), 1, "{said:?}");
        // 15 << 60 and 1 << 60 fit: nothing to name. 15 << 60 >> 20 = 15 << 40 MB.
        assert_eq!(lines("mem=15E cma=1E"), ["Memory limited to 16492674416640MB"]);
    }

    #[test]
    fn any_dyndbg_query_turns_pr_debug_on() {
        assert!(EarlyParams::parse("dyndbg=+p", &mut |_| panic!()).dyndbg);
        assert!(EarlyParams::parse("of_fdt.dyndbg=\"+p\"", &mut |_| panic!()).dyndbg);
        assert!(!EarlyParams::parse("debug loglevel=8", &mut |_| panic!()).dyndbg);
    }

    #[test]
    fn a_selftest_runs_only_when_named() {
        // main.rs runs a self-test only for `Some`: nothing else may set it.
        let selftest = |cmdline| EarlyParams::parse(cmdline, &mut |_| {}).selftest;
        assert_eq!(selftest(""), None);
        assert_eq!(selftest("loglevel=8 memblock=debug mem=1G buddyinfo ptdump"), None);
        assert_eq!(selftest("selftests=fault xselftest=fault selftest"), None);
        assert_eq!(selftest("selftest="), None);
        assert_eq!(selftest("selftest=fault"), Some("fault"));
    }

    #[test]
    fn mem_takes_any_value_as_arm64_early_mem_does() {
        // early_mem: memparse(p) & PAGE_MASK, whatever follows the number; no digits is 0.
        let limit = |cmdline| {
            EarlyParams::parse(cmdline, &mut |l| assert!(matches!(l, EarlyLine::MemoryLimited(_)), "{cmdline}: {l}")).memory_limit
        };
        assert_eq!(limit("mem=1"), Some(0));
        assert_eq!(limit("mem=4095M"), Some(4095 << 20));
        assert_eq!(limit("mem=512MB"), Some(512 << 20));
        assert_eq!(limit("mem=garbage"), Some(0));
        assert_eq!(limit("mem="), Some(0));
    }

    #[test]
    fn mem_is_page_aligned_down_and_quiet_debug_set_levels() {
        let p = EarlyParams::parse("mem=0x12345", &mut |_| {});
        assert_eq!(p.memory_limit, Some(0x12000));
        assert_eq!(EarlyParams::parse("quiet", &mut |_| panic!()).loglevel, 4);
        assert_eq!(EarlyParams::parse("debug", &mut |_| panic!()).loglevel, 10);
        assert_eq!(EarlyParams::parse("", &mut |_| panic!()).loglevel, 7);
    }

    /// `nrcpus` takes what `get_option` reads: the number `simple_strtoull` reads (any radix,
    /// trailing text ignored), cut to an `int`; only a positive value below nr_cpu_ids
    /// (256, or an earlier `nr_cpus=`) lowers it.
    #[test]
    fn nr_cpus_only_lowers_nr_cpu_ids() {
        let ids = |c: &str| EarlyParams::parse(c, &mut |_| {}).nr_cpu_ids;
        assert_eq!(ids(""), 256);
        assert_eq!(ids("nr_cpus=2"), 2);
        assert_eq!(ids("nr-cpus=0x3"), 3);
        assert_eq!(ids("nr_cpus=010"), 8);
        assert_eq!(ids("nr_cpus=2cpus"), 2);
        assert_eq!(ids("nr_cpus=2 nr_cpus=4"), 2);
        assert_eq!(ids("nr_cpus=4 nr_cpus=2"), 2);
        // 2^32 + 2 is 2 as an int; -2 and 0 are not positive; 256 is not below 256.
        assert_eq!(ids("nr_cpus=4294967298"), 2);
        for none in ["nr_cpus", "nr_cpus=", "nr_cpus=x", "nr_cpus=-2", "nr_cpus=0", "nr_cpus=256", "nr_cpus=1000"] {
            assert_eq!(ids(none), 256, "{none}");
        }
        assert_eq!(get_option("-7x"), Some(-7));
        assert_eq!(get_option("-"), None);
    }

    /// `early_initrdmem`: `START,SIZE` in memparse's syntax; without the comma nothing is set,
    /// and what follows the size is ignored. A later option replaces an earlier one.
    #[test]
    fn initrd_is_start_and_size() {
        let initrd = |c: &str| EarlyParams::parse(c, &mut |_| {}).initrd;
        assert_eq!(initrd("initrd=0x50000000,0x1ff001"), Some((0x5000_0000, 0x1f_f001)));
        assert_eq!(initrd("initrdmem=1G,2M"), Some((1 << 30, 2 << 20)));
        assert_eq!(initrd("initrd=0x50000000,4Mfoo"), Some((0x5000_0000, 4 << 20)));
        assert_eq!(initrd("initrd=0x50000000,"), Some((0x5000_0000, 0)));
        assert_eq!(initrd("initrd=1G,1M initrd=2G,2M"), Some((2 << 30, 2 << 20)));
        for none in ["initrd", "initrd=", "initrd=0x50000000", "initrd=/boot/initrd.img", "initrd=1G;1M"] {
            assert_eq!(initrd(none), None, "{none}");
        }
    }

    /// What `pick` takes from `cmdline`'s parameters, and how many were malformed.
    fn with_malformed<T>(cmdline: &str, pick: impl Fn(&EarlyParams) -> T) -> (T, usize) {
        let mut bad = 0;
        let p = EarlyParams::parse(cmdline, &mut |l| bad += usize::from(matches!(l, EarlyLine::Malformed(_))));
        (pick(&p), bad)
    }

    /// `setup_elfcorehdr`: `ADDR` sets the address only, `SIZE@ADDR` both; without a number
    /// read it is malformed (and the address is still set, to 0, as Linux's is).
    #[test]
    fn elfcorehdr_is_size_at_address() {
        let parse = |c| with_malformed(c, |p| p.elfcorehdr);
        assert_eq!(parse("elfcorehdr=64K@0x50000000"), (Some((0x5000_0000, Some(64 << 10))), 0));
        assert_eq!(parse("elfcorehdr=0x50000000"), (Some((0x5000_0000, None)), 0));
        assert_eq!(parse("elfcorehdr=@0x50000000"), (Some((0x5000_0000, Some(0))), 0));
        assert_eq!(parse("elfcorehdr=abc"), (Some((0, None)), 1));
        assert_eq!(parse("elfcorehdr="), (Some((0, None)), 1));
        assert_eq!(parse("elfcorehdr"), (None, 1));
    }

    /// `loglevel` reads its value with `get_option`, as Linux's handler does: `3x` is 3, 256
    /// prints everything and -1 nothing; only a value without a number is malformed. `quiet=`
    /// and `debug=` act as `quiet` and `debug` (Linux's handlers ignore the value).
    #[test]
    fn loglevel_reads_what_get_option_reads() {
        let parse = |c| with_malformed(c, |p| p.loglevel);
        assert_eq!(parse("loglevel=3x"), (3, 0));
        assert_eq!(parse("loglevel=0x8"), (8, 0));
        assert_eq!(parse("loglevel=256"), (255, 0));
        assert_eq!(parse("loglevel=-1"), (0, 0));
        // Octal after a 0, as simple_strtoull reads it: 08 is 0 (silent); no `+` sign.
        assert_eq!(parse("loglevel=08"), (0, 0));
        assert_eq!(parse("loglevel=+3"), (7, 1));
        assert_eq!(parse("loglevel="), (7, 1));
        assert_eq!(parse("loglevel=x"), (7, 1));
        assert_eq!(parse("quiet="), (4, 0));
        assert_eq!(parse("debug=yes"), (10, 0));
        let err = log::Metadata::builder().level(log::Level::Error).build();
        for (level, shown) in [(255u8, true), (0, false)] {
            assert_eq!(crate::printk::console_prints(&err, level, false), shown);
        }
    }

    /// `ignore_loglevel` (any value) lets every level print, whatever `loglevel` says before
    /// or after it, and says so (`printk: debug: ignoring loglevel setting.`, as Debian's 6.1 does).
    #[test]
    fn ignore_loglevel_lets_every_level_print() {
        let mut said = Vec::new();
        let p = EarlyParams::parse("loglevel=1 ignore_loglevel=0 quiet", &mut |l| said.push(l.to_string()));
        assert_eq!((p.loglevel, p.console_loglevel()), (4, 255));
        assert_eq!(said, ["printk: debug: ignoring loglevel setting."]);
        assert_eq!(EarlyParams::parse("loglevel=1", &mut |_| {}).console_loglevel(), 1);
    }

    /// A `kernelcore=`/`movablecore=` percentage over 100 is said (Linux WARNs with a stack
    /// dump) and kept as given; 100 is not.
    #[test]
    fn a_core_percentage_over_100_is_said() {
        use crate::mm::zone_sizes::Core;
        let mut said = Vec::new();
        let p = EarlyParams::parse("kernelcore=101% movablecore=150% kernelcore=100%", &mut |l| said.push(l.to_string()));
        assert_eq!((p.movable.kernelcore, p.movable.movablecore), (Core::Percent(100), Core::Percent(150)));
        assert_eq!(
            said,
            [
                "cmdline: kernelcore=101%: a percentage over 100, used as it is (Linux 6.1 WARNs in cmdline_parse_core and goes on)",
                "cmdline: movablecore=150%: a percentage over 100, used as it is (Linux 6.1 WARNs in cmdline_parse_core and goes on)",
            ]
        );
    }

    /// Each early line prints at Linux's level: early_mem's `pr_notice` (5), do_early_param's
    /// `pr_warn` (4), early_cma's `pr_err` (3), swiotlb's and ignore_loglevel's `pr_info` (6).
    #[test]
    fn early_lines_print_at_linux_levels() {
        let mut lines = Vec::new();
        EarlyParams::parse("mem=1G loglevel=x cma swiotlb=1,3 ignore_loglevel", &mut |l| lines.push(l));
        let (_, printed) = crate::testlog::capture_levels(|| lines.iter().for_each(EarlyLine::print));
        let levels: Vec<u8> = printed.iter().map(|(level, _)| *level).collect();
        assert_eq!(levels, [5, 4, 3, 4, 6, 6, 6], "{printed:?}");
    }
}
