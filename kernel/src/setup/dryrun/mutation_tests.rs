//! The deterministic mutation test: thousands of broken and hostile variants of real trees,
//! each run through the dry-run's whole path (placement, header check, setup_arch,
//! paging_init, bootmem_init and the host's mem_init, as `cargo xtask memmap` runs them).
//! Each must end accepted (maybe with warnings), refused with a one-line error, or in the panic
//! the boot would print, with the exit status saying which, within a time bound; a Rust panic
//! (overflow, index, unwrap) fails the test with the mutant's recipe.
//!
//! The trees: two hand-built ones always, and, when `MEMBOOT_DTB_CORPUS` names a directory
//! (`cargo xtask test` fills one with QEMU's own tree, `-M virt,dumpdtb= -m 1G -cpu max`, and
//! that tree with each `dts/` overlay applied), every `.dtb` in it. The mutants come from a
//! fixed-seed xorshift generator, so a failure repeats.

use super::host::{mem_init, HostLimit};
use super::{qemu_dtb_addr, DryRun, Ending};
use crate::mm::memblock::Memblock;
use crate::mm::PhysAddr;
use crate::of::fdt::{Fdt, Node};
use crate::of::testblob::Builder;
use std::string::{String, ToString};
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::{format, vec};

/// Each mutant's own bound (the whole test stays well under a minute on a 2-core machine).
const MUTANT_LIMIT: Duration = Duration::from_secs(5);
/// Host memory a mutant's mem_init may take: a 1 GiB node takes 17 MiB (so every base tree
/// is simulated to the end); what a mutant claims beyond 64 MiB ends in `HostLimit`.
const HOST_LIMIT: u64 = 64 << 20;
/// Where the kernel image lies: QEMU's `-kernel` loads the Image at the RAM base plus its
/// `text_offset` (2 MiB).
const KERNEL: (PhysAddr, PhysAddr) = (PhysAddr(0x4020_0000), PhysAddr(0x4060_0000));

/// A fixed-seed xorshift64 generator.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn pick<'t, T>(&mut self, v: &'t [T]) -> &'t T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// A tree as nodes and properties, rebuilt into a blob after a structural mutation.
#[derive(Clone)]
pub(crate) struct Tree {
    pub(crate) reserve: Vec<(u64, u64)>,
    pub(crate) root: Model,
}

#[derive(Clone)]
pub(crate) struct Model {
    pub(crate) name: String,
    pub(crate) props: Vec<(String, Vec<u8>)>,
    pub(crate) children: Vec<Model>,
}

impl Model {
    fn read(node: &Node) -> Model {
        Model {
            name: node.name.to_string(),
            props: node.properties().map(|p| (p.name.to_string(), p.value.to_vec())).collect(),
            children: node.children().map(|c| Model::read(&c)).collect(),
        }
    }
    fn node(name: &str, props: &[(&str, &[u8])]) -> Model {
        Model { name: name.into(), props: props.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect(), children: vec![] }
    }
    fn write(&self, b: &mut Builder) {
        b.begin(&self.name);
        for (name, value) in &self.props {
            b.prop(name, value);
        }
        for c in &self.children {
            c.write(b);
        }
        b.end();
    }
    fn set(&mut self, name: &str, value: Vec<u8>) {
        match self.props.iter_mut().find(|p| p.0 == name) {
            Some(p) => p.1 = value,
            None => self.props.push((name.into(), value)),
        }
    }
    fn child(&mut self, name: &str) -> Option<&mut Model> {
        self.children.iter_mut().find(|c| c.name == name || c.name.split('@').next() == Some(name))
    }
    /// Every node, depth first, as paths of child indices.
    fn paths(&self, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        out.push(at.clone());
        for (i, c) in self.children.iter().enumerate() {
            at.push(i);
            c.paths(at, out);
            at.pop();
        }
    }
    fn at(&mut self, path: &[usize]) -> &mut Model {
        path.iter().fold(self, |n, &i| &mut n.children[i])
    }
}

