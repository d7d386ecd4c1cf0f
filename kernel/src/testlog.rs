//! Host tests only: the log lines a piece of code prints, captured per test thread (one
//! process-wide logger, set once, shared by every test that checks Linux's wording).

use std::cell::RefCell;
use std::string::{String, ToString};
use std::vec::Vec;

thread_local! {
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

/// The lines `f` logs, in order, at every level.
pub fn capture(f: impl FnOnce()) -> Vec<String> {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    LINES.with(|l| l.borrow_mut().clear());
    f();
    LINES.with(|l| l.take())
}
