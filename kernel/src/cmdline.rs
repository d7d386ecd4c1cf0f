//! The kernel command line: splitting it as Linux's `next_arg` does and reading the early
//! parameters this kernel knows (`loglevel=`, `quiet`, `debug`, `mem=`, `memblock=debug`, `cma=`,
//! `swiotlb=`, and the kernel-specific `selftest=`, `ptdump`, `buddyinfo`, `monitor`).
//!
//! Unknown parameters are left alone, as Linux leaves them for later handlers. A known
//! parameter with a malformed value is reported with Linux's `Malformed early option '%s'`
//! (from `do_early_param`) and otherwise ignored.

use core::fmt;

/// Linux's `CONSOLE_LOGLEVEL_DEFAULT`: messages below level 7 (everything but debug) print.
pub const CONSOLE_LOGLEVEL_DEFAULT: u8 = 7;
/// `quiet` sets `CONSOLE_LOGLEVEL_QUIET`.
pub const CONSOLE_LOGLEVEL_QUIET: u8 = 4;
/// `debug` sets `CONSOLE_LOGLEVEL_DEBUG`.
pub const CONSOLE_LOGLEVEL_DEBUG: u8 = 10;

/// Split a command line into `(name, value)` pairs the way Linux's `next_arg` does: spaces
/// separate parameters, double quotes group (and are removed), `=` splits name and value.
pub fn params(cmdline: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let mut rest = cmdline;
    core::iter::from_fn(move || {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if rest.is_empty() {
            return None;
        }
        let mut in_quote = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            if c == '"' {
                in_quote = !in_quote;
            } else if c.is_ascii_whitespace() && !in_quote {
                end = i;
                break;
            }
        }
        let word = &rest[..end];
        rest = &rest[end..];
        Some(match word.split_once('=') {
            Some((name, value)) => (name.trim_matches('"'), Some(value.trim_matches('"'))),
            None => (word.trim_matches('"'), None),
        })
    })
}

/// Linux's `memparse`: the longest prefix that is a number (`simple_strtoull` with base 0:
/// `0x` hex, a leading `0` octal, else decimal), times the K/M/G/T/P/E suffix that follows
/// it, either case. Like Linux it stops at the first character that does not fit and ignores
/// the rest (`512MB` is 512 MiB), and a value with no digits is 0 (`garbage`). Where Linux's
/// arithmetic wraps (more than 2^64), this saturates at `u64::MAX`.
pub fn memparse(s: &str) -> u64 {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if hex.starts_with(|c: char| c.is_ascii_hexdigit()) => (hex, 16),
        _ if s.starts_with('0') => (s, 8),
        _ => (s, 10),
    };
    let split = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    let (num, suffix) = digits.split_at(split);
    let value = num.chars().fold(0u64, |v, c| v.saturating_mul(radix as u64).saturating_add(c.to_digit(radix).unwrap_or(0) as u64));
    let shift = match suffix.chars().next() {
        Some('k' | 'K') => 10,
        Some('m' | 'M') => 20,
        Some('g' | 'G') => 30,
        Some('t' | 'T') => 40,
        Some('p' | 'P') => 50,
        Some('e' | 'E') => 60,
        _ => 0,
    };
    value.checked_mul(1u64 << shift).unwrap_or(u64::MAX)
}

/// Linux's `memparse` as `early_cma` uses it: the number at the start of `s` (decimal, `0x`
/// hex or leading-`0` octal, no digits reading as 0) with an optional K/M/G/T/P/E suffix,
/// and the rest of `s` after what was read. Values wrap as Linux's do.
pub fn memparse_prefix(s: &str) -> (u64, &str) {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if hex.starts_with(|c: char| c.is_ascii_hexdigit()) => (hex, 16),
        _ if s.starts_with('0') => (s, 8),
        _ => (s, 10),
    };
    let split = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    let (num, rest) = digits.split_at(split);
    if num.is_empty() {
        return (0, s);
    }
    let value = num.chars().fold(0u64, |v, c| v.wrapping_mul(radix as u64).wrapping_add(c.to_digit(radix).unwrap_or(0) as u64));
    let shift = match rest.chars().next() {
        Some('k' | 'K') => 10,
        Some('m' | 'M') => 20,
        Some('g' | 'G') => 30,
        Some('t' | 'T') => 40,
        Some('p' | 'P') => 50,
        Some('e' | 'E') => 60,
        _ => return (value, rest),
    };
    (value.wrapping_shl(shift), &rest[1..])
}

/// The early parameters, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlyParams<'a> {
    /// Console log level: a message of level `l` prints when `l < loglevel`.
    pub loglevel: u8,
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
}