impl Tree {
    pub(crate) fn read(blob: &[u8]) -> Tree {
        let fdt = Fdt::new(blob).expect("a base tree parses");
        Tree { reserve: fdt.memory_reservations().collect(), root: Model::read(&fdt.root().unwrap()) }
    }
    pub(crate) fn write(&self) -> Vec<u8> {
        let mut b = Builder::new();
        self.root.write(&mut b);
        b.finish(&self.reserve)
    }
}

fn be32(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}
fn be64(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}
fn reg(entries: &[(u64, u64)]) -> Vec<u8> {
    entries.iter().flat_map(|&(a, s)| [be64(a), be64(s)].concat()).collect()
}

/// Values near the top of the 64-bit space, and the edges around them.
fn hostile_number(rng: &mut Rng) -> u64 {
    let (near_top, any) = (u64::MAX - rng.below(0x3000), rng.next());
    *rng.pick(&[near_top, u64::MAX, u64::MAX & !0xfff, 1 << 63, (1 << 48) - 1, 1 << 48, 0, 1, 0xfff, any])
}

/// One structural mutation of `t` (the recipe names it).
fn mutate_tree(t: &mut Tree, rng: &mut Rng) -> String {
    let mut paths = Vec::new();
    t.root.paths(&mut Vec::new(), &mut paths);
    match rng.below(14) {
        0 => {
            // Cell counts 0, 3, 4, or 8-byte values, on the root or any node.
            let path = rng.pick(&paths).clone();
            let name = *rng.pick(&["#address-cells", "#size-cells"]);
            let value = rng.pick(&[be32(0), be32(3), be32(4), be32(1), vec![0; 8], [be32(0), be32(2)].concat(), [be32(2), be32(2)].concat()]).clone();
            t.root.at(&path).set(name, value.clone());
            format!("{name} = {value:02x?} at {path:?}")
        }
        1 | 2 => {
            // A reg (or size, alignment, alloc-ranges, linux,usable-memory) with numbers near 2^64.
            let path = rng.pick(&paths).clone();
            let node = t.root.at(&path);
            let names = ["reg", "size", "alignment", "alloc-ranges", "linux,usable-memory"];
            let name = *rng.pick(&names);
            let entries: Vec<(u64, u64)> = (0..1 + rng.below(2)).map(|_| (hostile_number(rng), hostile_number(rng))).collect();
            let value = if name == "size" || name == "alignment" { be64(entries[0].1) } else { reg(&entries) };
            node.set(name, value);
            format!("{name} = {entries:#x?} at {path:?} ({})", node.name)
        }
        3 => {
            // A reg one cell too long or too short.
            let path = rng.pick(&paths).clone();
            let node = t.root.at(&path);
            let Some(p) = node.props.iter_mut().find(|p| p.0 == "reg") else { return "no reg".into() };
            if rng.below(2) == 0 || p.1.len() < 4 {
                p.1.extend(be32(0x1000));
            } else {
                p.1.truncate(p.1.len() - 4);
            }
            format!("reg of {} off by one cell", node.name)
        }
        4 => {
            // A memory bank at the top of the space: ending at 2^64 with an unaligned base, in
            // the last page, or claiming [0, 2^64) or 128 TiB.
            let (base, size) = *rng.pick(&[
                (u64::MAX - 0x2fff + 0x800, 0x2800),
                (u64::MAX & !0xfff, 0x1000),
                ((u64::MAX & !0xfff) + 0x10, 0xff0),
                (0, u64::MAX),
                (0x4000_0000, 128 << 40),
                (0x4000_0000, u64::MAX - 0x4000_0000 + 1),
                (u64::MAX - 0x1_0000_0000 + 1, 0x1_0000_0000),
                // Far above the other RAM: a node with a hole of hundreds of GiB.
                (0x88_0000_0000, 6 << 30),
            ]);
            let name = format!("ram@{base:x}");
            let mut m = Model::node(&name, &[("device_type", b"memory\0"), ("reg", &reg(&[(base, size)]))]);
            if rng.below(2) == 0 {
                m.set("numa-node-id", be32(rng.below(5) as u32));
            }
            t.root.children.push(m);
            format!("memory [{base:#x}+{size:#x}]")
        }
        5 => {
            // /chosen: an initrd near 2^64 or reversed, hostile command lines.
            let chosen = match t.root.child("chosen") {
                Some(c) => c,
                None => {
                    t.root.children.push(Model::node("chosen", &[]));
                    t.root.children.last_mut().unwrap()
                }
            };
            let (s, e) = (hostile_number(rng), hostile_number(rng));
            chosen.set("linux,initrd-start", be64(s));
            chosen.set("linux,initrd-end", be64(e));
            let args = *rng.pick(&["", "mem=1", "mem=4095M", "mem=512MB", "mem=garbage", "mem=18446744073709551615", "mem=16E", "memblock=debug", "loglevel=99 mem=0x1"]);
            chosen.set("bootargs", [args.as_bytes(), b"\0"].concat());
            format!("initrd [{s:#x}, {e:#x}) bootargs {args:?}")
        }
        6 => {
            // The console's reg with a size (or base) near 2^64.
            let Some(c) = t.root.children.iter_mut().find(|c| c.name.starts_with("pl011")) else { return "no console".into() };
            let (b, s) = (hostile_number(rng), hostile_number(rng));
            c.set("reg", reg(&[(b, s)]));
            format!("console reg [{b:#x}+{s:#x}]")
        }
        7 => {
            // Nesting past 64 levels.
            let depth = 60 + rng.below(80) as usize;
            let mut chain = Model::node("deep", &[("reg", &reg(&[(0x4000_0000, 0x1000)]))]);
            for _ in 0..depth {
                let inner = core::mem::replace(&mut chain, Model::node("deep", &[]));
                chain.children.push(inner);
            }
            t.root.children.push(chain);
            format!("nesting {depth}")
        }
        8 => {
            // Thousands of nodes, under the root or /reserved-memory (with reg, no-map,
            // size-only, and numa-node-id on some).
            let n = 1000 + rng.below(3000) as usize;
            let under_rmem = rng.below(2) == 0;
            let mut kids = Vec::with_capacity(n);
            for i in 0..n as u64 {
                let mut m = Model::node(&format!("n@{i:x}"), &[("reg", &reg(&[(0x4000_0000 + i * 0x2000, 0x1000)]))]);
                if i % 7 == 0 {
                    m.set("no-map", vec![]);
                }
                if i % 11 == 0 {
                    m.props.retain(|p| p.0 != "reg");
                    m.set("size", be64(0x1000));
                }
                kids.push(m);
            }
            match t.root.child("reserved-memory").filter(|_| under_rmem) {
                Some(r) => r.children.extend(kids),
                None => t.root.children.extend(kids),
            }
            format!("{n} nodes, under /reserved-memory: {under_rmem}")
        }
        9 => {
            // Thousands of /memreserve/ entries, some hostile.
            let n = 1000 + rng.below(4000) as usize;
            for i in 0..n as u64 {
                let e = if i % 97 == 0 { (hostile_number(rng), hostile_number(rng)) } else { (0x4000_0000 + i * 0x3000, 0x1000 + i) };
                t.reserve.push(e);
            }
            format!("{n} /memreserve/ entries")
        }
        10 => {
            // numa-node-id on some memory nodes, out of range, or 8 bytes long.
            let v = rng.pick(&[be32(0), be32(1), be32(3), be32(4), be32(u32::MAX), vec![0; 8], vec![]]).clone();
            let mems: Vec<usize> = (0..t.root.children.len()).filter(|&i| t.root.children[i].name.starts_with("memory")).collect();
            if let Some(&i) = mems.first() {
                t.root.children[i].set("numa-node-id", v.clone());
            }
            format!("numa-node-id {v:02x?}")
        }
        11 => {
            // A reserved-memory child with a hostile alignment, alloc-ranges or a no-map
            // region that is not page aligned.
            let rmem = match t.root.child("reserved-memory") {
                Some(r) => r,
                None => {
                    t.root.children.push(Model::node("reserved-memory", &[("#address-cells", &be32(2)), ("#size-cells", &be32(2)), ("ranges", &[])]));
                    t.root.children.last_mut().unwrap()
                }
            };
            let mut m = Model::node("hostile", &[("size", &be64(hostile_number(rng) | 0x1000))]);
            match rng.below(3) {
                0 => m.set("alignment", be64(hostile_number(rng))),
                1 => m.set("alloc-ranges", reg(&[(hostile_number(rng), hostile_number(rng))])),
                _ => {
                    m.props.clear();
                    m.set("reg", reg(&[(0x5000_0800, 0x1000)]));
                    m.set("no-map", vec![]);
                }
            }
            m.set("compatible", b"shared-dma-pool\0".to_vec());
            if rng.below(2) == 0 {
                m.set("reusable", vec![]);
            }
            rmem.children.push(m);
            "hostile reserved-memory child".into()
        }
        12 => {
            // A property removed, or its value emptied.
            let path = rng.pick(&paths).clone();
            let node = t.root.at(&path);
            if node.props.is_empty() {
                return "nothing to remove".into();
            }
            let i = rng.below(node.props.len() as u64) as usize;
            let name = node.props[i].0.clone();
            if rng.below(2) == 0 {
                node.props.remove(i);
            } else {
                node.props[i].1.clear();
            }
            format!("{name} removed or emptied at {path:?}")
        }
        _ => {
            // dma-ranges with hostile numbers.
            let path = rng.pick(&paths).clone();
            let v = [be64(0), be64(hostile_number(rng)), be64(hostile_number(rng))].concat();
            t.root.at(&path).set("dma-ranges", v);
            format!("dma-ranges at {path:?}")
        }
    }
}

