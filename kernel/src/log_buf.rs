//! The kernel log buffer: Linux's `log_buf` (`kernel/printk/printk_ringbuffer.c`, read by
//! `dmesg` and by `lx-dmesg` in `scripts/gdb`), reduced to a ring of text lines.
//!
//! Every record the kernel logs is stored here as the console would print it (printk's
//! timestamp prefix, the message, `\n`), whether or not the console shows it, so the log can
//! be read from a debugger when the console is silent (`quiet`, `loglevel=`) or broken, and
//! a panic can replay the last lines. When a new line does not fit, the oldest whole lines are
//! dropped and counted; a line longer than the ring is cut (at a character boundary) to
//! `N - 1` bytes plus its `\n`.
//!
//! Layout, for readers that have only memory (the kernel binary's instance is
//! `kernel::console::LOG_BUF`, a `LogBuf<LOG_BUF_LEN>`; `mb-dmesg` reads it), `#[repr(C)]`:
//!
//! | offset | field     | meaning                                                          |
//! |--------|-----------|------------------------------------------------------------------|
//! | 0      | `head`    | u64: bytes ever written up to the end of the last complete line  |
//! | 8      | `tail`    | u64: bytes ever written up to the start of the oldest held line  |
//! | 16     | `dropped` | u64: lines dropped to make room                                   |
//! | 24     | `cursor`  | u64: write position inside the line being written (`== head` between lines) |
//! | 32     | `text`    | `N` bytes; byte number `i` (counting from boot) lives at `text[i % N]` |
//!
//! The held log is bytes `[tail, head)`: whole lines, each ending in `\n`, valid UTF-8 once
//! the two pieces around the wrap are joined. All fields are atomics with the layout of the
//! plain integers, so the ring is a safe `static` with one writer at a time (the kernel logs
//! from one CPU with interrupts masked); a second writer would interleave bytes, never break
//! memory safety.

use core::fmt;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

/// A ring of `N` bytes holding the most recent log lines. See the module documentation.
#[repr(C)]
pub struct LogBuf<const N: usize> {
    head: AtomicU64,
    tail: AtomicU64,
    dropped: AtomicU64,
    cursor: AtomicU64,
    text: [AtomicU8; N],
}

/// The counters of a `LogBuf` at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Offset (since boot) of the oldest held byte.
    pub tail: u64,
    /// Offset (since boot) just past the newest complete line.
    pub head: u64,
    /// Lines dropped to make room.
    pub dropped: u64,
}

impl<const N: usize> Default for LogBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LogBuf<N> {
    /// An empty ring (usable in a `static`). `N` must be at least 2: one byte of text and
    /// its `\n`.
    pub const fn new() -> Self {
        assert!(N >= 2, "a log buffer holds at least one byte and its newline");
        LogBuf {
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            cursor: AtomicU64::new(0),
            text: [const { AtomicU8::new(0) }; N],
        }
    }

    /// Append one line: `prefix` then `message` then `\n` (a `\n` inside them starts a new
    /// line of the ring as it would on the console).
    pub fn push_line(&self, prefix: impl fmt::Display, message: impl fmt::Display) {
        use fmt::Write;
        let mut w = LineWriter { buf: self, truncated: false };
        let _ = write!(w, "{prefix}{message}");
        self.put(b'\n');
        self.head.store(self.cursor.load(Relaxed), Relaxed);
    }

    /// The counters now.
    pub fn counters(&self) -> Counters {
        Counters { tail: self.tail.load(Relaxed), head: self.head.load(Relaxed), dropped: self.dropped.load(Relaxed) }
    }

    /// Number of whole lines in `[from, to)` (offsets of line starts, clamped to the held
    /// range).
    pub fn lines_in(&self, from: u64, to: u64) -> usize {
        let (from, to) = self.clamp(from, to);
        (from..to).filter(|&i| self.byte(i) == b'\n').count()
    }

    /// Where the last `n` held lines that end at or before `end` (a line start, e.g. a
    /// `head` read earlier) begin; the tail when fewer are held.
    pub fn last_lines_start(&self, n: usize, end: u64) -> u64 {
        let (tail, end) = self.clamp(0, end);
        let mut seen = 0;
        // Walk back over newlines: the (n+1)-th from the end closes the line before them.
        let mut i = end;
        while i > tail {
            if self.byte(i - 1) == b'\n' {
                if seen == n {
                    return i;
                }
                seen += 1;
            }
            i -= 1;
        }
        tail
    }

