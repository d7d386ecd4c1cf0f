//! The console monitor, driven through QEMU's stdin (`-serial stdio`): a boot with `monitor`
//! on the reserved-memory overlay, every command once, `alloc`/`free` checked against
//! buddyinfo before and after, bad input, `poweroff`; QEMU must exit 0 with a clean boot.
//! Each answer is checked against the boot log of the same boot where the log says the same
//! thing. The whole session is bounded by `LIMIT`; its transcript is kept in
//! `target/xtask/test/logs/monitor.log`.

use crate::qemu::{BootOptions, Guard, Machine, Outcome};
use crate::test::message;
use crate::{build, Result};
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The monitor's prompt (kernel::monitor::PROMPT).
pub const PROMPT: &str = "memboot> ";
/// The whole session, boot included.
const LIMIT: Duration = Duration::from_secs(60);

/// A QEMU whose console we type into (also `cargo xtask qemu --svg`'s).
pub struct Session {
    guard: Guard,
    /// Owns the files QEMU reads (an overlaid tree), removed with the session.
    _machine: Machine,
    input: std::process::ChildStdin,
    output: Receiver<Vec<u8>>,
    /// Everything received, `\r` removed.
    seen: String,
    /// How much of `seen` has been consumed.
    at: usize,
    deadline: Instant,
}

impl Session {
    /// Boot `image` with `opts` (`monitor` is added) and read its console; the whole session
    /// ends by `limit` from now.
    pub fn start(opts: &BootOptions, image: &std::path::Path, limit: Duration) -> Result<Session> {
        let start = Instant::now();
        let opts = BootOptions { monitor: true, ..opts.clone() };
        let machine = Machine::new(&opts, image)?;
        let mut child = machine
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start QEMU: {e}"))?;
        let input = child.stdin.take().expect("piped");
        let mut pipe = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(Session { guard: Guard(child), _machine: machine, input, output: rx, seen: String::new(), at: 0, deadline: start + limit })
    }

    /// Everything the console printed so far.
    pub fn seen(&self) -> &str {
        &self.seen
    }

    /// Type `poweroff`; QEMU must then exit cleanly.
    pub fn poweroff(&mut self) -> Result<()> {
        self.input.write_all(b"poweroff\r").map_err(|e| e.to_string())?;
        self.until("reboot: Power down\n")?;
        let left = self.deadline.saturating_duration_since(Instant::now());
        let status = crate::qemu::wait_bounded(&mut self.guard, left).ok_or("QEMU still running after poweroff")?;
        let _ = self.until("\u{0}"); // drain what is left (ends when the pipe closes)
        match Outcome::classify(&self.seen, Some(status)) {
            Outcome::Clean => Ok(()),
            o => Err(format!("the session ended as '{}'", o.describe())),
        }
    }

    /// Wait for `marker` after what was consumed; return the text up to it and consume it.
    pub fn until(&mut self, marker: &str) -> Result<String> {
        loop {
            if let Some(i) = self.seen[self.at..].find(marker) {
                let text = self.seen[self.at..self.at + i].to_string();
                self.at += i + marker.len();
                return Ok(text);
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes).replace('\r', "")),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no '{}' within {LIMIT:?}", marker.escape_debug()));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("QEMU's output ended before '{}'", marker.escape_debug()));
                }
            }
        }
    }

    /// Type `keys` (ending in Enter), wait for the next prompt; the answer without the echo.
    fn send(&mut self, keys: &str, echo: &str) -> Result<String> {
        self.input.write_all(keys.as_bytes()).and_then(|()| self.input.flush()).map_err(|e| e.to_string())?;
        let answer = self.until(PROMPT)?;
        answer
            .strip_prefix(&format!("{echo}\n"))
            .map(String::from)
            .ok_or_else(|| format!("typed {keys:?}: the echo is not {echo:?} and a newline: {answer:?}"))
    }

    /// Type `cmd` and Enter (CR, as a terminal sends it).
    pub fn cmd(&mut self, cmd: &str) -> Result<String> {
        self.send(&format!("{cmd}\r"), cmd)
    }
}