/// The used part of a blob (the header's blocks; QEMU's tree is 1 MiB, mostly padding).
fn used(blob: &[u8]) -> usize {
    let word = |at: usize| u32::from_be_bytes(blob[at..at + 4].try_into().unwrap()) as usize;
    (word(12) + word(32)).clamp(40, blob.len())
}

/// One byte-level mutation of `blob` (the recipe names it).
fn mutate_bytes(blob: &mut Vec<u8>, rng: &mut Rng) -> String {
    let used = used(blob);
    match rng.below(6) {
        0 | 1 => {
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                let at = rng.below(used as u64) as usize;
                blob[at] ^= 1 << rng.below(8);
            }
            format!("{flips} bit flips")
        }
        2 => {
            let len = rng.below(used as u64 + 1) as usize;
            blob.truncate(len);
            format!("truncated to {len:#x}")
        }
        3 => {
            // A header field: totalsize, the block offsets and sizes, the versions.
            let field = rng.below(9) as usize + 1;
            let len = blob.len() as u64;
            let any = rng.next();
            let value = *rng.pick(&[0, 1, 16, 17, 18, 40, len - 1, len + 1, len, used as u64, 0x20_0000, u32::MAX as u64, any]) as u32;
            blob[field * 4..field * 4 + 4].copy_from_slice(&value.to_be_bytes());
            format!("header word {field} = {value:#x}")
        }
        4 => {
            // A name or string without its NUL: a NUL in the structure or strings block
            // becomes a letter.
            let nuls: Vec<usize> = (40..used).filter(|&i| blob[i] == 0).collect();
            let n = 1 + rng.below(3);
            for _ in 0..n {
                if !nuls.is_empty() {
                    blob[*rng.pick(&nuls)] = b'A';
                }
            }
            format!("{n} NULs replaced")
        }
        _ => {
            // A token swapped for another (BEGIN_NODE, END_NODE, PROP, NOP, END).
            let tokens: Vec<usize> = (40..used & !3).step_by(4).filter(|&i| matches!(blob[i..i + 4], [0, 0, 0, 1..=4 | 9])).collect();
            if tokens.is_empty() {
                return "no token".into();
            }
            let at = *rng.pick(&tokens);
            let new = *rng.pick(&[1u32, 2, 3, 4, 9]);
            blob[at..at + 4].copy_from_slice(&new.to_be_bytes());
            format!("token at {at:#x} = {new}")
        }
    }
}