    /// Write the held text of `[from, to)` (clamped to the held range) to `out`.
    pub fn write_range(&self, from: u64, to: u64, out: &mut dyn fmt::Write) -> fmt::Result {
        let (from, to) = self.clamp(from, to);
        let mut chunk = [0u8; 64];
        let mut len = 0;
        for i in from..to {
            chunk[len] = self.byte(i);
            len += 1;
            if len == chunk.len() {
                len = flush_utf8(&mut chunk, len, out)?;
            }
        }
        while len > 0 {
            // Only an invalid tail can remain: flush_utf8 replaces it.
            let before = len;
            len = flush_utf8(&mut chunk, len, out)?;
            if len == before {
                out.write_char(char::REPLACEMENT_CHARACTER)?;
                break;
            }
        }
        Ok(())
    }

    /// Append text as it comes (for reports written piece by piece): each `\n` ends a line.
    pub fn write_str(&self, s: &str) {
        use fmt::Write;
        let _ = LineWriter { buf: self, truncated: false }.write_str(s);
    }

    /// `write_str` for formatted text.
    pub fn write_fmt(&self, args: fmt::Arguments) {
        use fmt::Write;
        let _ = LineWriter { buf: self, truncated: false }.write_fmt(args);
    }

    fn clamp(&self, from: u64, to: u64) -> (u64, u64) {
        let c = self.counters();
        let to = to.clamp(c.tail, c.head);
        (from.clamp(c.tail, to), to)
    }

    fn byte(&self, offset: u64) -> u8 {
        self.text[(offset % N as u64) as usize].load(Relaxed)
    }

    /// Store one byte at the cursor, dropping the oldest lines while the ring is full.
    fn put(&self, b: u8) {
        let cursor = self.cursor.load(Relaxed);
        let mut tail = self.tail.load(Relaxed);
        while cursor - tail >= N as u64 {
            // The line being written is shorter than N, so a complete line ends before it.
            let mut i = tail;
            while self.byte(i) != b'\n' {
                i += 1;
            }
            tail = i + 1;
            self.tail.store(tail, Relaxed);
            self.dropped.fetch_add(1, Relaxed);
        }
        self.text[(cursor % N as u64) as usize].store(b, Relaxed);
        self.cursor.store(cursor + 1, Relaxed);
    }
}

/// Write the longest valid UTF-8 prefix of `chunk[..len]` (an invalid sequence as U+FFFD),
/// move the rest (an incomplete character) to the front, return its length.
fn flush_utf8(chunk: &mut [u8; 64], len: usize, out: &mut dyn fmt::Write) -> Result<usize, fmt::Error> {
    let (valid, skip) = match core::str::from_utf8(&chunk[..len]) {
        Ok(s) => (s.len(), 0),
        Err(e) => (e.valid_up_to(), e.error_len().unwrap_or(0)),
    };
    out.write_str(core::str::from_utf8(&chunk[..valid]).unwrap_or_default())?;
    if skip > 0 {
        out.write_char(char::REPLACEMENT_CHARACTER)?;
    }
    chunk.copy_within(valid + skip..len, 0);
    Ok(len - valid - skip)
}

/// Feeds one line's text into the ring, cutting it at `N - 1` bytes.
struct LineWriter<'a, const N: usize> {
    buf: &'a LogBuf<N>,
    truncated: bool,
}

