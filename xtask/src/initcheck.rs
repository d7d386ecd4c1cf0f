//! The init sections' safety check, in the spirit of Linux's modpost section-mismatch check:
//! no code that runs after `free_initmem` may call into `[_sinittext, _einittext)`, whose
//! pages are unmapped and given away by then.
//!
//! From the built ELF: the roots are what runs after boot (`kernel_init`, which frees the
//! init sections and then runs the self-tests, the monitor and power-off; the exception
//! handler; the panic handler). Every direct branch (`bl`, `b`) is followed from them through
//! the function it lands in; a function reached that lies in the init text is an error, with
//! the chain of calls that reaches it. Indirect calls (`blr`: trait objects, function
//! pointers) are not followed: the boot-only paths hand no such pointer to later code.
//! The one call allowed is `selftest=initmem`'s, which must fault.

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Symbols where the code after boot starts: a legacy-mangled prefix, an exported name, and
/// the panic handler's name at the end of its v0-mangled symbol.
const ROOTS: [&str; 3] = ["_ZN6kernel11kernel_init", "handle_exception", "rust_begin_unwind"];
/// The init function `selftest=initmem` calls on purpose after free_initmem.
const ALLOWED: &str = "_ZN6kernel4arch7aarch647provoke15init_text_probe";

/// A function: its name and `[start, end)`.
struct Func<'a> {
    name: &'a str,
    end: u64,
}

/// The branch targets of the direct branches (`bl` and `b`, imm26) in `code` at `addr`.
fn branch_targets(code: &[u8], addr: u64) -> impl Iterator<Item = u64> + '_ {
    code.chunks_exact(4).enumerate().filter_map(move |(i, w)| {
        let insn = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        let op = insn & 0xfc00_0000;
        (op == 0x9400_0000 || op == 0x1400_0000).then(|| {
            // imm26, sign-extended, times 4
            let imm = ((insn << 6) as i32 >> 6) as i64 * 4;
            (addr + 4 * i as u64).wrapping_add(imm as u64)
        })
    })
}

/// Check the ELF at `elf`: `Err` names the first call chain from after boot into init text.
pub fn check(elf: &std::path::Path) -> Result<usize, String> {
    let data = std::fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("kernel ELF: {e}"))?;
    let sym = |name: &str| file.symbols().find(|s| s.name() == Ok(name)).map(|s| s.address());
    let (init_start, init_end) = match (sym("_sinittext"), sym("_einittext")) {
        (Some(s), Some(e)) => (s, e),
        _ => return Err("kernel ELF has no _sinittext/_einittext".into()),
    };
    let mut funcs: BTreeMap<u64, Func> = BTreeMap::new();
    for s in file.symbols().filter(|s| s.kind() == SymbolKind::Text && s.size() > 0) {
        if let Ok(name) = s.name() {
            funcs.insert(s.address(), Func { name, end: s.address() + s.size() });
        }
    }
    let containing = |a: u64| funcs.range(..=a).next_back().filter(|(_, f)| a < f.end).map(|(&s, _)| s);
    let code_of = |start: u64, end: u64| -> Option<&[u8]> {
        let sec = file.sections().find(|sec| sec.address() <= start && end <= sec.address() + sec.size())?;
        let bytes = sec.data().ok()?;
        bytes.get((start - sec.address()) as usize..(end - sec.address()) as usize)
    };
    let mut from: HashMap<u64, Option<u64>> = HashMap::new();
    let mut queue = VecDeque::new();
    for (&start, f) in &funcs {
        if ROOTS.iter().any(|r| f.name.starts_with(r) || f.name.ends_with(r)) {
            from.insert(start, None);
            queue.push_back(start);
        }
    }
    if queue.len() < ROOTS.len() {
        return Err(format!("found {} of the roots {ROOTS:?} in the kernel ELF", queue.len()));
    }
    while let Some(start) = queue.pop_front() {
        let f = &funcs[&start];
        if (init_start..init_end).contains(&start) {
            if f.name.starts_with(ALLOWED) {
                continue;
            }
            let mut chain = vec![f.name];
            let mut at = start;
            while let Some(Some(caller)) = from.get(&at) {
                chain.push(funcs[caller].name);
                at = *caller;
            }
            chain.reverse();
            return Err(format!("code that runs after free_initmem calls into .init.text: {}", chain.join(" -> ")));
        }
        let Some(code) = code_of(start, f.end) else { continue };
        for target in branch_targets(code, start) {
            if let Some(callee) = containing(target) {
                if callee != start && !from.contains_key(&callee) {
                    from.insert(callee, Some(start));
                    queue.push_back(callee);
                }
            }
        }
    }
    Ok(from.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bl_and_b_targets_are_decoded_both_ways() {
        // bl +8 at 0x1000 -> 0x1008; b -4 at 0x1004 -> 0x1000; a nop is no branch.
        let code: Vec<u8> = [0x9400_0002u32, 0x17ff_ffff, 0xd503_201f].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(branch_targets(&code, 0x1000).collect::<Vec<_>>(), [0x1008, 0x1000]);
    }
}