/// What the dry-run made of one mutant.
#[derive(Debug)]
enum Verdict {
    Ending(Ending),
    /// No memory node to place the blob in (`kernel memmap` asks for `--dtb-addr`: status 1).
    Unplaced,
    Host(HostLimit),
}

/// The dry-run's options (`--dtb-addr`, `--initrd`, `--append`, `--image`, `--pa-bits`).
struct Options {
    dtb_addr: Option<PhysAddr>,
    initrd: Option<(PhysAddr, PhysAddr)>,
    cmdline: Option<&'static str>,
    run: DryRun<'static>,
}

impl Options {
    const DEFAULT: Options = Options {
        dtb_addr: None,
        initrd: None,
        cmdline: None,
        run: DryRun { dtb_addr: PhysAddr(0), kernel: KERNEL, phys_addr_bits: 48, initrd: None, cmdline: None, sections: None },
    };

    /// Options a user may give, hostile ones among them: a blob or an initrd near 2^64, an
    /// image at the top, every physical address size, odd command lines.
    fn hostile(rng: &mut Rng) -> Options {
        let mut o = Options::DEFAULT;
        let top = u64::MAX & !0xfff;
        match rng.below(5) {
            0 => o.dtb_addr = Some(PhysAddr(*rng.pick(&[top, u64::MAX - 7, top - 0x1000, 8, 0x4800_0000]))),
            1 => {
                let start = *rng.pick(&[top, u64::MAX - 0xff, 0x4800_0000, 0]);
                o.initrd = Some((PhysAddr(start), PhysAddr(start.saturating_add(rng.below(0x10_0000)))));
            }
            2 => {
                let base = *rng.pick(&[top - 0x20_0000, u64::MAX - 0x20_0000, 0]);
                o.run.kernel = (PhysAddr(base), PhysAddr(base + 0x20_0000));
                o.run.sections = Some([rng.below(0x30_0000), rng.next(), rng.next(), rng.next(), rng.next()]);
            }
            3 => o.run.phys_addr_bits = 32 + rng.below(21) as u32,
            _ => o.cmdline = Some(*rng.pick(&["mem=1", "mem=4095M", "mem=16E", "mem=garbage", "memblock=debug buddyinfo", "mem=0x1000"])),
        }
        o
    }
}

