//! The printk conventions the console follows: Linux's log levels and the `[%5lu.%06lu] `
//! timestamp prefix, and which records reach the console and the log buffer (`log_buf`).
//! The console itself (the UART, the timer) lives in the binary.

use core::fmt;

/// Linux's level for a `log` record: `KERN_ERR` 3, `KERN_WARNING` 4, `KERN_INFO` 6,
/// `KERN_DEBUG` 7 for both `debug` and `trace`. `trace` stands for Linux's `pr_debug`: a
/// `KERN_DEBUG` line that dynamic debug must enable before it prints at all.
pub fn linux_level(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// The `log` target of an `Info` record that stands for Linux's `KERN_NOTICE` (5), a level
/// `log` lacks (`notice!`).
pub const NOTICE: &str = "KERN_NOTICE";
/// The `log` target of an `Error` record that stands for Linux's `KERN_EMERG` (0) (`emerg!`).
pub const EMERG: &str = "KERN_EMERG";

/// Linux's level of a record: [`linux_level`], or the level its target names.
pub fn record_level(level: log::Level, target: &str) -> u8 {
    match target {
        NOTICE => 5,
        EMERG => 0,
        _ => linux_level(level),
    }
}

/// Whether a record of `level` and `target` reaches a console at `console_loglevel` (Linux
/// prints a message when its level is below the console level); `pr_debug` lines (`trace`)
/// also need dynamic debug (`dyndbg=` on the command line), as in a distribution kernel.
pub fn console_prints(metadata: &log::Metadata, console_loglevel: u8, dyndbg: bool) -> bool {
    logged(metadata.level(), dyndbg) && record_level(metadata.level(), metadata.target()) < console_loglevel
}

/// Whether a record of `level` goes into the log buffer: every record does, whatever the
/// console level, except `pr_debug` lines (`trace`) while dynamic debug is off, which in
/// Linux are never emitted at all.
pub fn logged(level: log::Level, dyndbg: bool) -> bool {
    level != log::Level::Trace || dyndbg
}

/// printk's `LOG_LINE_MAX` (1024 - 32): a message is formatted into a buffer of this size,
/// NUL included, the two bytes of its `KERN_<LEVEL>` prefix first; they are stripped after.
pub const LOG_LINE_MAX: usize = 992;

/// A message as printk stores it: at most [`LOG_LINE_MAX`]` - 3` bytes (989), cut at a
/// character boundary (Debian's 6.1 shows a `Kernel command line:` of 2047 bytes as its first
/// 989 characters: the label and 968 of the line).
pub struct LineMax<'a>(pub fmt::Arguments<'a>);

impl fmt::Display for LineMax<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Cut<'f, 'g> {
            out: &'f mut fmt::Formatter<'g>,
            left: usize,
        }
        impl fmt::Write for Cut<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let mut n = s.len().min(self.left);
                while !s.is_char_boundary(n) {
                    n -= 1;
                }
                self.left -= n;
                self.out.write_str(&s[..n])
            }
        }
        fmt::write(&mut Cut { out: f, left: LOG_LINE_MAX - 3 }, self.0)
    }
}

/// The time since the counter started, as printk shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp {
    pub secs: u64,
    pub usecs: u32,
}

impl Timestamp {
    /// From a counter value and its frequency in Hz (a zero frequency gives time zero).
    pub fn from_ticks(ticks: u64, freq_hz: u64) -> Timestamp {
        if freq_hz == 0 {
            return Timestamp { secs: 0, usecs: 0 };
        }
        let secs = ticks / freq_hz;
        let rem = ticks % freq_hz;
        let usecs = (rem as u128 * 1_000_000 / freq_hz as u128) as u32;
        Timestamp { secs, usecs }
    }
}

impl fmt::Display for Timestamp {
    /// `[%5lu.%06lu] ` as printk's `print_time`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:5}.{:06}] ", self.secs, self.usecs)
    }
}

/// Where every log line of the kernel goes (Linux's `printk`), at a `level` `log` has.
pub fn printk(level: log::Level, args: fmt::Arguments<'_>) {
    printk_at(module_path!(), level, args);
}

/// [`printk`] with a `target`, which names the Linux level of a record where `log` has none
/// ([`NOTICE`], [`EMERG`]): the one place a `log` record is built and handed to the logger,
/// so that a call site of [`info!`](crate::info) and the others only checks the level and
/// builds its arguments. Under QEMU every distinct piece of code costs its translation the
/// first time it runs: the `log` crate's macros build the record at each site (888 of the
/// 13486 guest instructions a 1 GiB boot translated).
#[inline(never)]
pub fn printk_at(target: &'static str, level: log::Level, args: fmt::Arguments<'_>) {
    log::log!(target: target, level, "{args}");
}