impl Default for EarlyParams<'_> {
    fn default() -> Self {
        EarlyParams {
            loglevel: CONSOLE_LOGLEVEL_DEFAULT,
            memory_limit: None,
            memblock_debug: false,
            selftest: None,
            ptdump: false,
            buddyinfo: false,
            monitor: false,
            dyndbg: false,
            swiotlb: crate::mm::swiotlb::SwiotlbParams { nslabs: None, force: false, noforce: false },
            cma: None,
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

/// How many malformed options [`EarlyParams::parse_collect`] keeps for reporting.
pub const MAX_MALFORMED: usize = 8;

impl<'a> EarlyParams<'a> {
    /// [`EarlyParams::parse`], keeping the first [`MAX_MALFORMED`] malformed options to report
    /// once the console is up (`parse_early_param` runs before anything prints in our boot).
    pub fn parse_collect(cmdline: &'a str) -> (EarlyParams<'a>, [Option<Malformed<'a>>; MAX_MALFORMED]) {
        let mut malformed = [None; MAX_MALFORMED];
        let mut n = 0;
        let params = EarlyParams::parse(cmdline, &mut |m| {
            if let Some(slot) = malformed.get_mut(n) {
                *slot = Some(m);
                n += 1;
            }
        });
        (params, malformed)
    }

    /// Decode the early parameters of `cmdline`; each malformed one is passed to `report`.
    pub fn parse(cmdline: &'a str, report: &mut dyn FnMut(Malformed<'a>)) -> EarlyParams<'a> {
        let mut p = EarlyParams::default();
        for (name, value) in params(cmdline) {
            let mut bad = || report(Malformed { name, value });
            match (name, value) {
                ("loglevel", v) => match v.and_then(|v| v.parse::<u8>().ok()) {
                    Some(level) => p.loglevel = level,
                    None => bad(),
                },
                ("quiet", None) => p.loglevel = CONSOLE_LOGLEVEL_QUIET,
                ("debug", None) => p.loglevel = CONSOLE_LOGLEVEL_DEBUG,
                // arm64's early_mem: any value is a limit (page aligned down; 0, which
                // `memblock_mem_limit_remove_map` ignores, for one without digits); only a
                // missing `=` is malformed.
                ("mem", Some(v)) => p.memory_limit = Some(memparse(v) & !(crate::mm::PAGE_SIZE - 1)),
                ("mem", None) => bad(),
                ("memblock", Some("debug")) => p.memblock_debug = true,
                ("memblock", _) => bad(),
                ("selftest", Some(name)) if !name.is_empty() => p.selftest = Some(name),
                ("selftest", _) => bad(),
                ("ptdump", None) => p.ptdump = true,
                ("buddyinfo", None) => p.buddyinfo = true,
                ("monitor", None) => p.monitor = true,
                ("swiotlb", Some(v)) => p.swiotlb = crate::mm::swiotlb::SwiotlbParams::parse(v),
                ("cma", Some(v)) => p.cma = Some(crate::mm::cma::CmaCmdline::parse(v)),
                ("cma", None) => bad(),
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
    }

    #[test]
    fn memparse_suffixes_and_radix() {
        assert_eq!(memparse("512M"), 512 << 20);
        assert_eq!(memparse("1g"), 1 << 30);
        assert_eq!(memparse("0x1000"), 0x1000);
        assert_eq!(memparse("010"), 8);
        assert_eq!(memparse("4096"), 4096);
        // Linux's simple_strtoull finds no digits: 0, and the suffix still applies to it.
        assert_eq!(memparse("M"), 0);
        assert_eq!(memparse("garbage"), 0);
        // It stops at the first character that fits nothing: the rest is ignored.
        assert_eq!(memparse("12Q"), 12);
        assert_eq!(memparse("512MB"), 512 << 20);
        assert_eq!(memparse("4095M"), 4095 << 20);
        assert_eq!(memparse("08"), 0, "octal: the 8 ends the number after the 0");
        assert_eq!(memparse("0x"), 0, "no hex digit: the 0 alone, then the x ends it");
        assert_eq!(memparse("20E"), u64::MAX, "past 2^64 saturates instead of wrapping");
        assert_eq!(memparse("99999999999999999999"), u64::MAX);
    }

    #[test]
    fn memparse_prefix_stops_where_linux_stops() {
        // simple_strtoull with base 0, then one suffix letter; the rest is handed back.
        assert_eq!(memparse_prefix("64M@0x1000"), (64 << 20, "@0x1000"));
        assert_eq!(memparse_prefix("0x40000000-1"), (0x4000_0000, "-1"));
        assert_eq!(memparse_prefix("017k"), (15 << 10, ""));
        // "0x" not followed by a hex digit: octal "0", then "xg".
        assert_eq!(memparse_prefix("0xg"), (0, "xg"));
        assert_eq!(memparse_prefix("@1"), (0, "@1"));
        assert_eq!(memparse_prefix("8MB"), (8 << 20, "B"));
    }

    #[test]
    fn early_params_and_malformed_values() {
        let mut bad = Vec::new();
        let p = EarlyParams::parse(
            "loglevel=8 mem=1G memblock=debug selftest=fault root=/dev/vda loglevel=x mem",
            &mut |m| bad.push(m),
        );
        assert_eq!(p.loglevel, 8, "a malformed later loglevel leaves the earlier value");
        assert_eq!(p.memory_limit, Some(1 << 30));
        assert!(p.memblock_debug);
        assert_eq!(p.selftest, Some("fault"));
        assert!(!p.monitor);
        assert!(EarlyParams::parse("quiet monitor", &mut |_| panic!()).monitor);
        assert_eq!(
            bad,
            [Malformed { name: "loglevel", value: Some("x") }, Malformed { name: "mem", value: None }]
        );
        assert_eq!(bad[0].to_string(), "Malformed early option 'loglevel'");
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
        let limit = |cmdline| EarlyParams::parse(cmdline, &mut |_| panic!("{cmdline}: not malformed")).memory_limit;
        assert_eq!(limit("mem=1"), Some(0));
        assert_eq!(limit("mem=4095M"), Some(4095 << 20));
        assert_eq!(limit("mem=512MB"), Some(512 << 20));
        assert_eq!(limit("mem=garbage"), Some(0));
        assert_eq!(limit("mem="), Some(0));
    }

    #[test]
    fn mem_is_page_aligned_down_and_quiet_debug_set_levels() {
        let p = EarlyParams::parse("mem=0x12345", &mut |_| panic!());
        assert_eq!(p.memory_limit, Some(0x12000));
        assert_eq!(EarlyParams::parse("quiet", &mut |_| panic!()).loglevel, 4);
        assert_eq!(EarlyParams::parse("debug", &mut |_| panic!()).loglevel, 10);
        assert_eq!(EarlyParams::parse("", &mut |_| panic!()).loglevel, 7);
    }
}
