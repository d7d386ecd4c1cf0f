//! Test support: the log lines a piece of code prints, caught per test thread. The `log` crate
//! takes one logger per process, so every host test that checks a printed line uses this one.

use std::cell::RefCell;
use std::string::{String, ToString};
use std::vec::Vec;

std::thread_local! {
    static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Collects log lines per test thread.
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LINES.with(|l| l.borrow_mut().push(record.args().to_string()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// The lines `f` logs, at every level, in order.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    LINES.with(|l| l.borrow_mut().clear());
    let out = f();
    (out, LINES.with(|l| l.take()))
}