/// `log::log!` through [`printk`]: a line at `level` (and `target:`, see [`printk_at`]) when
/// the logger takes that level.
#[macro_export]
macro_rules! printk {
    (target: $target:expr, $level:expr, $($arg:tt)+) => {{
        let level: ::log::Level = $level;
        if level <= ::log::max_level() {
            $crate::printk::printk_at($target, level, format_args!($($arg)+));
        }
    }};
    ($level:expr, $($arg:tt)+) => {{
        let level: ::log::Level = $level;
        if level <= ::log::max_level() {
            $crate::printk::printk(level, format_args!($($arg)+));
        }
    }};
}

/// `log::error!` through [`printk`]: Linux's `pr_err`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::printk!(::log::Level::Error, $($arg)+) };
}

/// `log::warn!` through [`printk`]: Linux's `pr_warn`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::printk!(::log::Level::Warn, $($arg)+) };
}

/// Linux's `pr_notice` (`KERN_NOTICE`, 5): an `Info` record with the [`NOTICE`] target.
#[macro_export]
macro_rules! notice {
    ($($arg:tt)+) => { $crate::printk!(target: $crate::printk::NOTICE, ::log::Level::Info, $($arg)+) };
}

/// Linux's `pr_emerg` (`KERN_EMERG`, 0): an `Error` record with the [`EMERG`] target.
#[macro_export]
macro_rules! emerg {
    ($($arg:tt)+) => { $crate::printk!(target: $crate::printk::EMERG, ::log::Level::Error, $($arg)+) };
}

/// `log::info!` through [`printk`]: Linux's `pr_info`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::printk!(::log::Level::Info, $($arg)+) };
}

/// `log::debug!` through [`printk`]: a `KERN_DEBUG` line, logged whatever the console shows.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::printk!(::log::Level::Debug, $($arg)+) };
}

/// `log::trace!` through [`printk`]: Linux's `pr_debug`, which dynamic debug must enable.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::printk!(::log::Level::Trace, $($arg)+) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn prefix_matches_printk() {
        assert_eq!(Timestamp::from_ticks(0, 62_500_000).to_string(), "[    0.000000] ");
        assert_eq!(Timestamp::from_ticks(7_687, 62_500_000).to_string(), "[    0.000122] ");
        assert_eq!(Timestamp::from_ticks(62_500_000 * 123_456 + 1, 62_500_000).to_string(), "[123456.000000] ");
    }

    /// `console_prints` for a record of `level` (and `target`, Linux's level where `log` has
    /// none).
    fn prints(level: log::Level, target: &str, console: u8, dyndbg: bool) -> bool {
        console_prints(&log::Metadata::builder().level(level).target(target).build(), console, dyndbg)
    }

    #[test]
    fn loglevel_filters_like_linux() {
        let p = |level, console, dyndbg| prints(level, "kernel", console, dyndbg);
        assert!(p(log::Level::Info, 7, false));
        assert!(!p(log::Level::Debug, 7, false));
        assert!(p(log::Level::Debug, 8, false));
        // pr_debug: KERN_DEBUG, and only with dynamic debug on
        assert!(!p(log::Level::Trace, 8, false));
        assert!(p(log::Level::Trace, 8, true));
        assert!(!p(log::Level::Trace, 7, true));
        assert!(p(log::Level::Warn, 5, false));
        assert!(!p(log::Level::Info, 4, false));
        // pr_notice (5) shows at loglevel=6, where pr_info does not; pr_emerg (0) shows at
        // loglevel=1, as Linux's `Power down` does under `quiet` too.
        assert!(prints(log::Level::Info, NOTICE, 6, false) && !p(log::Level::Info, 6, false));
        assert!(!prints(log::Level::Info, NOTICE, 5, false));
        assert!(prints(log::Level::Error, EMERG, 1, false) && !p(log::Level::Error, 1, false));
        assert!(!prints(log::Level::Error, EMERG, 0, false));
    }

    #[test]
    fn the_buffer_keeps_what_the_console_hides() {
        // KERN_DEBUG is below the default console level but still logged, as in dmesg.
        assert!(!prints(log::Level::Debug, "kernel", 7, false) && logged(log::Level::Debug, false));
        assert!(!logged(log::Level::Trace, false));
        assert!(logged(log::Level::Trace, true));
    }

    /// A message longer than printk's buffer keeps its first 989 bytes, whole characters.
    #[test]
    fn a_long_message_is_cut_as_printk_cuts_it() {
        let long = "x".repeat(2000);
        assert_eq!(LineMax(format_args!("Kernel command line: {long}")).to_string().len(), 989);
        let wide = "é".repeat(600);
        assert_eq!(LineMax(format_args!("{wide}")).to_string().len(), 988, "2 bytes each: 494 whole ones");
        assert_eq!(LineMax(format_args!("short")).to_string(), "short");
    }
}