/// `kernel memmap` on a blob, as the host binary runs it: placement, the dry-run, mem_init.
fn simulate(blob: &[u8], options: &Options) -> (Verdict, Vec<String>) {
    crate::testlog::capture(|| {
        let Some(dtb_addr) = options.dtb_addr.or_else(|| qemu_dtb_addr(blob, options.initrd)) else { return Verdict::Unplaced };
        let opts = DryRun { dtb_addr, initrd: options.initrd, cmdline: options.cmdline, ..options.run };
        let mut mb = std::boxed::Box::new(Memblock::new());
        let tables = super::HostTables::default();
        let state = match super::dry_run(blob, &opts, &mut mb, &super::super::tests::HOOKS, tables, &mut |_, _| {}) {
            Ok(s) => s,
            Err(e) => return Verdict::Ending(Ending::Refused(e)),
        };
        match mem_init(&mut mb, &state, &opts, HOST_LIMIT, || ()) {
            Ok(Ok(())) => Verdict::Ending(Ending::Complete),
            Ok(Err(stop)) => Verdict::Ending(Ending::Panic(stop)),
            Err(e) => Verdict::Host(e),
        }
    })
}

/// The base trees: hand-built ones, and those `MEMBOOT_DTB_CORPUS` holds.
pub(crate) fn base_trees() -> Vec<(String, Vec<u8>)> {
    let mut trees = vec![("reserved-memory (hand-built)".to_string(), super::super::tests::reserved_memory_blob())];
    if let Ok(dir) = std::env::var("MEMBOOT_DTB_CORPUS") {
        let mut files: Vec<_> = std::fs::read_dir(&dir).expect("MEMBOOT_DTB_CORPUS is a directory").flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "dtb")) {
            trees.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
        assert!(trees.iter().any(|(name, _)| name.ends_with("qemu.dtb")), "{dir} holds no qemu.dtb");
    }
    trees
}

