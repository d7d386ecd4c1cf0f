//! `cargo xtask bench --insns`: what a boot costs QEMU, counted instead of timed. Under TCG a
//! boot's time goes to two things: translating each block of guest code the first time it
//! runs, and running the translated code. QEMU's own log (`-d in_asm,exec,nochain`) names every
//! block it translates with its instructions and every block it runs, so one boot gives, to
//! power-off, the guest instructions executed, the blocks and instructions translated, and
//! the functions that execute most (from the ELF's symbols). These counts stay within a few
//! hundred instructions from run to run, on a loaded machine too (the printk timestamps'
//! digits and the console's status polling depend on time), where the boot-time table's
//! milliseconds move by tens of percent.

use crate::build::Built;
use crate::qemu::{BootOptions, Machine};
use crate::Result;
use object::{Object, ObjectSymbol, SymbolKind};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// RAM sizes counted: the smallest and the largest of the boot-time table, and 64 GiB.
const SIZES: [&str; 3] = ["1G", "64G", "255G"];
/// Functions listed per size.
const TOP: usize = 8;

/// What one boot executed and translated.
#[derive(Default)]
struct Counts {
    executed: u64,
    blocks_run: u64,
    translated_blocks: u64,
    translated_insns: u64,
    /// Guest instructions executed per block start address.
    per_block: HashMap<u64, u64>,
}

/// Parse QEMU's `-d in_asm,exec,nochain` log: an `IN:` header, then one line per guest
/// instruction of the block translated (`0xADDR:  WORD  mnemonic`); a `Trace N: HOST
/// [FLAGS/PC/...]` line for each block run. Blocks are chained off, so every run is logged.
fn parse(log: impl BufRead) -> Result<Counts> {
    let mut c = Counts::default();
    let mut size: HashMap<u64, u64> = HashMap::new();
    let mut block: Option<(u64, u64)> = None;
    let close = |block: &mut Option<(u64, u64)>, size: &mut HashMap<u64, u64>, c: &mut Counts| {
        if let Some((pc, n)) = block.take() {
            size.insert(pc, n);
            c.translated_blocks += 1;
            c.translated_insns += n;
        }
    };
    for line in log.lines() {
        let line = line.map_err(|e| format!("QEMU's log: {e}"))?;
        if line.starts_with("IN:") {
            close(&mut block, &mut size, &mut c);
            block = Some((u64::MAX, 0));
        } else if let Some(rest) = line.strip_prefix("Trace ") {
            close(&mut block, &mut size, &mut c);
            let pc = rest.split('[').nth(1).and_then(|f| f.split('/').nth(1)).and_then(|pc| u64::from_str_radix(pc, 16).ok());
            let Some(pc) = pc else { continue };
            let n = size.get(&pc).copied().unwrap_or(0);
            c.executed += n;
            c.blocks_run += 1;
            *c.per_block.entry(pc).or_default() += n;
        } else if let (Some((pc, n)), Some(addr)) = (block.as_mut(), line.strip_prefix("0x").and_then(|l| l.split(':').next())) {
            if let Ok(a) = u64::from_str_radix(addr, 16) {
                if *n == 0 {
                    *pc = a;
                }
                *n += 1;
            }
        }
    }
    close(&mut block, &mut size, &mut c);
    Ok(c)
}

/// A legacy-mangled Rust symbol (`_ZN6kernel2mm4init17h0123456789abcdefE`) as a path without
/// its hash (`kernel::mm::init`); any other name as it is.
fn demangle(name: &str) -> String {
    let Some(mut rest) = name.strip_prefix("_ZN") else { return name.to_string() };
    let mut parts = Vec::new();
    while let Some(len_end) = rest.find(|c: char| !c.is_ascii_digit()).filter(|&i| i > 0) {
        let Ok(len) = rest[..len_end].parse::<usize>() else { break };
        let Some(part) = rest.get(len_end..len_end + len) else { break };
        rest = &rest[len_end + len..];
        if !(part.len() == 17 && part.starts_with('h') && part[1..].chars().all(|c| c.is_ascii_hexdigit())) {
            // A component that starts with an escape carries a '_' before it.
            parts.push(part.strip_prefix('_').filter(|p| p.starts_with('$')).unwrap_or(part).to_string());
        }
    }
    let path = parts.join("::");
    [("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$C$", ","), ("$RF$", "&"), ("$BP$", "*"), ("$u7b$", "{"), ("$u7d$", "}"), ("..", "::"), ("$", "")]
        .iter()
        .fold(path, |s, (from, to)| s.replace(from, to))
}