impl<const N: usize> fmt::Write for LineWriter<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for ch in s.chars() {
            if ch == '\n' {
                // A new line of the ring: commit the one before it.
                self.buf.put(b'\n');
                self.buf.head.store(self.buf.cursor.load(Relaxed), Relaxed);
                self.truncated = false;
                continue;
            }
            let used = self.buf.cursor.load(Relaxed) - self.buf.head.load(Relaxed);
            if self.truncated || used + ch.len_utf8() as u64 > N as u64 - 1 {
                self.truncated = true;
                continue;
            }
            let mut bytes = [0u8; 4];
            for &b in ch.encode_utf8(&mut bytes).as_bytes() {
                self.buf.put(b);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn text<const N: usize>(b: &LogBuf<N>) -> String {
        let mut s = String::new();
        b.write_range(0, u64::MAX, &mut s).unwrap();
        s
    }

    #[test]
    fn lines_are_stored_with_their_prefix() {
        let b = LogBuf::<64>::new();
        b.push_line("[ts] ", "one");
        b.push_line("[ts] ", format_args!("two {}", 2));
        assert_eq!(text(&b), "[ts] one\n[ts] two 2\n");
        assert_eq!(b.lines_in(0, u64::MAX), 2);
        // 9 + 11 bytes written, none dropped
        assert_eq!(b.counters(), Counters { tail: 0, head: 20, dropped: 0 });
    }

    #[test]
    fn wrap_drops_whole_oldest_lines_and_counts_them() {
        // 16 bytes: "aaaa\n" (5) "bbbb\n" (5) "cccc\n" (5) fill 15; "dddd\n" needs 5 more,
        // so the ring must free 4 bytes at least: dropping "aaaa\n" (one whole line) frees 5.
        let b = LogBuf::<16>::new();
        for l in ["aaaa", "bbbb", "cccc"] {
            b.push_line("", l);
        }
        assert_eq!(b.counters().dropped, 0);
        b.push_line("", "dddd");
        assert_eq!(text(&b), "bbbb\ncccc\ndddd\n");
        assert_eq!(b.counters(), Counters { tail: 5, head: 20, dropped: 1 });
        // A 10-byte line (9 + \n) from offset 20 ends at 30, so the tail must reach 30 - 16
        // = 14: bbbb (ending at 10) and cccc (ending at 15) go, dddd stays.
        b.push_line("", "eeeeeeeee");
        assert_eq!(text(&b), "dddd\neeeeeeeee\n");
        assert_eq!(b.counters(), Counters { tail: 15, head: 30, dropped: 3 });
    }

    #[test]
    fn text_reads_back_across_the_wrap() {
        let b = LogBuf::<16>::new();
        for i in 0..100 {
            b.push_line("", format_args!("l{i:02}"));
        }
        // Each line is 4 bytes; 16 bytes hold exactly the last four (the ring is full only
        // when a fifth arrives, and then exactly one line goes).
        assert_eq!(text(&b), "l96\nl97\nl98\nl99\n");
        assert_eq!(b.counters().dropped, 96);
    }

    #[test]
    fn embedded_newlines_make_separate_lines() {
        let b = LogBuf::<64>::new();
        b.push_line("> ", "first\nsecond");
        assert_eq!(text(&b), "> first\nsecond\n");
        assert_eq!(b.lines_in(0, u64::MAX), 2);
        assert_eq!(b.last_lines_start(1, u64::MAX), 8);
    }

    #[test]
    fn a_line_longer_than_the_ring_is_cut() {
        let b = LogBuf::<8>::new();
        b.push_line("", "ab");
        b.push_line("", "0123456789");
        // 7 bytes of text and the newline fill the ring; "ab\n" had to go.
        assert_eq!(text(&b), "0123456\n");
        assert_eq!(b.counters().dropped, 1);
        // Cut at a character boundary: "é" is two bytes and does not fit after 6 of them.
        b.push_line("", "abcdefé");
        assert_eq!(text(&b), "abcdef\n");
    }

    #[test]
    fn last_lines_start_counts_back() {
        let b = LogBuf::<64>::new();
        for l in ["a", "bb", "ccc"] {
            b.push_line("", l);
        }
        let head = b.counters().head;
        let mut s = String::new();
        b.write_range(b.last_lines_start(2, head), head, &mut s).unwrap();
        assert_eq!(s, "bb\nccc\n");
        assert_eq!(b.last_lines_start(0, head), head);
        assert_eq!(b.last_lines_start(10, head), 0);
        // Lines written after a point in time do not count: the last line before "ccc\n".
        assert_eq!(b.last_lines_start(1, head - 4), 2);
        assert_eq!(b.lines_in(2, head - 4), 1);
    }

    #[test]
    fn text_written_in_pieces_forms_lines() {
        let b = LogBuf::<64>::new();
        b.write_str("Kernel ");
        b.write_str("panic\nnext");
        // "next" has no newline yet: not held.
        assert_eq!(text(&b), "Kernel panic\n");
        b.write_str("\n");
        assert_eq!(text(&b), "Kernel panic\nnext\n");
    }

    #[test]
    fn multibyte_text_survives_the_wrap() {
        // Lines of "€" (3 bytes) + \n in a ring of 11 hold two lines; after seven the tail
        // is at 20, and 20 % 11 = 9: the first "€" sits at text[9], text[10], text[0].
        let b = LogBuf::<11>::new();
        for _ in 0..7 {
            b.push_line("", "€");
        }
        assert_eq!(text(&b), "€\n€\n");
    }
}
