//! The monitor's line editor: bytes from a serial line in, the echo out, a whole line when
//! the user presses Enter. Like a terminal in canonical mode (Linux's `n_tty`), reduced to
//! what a serial console needs:
//!
//! - printable ASCII is kept and echoed; a line longer than [`MAX_LINE`] is refused at Enter;
//! - CR, LF or CR LF ends the line (echoed as one newline), whichever the terminal sends;
//! - backspace (BS, 0x08) or DEL (0x7f) removes the last character (echoed as `BS SP BS`);
//! - Ctrl-C (0x03) drops the line (echoed as `^C`);
//! - every other byte (escape sequences of arrow keys, non-ASCII) is ignored.

use core::fmt::Write;

/// Longest line kept, in bytes.
pub const MAX_LINE: usize = 127;

const BS: u8 = 0x08;
const DEL: u8 = 0x7f;
const CTRL_C: u8 = 0x03;

/// A finished line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// The text typed (printable ASCII).
    Text { bytes: [u8; MAX_LINE], len: usize },
    /// More than [`MAX_LINE`] characters were typed: the line is dropped.
    TooLong,
}

impl Line {
    /// The text, or `None` for a line that was too long.
    pub fn text(&self) -> Option<&str> {
        match self {
            // Only printable ASCII is stored.
            Line::Text { bytes, len } => core::str::from_utf8(&bytes[..*len]).ok(),
            Line::TooLong => None,
        }
    }
}

/// The line being typed.
#[derive(Clone, Debug)]
pub struct LineEditor {
    bytes: [u8; MAX_LINE],
    len: usize,
    overflow: bool,
    /// The last byte ended a line with CR: a LF right after it belongs to the same Enter.
    after_cr: bool,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub const fn new() -> LineEditor {
        LineEditor { bytes: [0; MAX_LINE], len: 0, overflow: false, after_cr: false }
    }

    /// Take one received byte, write its echo to `echo`; the finished line at Enter.
    pub fn feed(&mut self, byte: u8, echo: &mut dyn Write) -> Option<Line> {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match byte {
            b'\n' if after_cr => None,
            b'\r' | b'\n' => {
                let _ = echo.write_str("\n");
                Some(self.finish())
            }
            BS | DEL => {
                if self.len > 0 && !self.overflow {
                    self.len -= 1;
                    let _ = echo.write_str("\x08 \x08");
                }
                None
            }
            CTRL_C => {
                let _ = echo.write_str("^C\n");
                self.finish();
                Some(Line::Text { bytes: [0; MAX_LINE], len: 0 })
            }
            b' '..=b'~' => {
                if self.len == MAX_LINE {
                    self.overflow = true;
                } else {
                    self.bytes[self.len] = byte;
                    self.len += 1;
                }
                let _ = echo.write_char(byte as char);
                None
            }
            _ => None,
        }
    }

    /// The line typed so far, and a fresh start.
    fn finish(&mut self) -> Line {
        let line = if self.overflow { Line::TooLong } else { Line::Text { bytes: self.bytes, len: self.len } };
        self.len = 0;
        self.overflow = false;
        line
    }
}
