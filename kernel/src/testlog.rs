//! Test support: the log lines a piece of code prints, caught per test thread. The `log` crate
//! takes one logger per process, so every host test that checks a printed line uses this one.

use std::cell::RefCell;
use std::string::{String, ToString};
use std::vec::Vec;

std::thread_local! {
    /// Each line with Linux's level (`printk::record_level`).
    static LINES: RefCell<Vec<(u8, String)>> = const { RefCell::new(Vec::new()) };
}

/// Collects log lines per test thread.
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let level = crate::printk::record_level(record.level(), record.target());
        LINES.with(|l| l.borrow_mut().push((level, record.args().to_string())));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// The lines `f` logs, at every level, in order.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let (out, lines) = capture_levels(f);
    (out, lines.into_iter().map(|(_, line)| line).collect())
}

/// The lines `f` logs, each with Linux's level (`KERN_EMERG` 0 to `KERN_DEBUG` 7).
pub fn capture_levels<T>(f: impl FnOnce() -> T) -> (T, Vec<(u8, String)>) {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    LINES.with(|l| l.borrow_mut().clear());
    let out = f();
    (out, LINES.with(|l| l.take()))
}