/// The ELF's function symbols, sorted by address, demangled.
fn functions(built: &Built) -> Result<Vec<(u64, String)>> {
    let data = std::fs::read(&built.elf).map_err(|e| format!("{}: {e}", built.elf.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("kernel ELF: {e}"))?;
    let mut f: Vec<(u64, String)> = file
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text)
        .filter_map(|s| Some((s.address(), demangle(s.name().ok()?))))
        .collect();
    f.sort();
    Ok(f)
}

/// The function holding `pc`: a link address, or a physical one from before the MMU is on.
fn function_of<'f>(functions: &'f [(u64, String)], built: &Built, pc: u64) -> &'f str {
    let link = if pc >> 63 == 1 { pc } else { pc.wrapping_sub(built.load_offset) };
    let i = functions.partition_point(|(a, _)| *a <= link);
    i.checked_sub(1).map_or("?", |i| functions[i].1.as_str())
}

/// One boot at each size with `-cpu cortex-a57`, counted; a table, then each size's top
/// functions.
pub fn run(built: &Built) -> Result<()> {
    let functions = functions(built)?;
    let log = crate::root().join("target").join("xtask").join("insns.log");
    println!("guest instructions of one boot to power-off, release kernel, -cpu cortex-a57 (QEMU's -d in_asm,exec,nochain)");
    println!("{:>5} | {:>12} | {:>10} | {:>17} | {:>21}", "RAM", "executed", "blocks run", "blocks translated", "instructions translated");
    let mut tops = Vec::new();
    for mem in SIZES {
        let opts = BootOptions { mem: mem.into(), smp: 1, cpu: "cortex-a57".into(), release: true, ..Default::default() };
        let machine = Machine::new(&opts, &built.image)?;
        let mut cmd = machine.command();
        cmd.args(["-d", "in_asm,exec,nochain", "-D"]).arg(&log);
        let status = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let status = status.map_err(|e| format!("cannot start QEMU: {e}"))?;
        if !status.success() {
            return Err(format!("QEMU exited with {status} at {mem}"));
        }
        let file = std::fs::File::open(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let c = parse(BufReader::new(file))?;
        let _ = std::fs::remove_file(&log);
        println!("{mem:>5} | {:>12} | {:>10} | {:>17} | {:>21}", c.executed, c.blocks_run, c.translated_blocks, c.translated_insns);
        let mut per_fn: HashMap<&str, u64> = HashMap::new();
        for (&pc, &n) in &c.per_block {
            *per_fn.entry(function_of(&functions, built, pc)).or_default() += n;
        }
        let mut per_fn: Vec<_> = per_fn.into_iter().collect();
        per_fn.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = per_fn.iter().take(TOP).map(|(f, n)| format!("  {n:>10}  {f}")).collect();
        tops.push((mem, top));
    }
    for (mem, top) in tops {
        println!("most executed at {mem}:");
        for line in top {
            println!("{line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two blocks translated (3 and 1 instructions), run 2 and 3 times: 9 instructions
    /// executed in 5 blocks; a run of an address never translated counts nothing.
    #[test]
    fn counts_follow_the_log() {
        let log = "\
IN: \n0x40000000:  580000c0  ldr      x0, #0x40000018\n0x40000004:  aa1f03e1  mov      x1, xzr\n0x40000008:  d61f0080  br       x4\n\n\
Trace 0: 0x7f00 [0000000000004000/0000000040000000/00000121/ff000200] \n\
IN: \n0xffff800008000000:  14000000  b        #0xffff800008000000\n\n\
Trace 0: 0x7f40 [0000000000004000/ffff800008000000/00000121/ff000200] \n\
Trace 0: 0x7f40 [0000000000004000/ffff800008000000/00000121/ff000200] \n\
Trace 0: 0x7f00 [0000000000004000/0000000040000000/00000121/ff000200] \n\
Trace 0: 0x7f40 [0000000000004000/ffff800008000000/00000121/ff000200] \n\
Trace 0: 0x7f80 [0000000000004000/0000000050000000/00000121/ff000200] \n";
        let c = parse(log.as_bytes()).unwrap();
        assert_eq!((c.translated_blocks, c.translated_insns), (2, 4));
        assert_eq!((c.executed, c.blocks_run), (3 * 2 + 3, 6));
        assert_eq!(c.per_block[&0x4000_0000], 6);
        assert_eq!(c.per_block[&0xffff_8000_0800_0000], 3);
    }

    #[test]
    fn legacy_symbols_lose_their_hash() {
        assert_eq!(demangle("_ZN6kernel2mm4init17memblock_free_all17h0123456789abcdefE"), "kernel::mm::init::memblock_free_all");
        assert_eq!(
            demangle("_ZN63_$LT$kernel..memmap..Pieces$u20$as$u20$core..iter..Iterator$GT$4next17h5c9d3349231ebb48E"),
            "<kernel::memmap::Pieces as core::iter::Iterator>::next"
        );
        assert_eq!(demangle("memcpy"), "memcpy");
    }
}