/// Free blocks per order of each zone, from buddyinfo lines (`Node 0, zone      DMA  n0 .. n10`).
fn buddyinfo(text: &str) -> Result<Vec<(String, Vec<u64>)>> {
    text.lines()
        .map(|l| {
            let rest = l.strip_prefix("Node 0, zone ").ok_or_else(|| format!("not a buddyinfo line: {l:?}"))?;
            let mut words = rest.split_whitespace();
            let zone = words.next().ok_or("no zone name")?.to_string();
            let counts = words.map(|w| w.parse::<u64>().map_err(|e| format!("{w}: {e}"))).collect::<Result<Vec<_>>>()?;
            if counts.len() != 11 {
                return Err(format!("{} orders, not 11: {l:?}", counts.len()));
            }
            Ok((zone, counts))
        })
        .collect()
}

/// `alloc: order 3 (8 pages) at pfn 0x..., pa 0x..., zone NAME` -> (pfn, zone).
fn allocated(text: &str) -> Result<(u64, String)> {
    let bad = || format!("not an alloc answer: {text:?}");
    let rest = text.trim_end().strip_prefix("alloc: order 3 (8 pages) at pfn 0x").ok_or_else(bad)?;
    let (pfn, rest) = rest.split_once(", pa 0x").ok_or_else(bad)?;
    let (pa, zone) = rest.split_once(", zone ").ok_or_else(bad)?;
    let pfn = u64::from_str_radix(pfn, 16).map_err(|_| bad())?;
    let pa = u64::from_str_radix(pa, 16).map_err(|_| bad())?;
    if pa != pfn << 12 {
        return Err(format!("pa {pa:#x} is not pfn {pfn:#x} << 12"));
    }
    Ok((pfn, zone.to_string()))
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

pub fn run(built: &build::Built, logs: &std::path::Path) -> Result<Duration> {
    let start = Instant::now();
    let opts = BootOptions {
        mem: "1G".into(),
        smp: 1,
        cpu: "max".into(),
        overlay: Some("reserved-memory".into()),
        ..Default::default()
    };
    let mut s = Session::start(&opts, &built.image, LIMIT)?;
    let result = dialogue(&mut s, built.text_end);
    let _ = std::fs::write(logs.join("monitor.log"), &s.seen);
    result.map_err(|e| format!("{e}\n--- console ---\n{}---", s.seen))?;
    Ok(start.elapsed())
}

/// The session; `image` is `[_stext, _end)` of the kernel booted, physical.
fn dialogue(s: &mut Session, image: (u64, u64)) -> Result<()> {
    let boot = s.until(PROMPT)?;
    let boot_lines: Vec<&str> = boot.lines().map(message).collect();
    ensure(boot_lines.contains(&"boot: complete"), || "no `boot: complete` before the prompt".into())?;
    ensure(boot_lines.last() == Some(&"monitor: type 'help' for the commands"), || "no monitor banner".into())?;

    let help = s.cmd("help")?;
    for c in ["help", "dmesg", "memblock", "iomem", "buddyinfo", "zoneinfo", "rmem", "memmap", "ptdump", "alloc", "free", "poweroff"] {
        ensure(help.lines().any(|l| l.trim_start().starts_with(c)), || format!("help does not list {c}: {help}"))?;
    }

    // alloc 3 takes the smallest free block of order >= 3 in the zone it reports (the
    // allocator's __rmqueue_smallest), say of order k, and splits it (expand): it keeps 2^3
    // pages and puts one half of each order 3, 4, .., k-1 back on its list. So that zone's
    // count of order k drops by one, those of orders 3..k rise by one each, nothing else
    // moves. Freeing the block merges the halves back: buddyinfo is as before.
    let before = buddyinfo(&s.cmd("buddyinfo")?)?;
    let (pfn, zone) = allocated(&s.cmd("alloc 3")?)?;
    ensure(pfn % 8 == 0, || format!("pfn {pfn:#x} is not aligned to order 3"))?;
    let after = buddyinfo(&s.cmd("buddyinfo")?)?;
    let mut expected = before.clone();
    let counts = &mut expected.iter_mut().find(|(z, _)| *z == zone).ok_or_else(|| format!("no zone {zone}"))?.1;
    let k = (3..11).find(|&o| counts[o] > 0).ok_or("alloc 3 succeeded with no free block of order >= 3")?;
    counts[k] -= 1;
    for c in &mut counts[3..k] {
        *c += 1;
    }
    ensure(after == expected, || format!("buddyinfo after alloc 3 (split from order {k}): {after:?}, expected {expected:?}"))?;
    // The wrong order is refused before the allocator sees it.
    let wrong = s.cmd(&format!("free {pfn:#x} 2"))?;
    let want = format!("monitor: free: pfn {pfn:#x} was allocated with order 3; free it with that order\n");
    ensure(wrong == want, || format!("free with order 2 answered {wrong:?}"))?;
    let freed = s.cmd(&format!("free {pfn:#x} 3"))?;
    ensure(freed == format!("free: order 3 (8 pages) at pfn {pfn:#x}\n"), || format!("free answered {freed:?}"))?;
    // Typed with a typo, erased with DEL, and ended with CR LF: the same command.
    let again = s.send("buddyinfx\x7fo\r\n", "buddyinfx\x08 \x08o")?;
    ensure(buddyinfo(&again)? == before, || format!("buddyinfo after free: {again}, expected {before:?}"))?;

    // Refusals and bad input: one line each, then the prompt (which `cmd` waits for).
    let refused = s.cmd(&format!("free {pfn:#x} 3"))?;
    let want = format!("monitor: free: pfn {pfn:#x} was not allocated by 'alloc'; refusing to free it\n");
    ensure(refused == want, || format!("a second free answered {refused:?}"))?;
    for (bad, want) in [
        ("frobnicate", "monitor: unknown command 'frobnicate' (try 'help')\n"),
        ("alloc 11", "monitor: order 11 out of range 0..=10\n"),
        ("free 0x40000", "monitor: free: missing ORDER (try 'help')\n"),
    ] {
        let got = s.cmd(bad)?;
        ensure(got == want, || format!("{bad:?} answered {got:?}, expected {want:?}"))?;
    }

    // dmesg is the log of this boot (the log buffer holds all of it at this size): every
    // console line, in order, and in between only the debug lines the console did not show.
    let dmesg = s.cmd("dmesg")?;
    let mut logged = dmesg.lines().map(message);
    for line in boot_lines.iter().filter(|l| !l.starts_with("monitor: ")) {
        ensure(logged.any(|l| l == *line), || format!("dmesg lacks (in order) {line:?}:\n{dmesg}"))?;
    }
    ensure(logged.next().is_none(), || format!("dmesg goes on past `boot: complete`:\n{dmesg}"))?;

    // memblock.memory and iomem's top level: one entry per region the boot listed under
    // "Early memory node ranges" (node 0 only here); no-map ones are "reserved".
    let ranges: Vec<(u64, u64)> = boot_lines
        .iter()
        .filter_map(|l| l.strip_prefix("  node   0: [mem 0x")?.strip_suffix(']')?.split_once("-0x"))
        .map(|(a, b)| (u64::from_str_radix(a, 16).unwrap_or(0), u64::from_str_radix(b, 16).unwrap_or(0)))
        .collect();
    let memblock = s.cmd("memblock")?;
    ensure(memblock.starts_with("MEMBLOCK configuration:\n"), || format!("memblock: {memblock}"))?;
    let cnt = format!(" memory.cnt  = {:#x}\n", ranges.len());
    ensure(memblock.contains(&cnt), || format!("memblock has no '{}': {memblock}", cnt.trim_end()))?;
    let iomem = s.cmd("iomem")?;
    let top: Vec<&str> = iomem.lines().filter(|l| !l.starts_with(' ')).collect();
    let nomap: Vec<(u64, u64)> = vec![(0x5200_0000, 0x520f_ffff)]; // firmware@52000000 (no-map)
    let want: Vec<String> = ranges
        .iter()
        .map(|&(a, b)| format!("{a:08x}-{b:08x} : {}", if nomap.contains(&(a, b)) { "reserved" } else { "System RAM" }))
        .collect();
    ensure(top == want, || format!("iomem top level {top:?}, expected {want:?}"))?;
    // The image: code from _stext, data up to _end; the named regions where the boot put them.
    let code = format!("\n  {:08x}-", image.0);
    let data = format!("-{:08x} : Kernel data\n", image.1 - 1);
    for want in [&code, &data, "\n  52000000-520fffff : firmware@52000000\n", "\n  50000000-503fffff : carveout@50000000\n"] {
        ensure(iomem.contains(want), || format!("iomem has no {want:?}:\n{iomem}"))?;
    }
    let code_line = iomem.lines().find(|l| l.contains(" : Kernel code")).ok_or("iomem has no Kernel code")?;
    ensure(code_line.starts_with(code.trim_start_matches('\n')), || format!("iomem: {code_line}, expected it to start at {:#x}", image.0))?;

    // rmem: each region the boot initialised, with the hook it named; firmware is no-map.
    let rmem = s.cmd("rmem")?;
    for l in boot_lines.iter().filter_map(|l| l.strip_prefix("OF: reserved mem: initialized node ")) {
        let (node, compat) = l.split_once(", compatible id ").ok_or_else(|| format!("odd line {l}"))?;
        let line = rmem.lines().find(|r| r.starts_with(&format!("{node} "))).ok_or_else(|| format!("rmem has no {node}:\n{rmem}"))?;
        ensure(line.ends_with(&format!("hook: {compat}")), || format!("rmem {line:?} does not name hook {compat}"))?;
    }
    let fw = rmem.lines().find(|r| r.starts_with("firmware@52000000 ")).ok_or("rmem has no firmware@52000000")?;
    ensure(fw.contains("[mem 0x0000000052000000-0x00000000520fffff] no-map "), || format!("rmem: {fw}"))?;
    let cma = rmem.lines().find(|r| r.starts_with("linux,cma ")).ok_or("rmem has no linux,cma")?;
    ensure(cma.contains("[mem 0x000000006f000000-0x000000006fffffff] reusable "), || format!("rmem: {cma}"))?;

    // zoneinfo: each populated zone's free pages are what its buddyinfo blocks add up to.
    let zoneinfo = s.cmd("zoneinfo")?;
    for (zone, counts) in &before {
        let free: u64 = counts.iter().enumerate().map(|(o, n)| n << o).sum();
        let head = format!("Node 0, zone {zone:>8}\n  pages free     {free}\n");
        ensure(zoneinfo.contains(&head), || format!("zoneinfo has no '{head}':\n{zoneinfo}"))?;
    }

    // ptdump: the whole dump starts with the linear map; a range is cut at its ends.
    let ptdump = s.cmd("ptdump")?;
    ensure(ptdump.starts_with("---[ Linear Mapping start ]---\n"), || format!("ptdump: {ptdump}"))?;
    let part = s.cmd("ptdump 0xffff000000000000 0xffff000000200000")?;
    let lines: Vec<&str> = part.lines().collect();
    ensure(
        !lines.is_empty()
            && lines[0].starts_with("0xffff000000000000-")
            && lines.last().is_some_and(|l| l.starts_with("0xffff0000") && l.contains("-0xffff000000200000 ")),
        || format!("ptdump of a range: {part}"),
    )?;

    s.poweroff()
}
