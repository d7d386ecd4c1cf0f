//! The README's example boot log, checked against a real boot so that it cannot drift.
//!
//! The fenced block under `### Example boot log` starts with the command it shows,
//! `$ cargo xtask qemu [OPTIONS]`; every further line is a console line as the terminal shows
//! it: the printk timestamp, the message, and optionally a note for the reader after two or
//! more spaces and `<- `. `cargo xtask test` boots the kernel with the same options and
//! requires the console, line for line, to be the block without timestamps and notes
//! (trailing blanks aside: the notes are aligned with spaces).

use crate::qemu::{run_captured, BootOptions, Machine};
use crate::test::message;
use crate::{build, root, Result};
use clap::Parser;
use std::time::Duration;

const HEADING: &str = "### Example boot log";
const PROMPT: &str = "$ cargo xtask qemu";
/// What separates a console line from the note a person added to it.
const NOTE: &str = "  <- ";

/// `cargo xtask qemu`'s options, parsed from the README's command line as the real command
/// parses them.
#[derive(Parser)]
#[command(name = "cargo xtask qemu", no_binary_name = true)]
struct QemuCommand {
    #[command(flatten)]
    opts: BootOptions,
}

/// The example: the options of its command and its console lines as printed.
#[derive(Debug, PartialEq)]
pub struct Example<'a> {
    pub args: Vec<String>,
    pub lines: Vec<&'a str>,
}

/// Find the example block in the README text.
pub fn example(readme: &str) -> Result<Example<'_>> {
    let mut lines = readme.lines().skip_while(|l| l.trim_end() != HEADING);
    if lines.next().is_none() {
        return Err(format!("README.md has no '{HEADING}' heading"));
    }
    let mut lines = lines.skip_while(|l| !l.starts_with("```"));
    if lines.next().is_none() {
        return Err(format!("no code block under '{HEADING}'"));
    }
    let command = lines.next().unwrap_or_default();
    let Some(args) = command.strip_prefix(PROMPT) else {
        return Err(format!("the example block must start with '{PROMPT}', not '{command}'"));
    };
    let args = split_words(args)?;
    let block: Vec<&str> = lines.take_while(|l| !l.starts_with("```")).collect();
    Ok(Example { args, lines: block })
}

/// Split a command line into words: blanks separate, double quotes group.
fn split_words(s: &str) -> Result<Vec<String>> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err(format!("unbalanced quote in '{s}'"));
    }
    if any {
        words.push(word);
    }
    Ok(words)
}

/// A console line as the example shows it, reduced to what the kernel printed: no
/// timestamp, no note, no trailing blanks.
pub fn console_part(line: &str) -> &str {
    let line = message(line);
    line.find(NOTE).map_or(line, |i| &line[..i]).trim_end()
}

/// Compare the example's lines with a console; the error names the first line that differs.
pub fn compare(example: &[&str], console: &str) -> std::result::Result<(), String> {
    let shown: Vec<&str> = example.iter().map(|l| console_part(l)).collect();
    let booted: Vec<&str> = console.lines().map(|l| message(l).trim_end()).collect();
    if shown == booted {
        return Ok(());
    }
    let at = shown.iter().zip(&booted).position(|(a, b)| a != b).unwrap_or(shown.len().min(booted.len()));
    Err(format!(
        "the README's example boot log differs from a real boot at line {}: README {:?}, boot {:?}",
        at + 1,
        shown.get(at),
        booted.get(at)
    ))
}

/// Boot the README's command and compare; on a difference, show the real console to paste.
pub fn check(limit: Duration) -> Result<Duration> {
    let path = root().join("README.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ex = example(&text)?;
    let opts = QemuCommand::try_parse_from(&ex.args)
        .map_err(|e| format!("README command '{PROMPT} {}': {e}", ex.args.join(" ")))?
        .opts;
    let built = build::build(opts.release)?;
    let machine = Machine::new(&opts, &built.image)?;
    let boot = run_captured(&mut machine.command(), limit)?;
    if boot.status.is_none() {
        return Err(format!("QEMU did not exit within {limit:?}"));
    }
    compare(&ex.lines, &boot.stdout).map_err(|why| format!("{why}\n--- the real console ---\n{}---", boot.stdout))?;
    Ok(boot.elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "\
# x

### Example boot log

```
$ cargo xtask qemu --mem 2G --append \"loglevel=8 quiet\"
[    0.006619] Booting memboot   <- MPIDR
[    0.010970] Fallback order for Node 0: 0
[    0.036629] boot: complete                 <- stable marker
```

### Next
";

    #[test]
    fn the_block_under_the_heading_with_its_command_words() {
        let ex = example(README).unwrap();
        assert_eq!(ex.args, ["--mem", "2G", "--append", "loglevel=8 quiet"]);
        assert_eq!(ex.lines.len(), 3);
        assert!(ex.lines[2].ends_with("stable marker"));
        let opts = QemuCommand::try_parse_from(&ex.args).unwrap().opts;
        assert_eq!((opts.mem.as_str(), opts.append.as_deref()), ("2G", Some("loglevel=8 quiet")));
    }

    #[test]
    fn a_block_without_the_command_is_refused() {
        let text = README.replace("$ cargo xtask qemu", "$ cargo xtask gdb");
        assert!(example(&text).unwrap_err().contains("must start with"));
        assert!(example("no heading").is_err());
        assert!(split_words("--append \"a b").is_err());
    }

    #[test]
    fn timestamps_notes_and_trailing_blanks_do_not_count() {
        let ex = example(README).unwrap();
        // The kernel prints "Fallback order for Node 0: 0 " (one "%d " per node); the
        // README line has no trailing blank, and its notes are not the kernel's.
        let console = "[    0.100000] Booting memboot\n\
                       [    0.200000] Fallback order for Node 0: 0 \n\
                       [    0.300000] boot: complete\n";
        assert_eq!(compare(&ex.lines, console), Ok(()));
    }

    #[test]
    fn a_changed_missing_or_extra_line_is_reported_with_its_number() {
        let ex = example(README).unwrap();
        let changed = "Booting memboot\nFallback order for Node 0: 1\nboot: complete\n";
        assert!(compare(&ex.lines, changed).unwrap_err().contains("at line 2"));
        let extra = "Booting memboot\nNUMA: NODE_DATA\nFallback order for Node 0: 0\nboot: complete\n";
        assert!(compare(&ex.lines, extra).unwrap_err().contains("at line 2"));
        let short = "Booting memboot\nFallback order for Node 0: 0\n";
        assert!(compare(&ex.lines, short).unwrap_err().contains("at line 3"));
    }
}