/// Mutants of each base tree: structural ones (rebuilt from the model, 1 to 3 changes), byte
/// ones, and byte ones on top of structural ones.
pub(crate) fn mutants(base: &[u8], count: usize, seed: u64, mut each: impl FnMut(&str, &[u8])) {
    let mut rng = Rng::new(seed);
    let tree = Tree::read(base);
    for i in 0..count {
        let (recipe, blob) = match i % 3 {
            0 => {
                let mut t = tree.clone();
                let recipes: Vec<String> = (0..1 + rng.below(3)).map(|_| mutate_tree(&mut t, &mut rng)).collect();
                (recipes.join("; "), t.write())
            }
            1 => {
                let mut b = base.to_vec();
                (mutate_bytes(&mut b, &mut rng), b)
            }
            _ => {
                let mut t = tree.clone();
                let r = mutate_tree(&mut t, &mut rng);
                let mut b = t.write();
                let r2 = mutate_bytes(&mut b, &mut rng);
                (format!("{r}; {r2}"), b)
            }
        };
        each(&format!("mutant {i} (seed {seed:#x}): {recipe}"), &blob);
    }
}

/// Mutants per base tree: with the corpus (seven trees) about 5,600 in all.
const PER_TREE: usize = 800;

#[test]
fn mutated_trees_end_accepted_refused_or_in_the_boots_panic() {
    let start = Instant::now();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (n, (name, base)) in base_trees().iter().enumerate() {
        // Each base tree on its own runs to the end.
        let (v, lines) = simulate(base, &Options::DEFAULT);
        // The hostile scenarios that stop on purpose (all RAM reserved; a memory node over the
        // whole address space) end as their QEMU scenarios do, not in a complete boot.
        let stops = ["reserved-memory-all", "memory-all-space"].iter().any(|s| name.contains(s));
        assert!(stops || matches!(v, Verdict::Ending(Ending::Complete)), "{name}: {v:?}\n{lines:#?}");
        let seed = 0x6d656d62_6f6f7400 + n as u64;
        let mut option_rng = Rng::new(!seed);
        mutants(base, PER_TREE, seed, |recipe, blob| {
            // One mutant in four also runs with hostile options.
            let options = match option_rng.below(4) {
                0 => Options::hostile(&mut option_rng),
                _ => Options::DEFAULT,
            };
            let recipe = &format!("{recipe}; dtb-addr {:x?} initrd {:x?} cmdline {:?} image {:x?} sections {:x?} pa-bits {}", options.dtb_addr, options.initrd, options.cmdline, options.run.kernel, options.run.sections, options.run.phys_addr_bits);
            let t = Instant::now();
            // A panic is a failure: caught only to name the mutant, then reported.
            let Ok((v, lines)) = std::panic::catch_unwind(|| simulate(blob, &options)) else {
                panic!("{name}, {recipe}: the dry-run panicked (message above)");
            };
            let took = t.elapsed();
            assert!(took < MUTANT_LIMIT, "{name}, {recipe}: took {took:?}");
            for l in &lines {
                assert!(!l.contains('\n'), "{name}, {recipe}: a message of more than one line: {l:?}");
            }
            let kind = match &v {
                Verdict::Ending(Ending::Complete) => "complete",
                Verdict::Ending(Ending::Refused(e)) => {
                    assert!(!e.to_string().contains('\n'), "{name}, {recipe}: {e}");
                    "refused"
                }
                Verdict::Ending(Ending::Panic(stop)) => {
                    let panic = format!("Kernel panic - not syncing: {stop}");
                    assert!(lines.contains(&panic), "{name}, {recipe}: no panic line {panic:?}");
                    // Counted by the reason's words before its first number.
                    &format!("boot panics: {}", stop.to_string().split(" 0x").next().unwrap_or_default())
                }
                Verdict::Unplaced => "unplaced",
                Verdict::Host(e) => {
                    assert!(!e.to_string().contains('\n'), "{name}, {recipe}: {e}");
                    "too large for the host"
                }
            };
            *counts.entry(kind.to_string()).or_default() += 1;
        });
    }
    std::println!("mutation test: {counts:?} in {:?}", start.elapsed());
    assert!(counts.get("complete").is_some_and(|&c| c > 0) && counts.get("refused").is_some_and(|&c| c > 0), "{counts:?}");
}
