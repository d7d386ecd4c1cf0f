//! Link the bare-metal kernel with the project's linker script, and relink when it changes.
//!
//! Also writes the two input-section lists linker.ld includes for the init sections: the
//! platform-independent library may not carry `#[link_section]` (it forbids `unsafe_code`,
//! which covers that attribute), so its boot-only functions are chosen here by symbol path,
//! [`INIT_TEXT`], and linker.ld places them in `.init.text`, which `free_initmem` frees.

use std::fmt::Write as _;

/// Functions that run only during boot, before `free_initmem`, by path: a module, a type or a
/// function, with everything below it (closures and generic instances included). The linker
/// sees them as function sections named after the legacy-mangled symbol (`.text._ZN6kernel5setup…`),
/// so a path becomes the prefix [`mangled`] writes. Nothing reached after boot (the
/// monitor, the self-tests, the exception and panic reports) may be listed: `cargo xtask
/// test` walks the calls from those roots and fails on any that lands in `.init.text`.
const INIT_TEXT: &[&str] = &[
    // kernel (the binary): start_kernel and what only it calls.
    "kernel::start_kernel",
    "kernel::invalid_dtb",
    // kernel::setup: setup_arch's memory part, bootmem_init, mem_init.
    "kernel::setup",
    // kernel::cmdline: parse_early_param.
    "kernel::cmdline",
    // kernel::of: the header check (the parse stays: Fdt::new uses it later), /chosen, the memory scan, NUMA and the reserved-memory
    // scan and hooks (the exception report reads memory nodes later: memory_nodes and
    // is_available stay).
    "kernel::of::header::open",
    "kernel::of::header::FdtHeader::validate",
    "kernel::of::chosen::stdout_path",
    "kernel::of::chosen::stdout_console",
    "kernel::of::chosen::first_pl011",
    "kernel::of::chosen::console_from_node",
    "kernel::of::chosen::bootargs",
    "kernel::of::chosen::uefi_params",
    "kernel::of::chosen::machine_name",
    "kernel::of::chosen::initrd",
    "kernel::of::chosen::usable_memory_ranges",
    "kernel::of::chosen::elfcorehdr",
    "kernel::of::numa",
    "kernel::of::fdt_scan::scan_root",
    "kernel::of::fdt_scan::scan_memory",
    "kernel::of::fdt_scan::add_memory_arch",
    "kernel::of::fdt_scan::smp_init_cpus",
    "kernel::of::fdt_scan::cpu_nodes",
    "kernel::of::fdt_scan::dma_max_cpu_address",
    "kernel::of::reserved_mem::scan",
    "kernel::of::reserved_mem::init",
    "kernel::of::reserved_mem::linux_sort",
    "kernel::of::reserved_mem::shared_dma_pool_setup",
    "kernel::of::reserved_mem::ReservedMemTable::save",
    "kernel::of::reserved_mem::ReservedMemTable::rebase",
    // kernel::mm: NUMA, paging_init, the zones, the memmaps, swiotlb, CMA's reservation and
    // activation (cma_alloc and cma_release stay).
    "kernel::mm::numa",
    "kernel::mm::paging",
    "kernel::mm::zone_sizes",
    "kernel::mm::init",
    "kernel::mm::swiotlb",
    "kernel::mm::crashkernel",
    "kernel::mm::cma::CmaCmdline",
    "kernel::mm::cma::CmaAreas::declare_contiguous_nid",
    "kernel::mm::cma::CmaAreas::init_reserved_mem",
    "kernel::mm::cma::CmaAreas::init_reserved_areas",
    "kernel::mm::cma::CmaAreas::dma_contiguous_reserve",
];

/// The legacy mangling's prefix for `path`: `_ZN`, then each component with its length
/// (`kernel::setup` is `_ZN6kernel5setup`). The hash and `E` that end a symbol come after.
fn mangled(path: &str) -> String {
    path.split("::").fold(String::from("_ZN"), |mut s, c| {
        let _ = write!(s, "{}{c}", c.len());
        s
    })
}

/// A byte trie of the prefixes, to write the patterns that match everything else.
#[derive(Default)]
struct Trie {
    end: bool,
    next: std::collections::BTreeMap<u8, Trie>,
}

impl Trie {
    fn insert(&mut self, s: &[u8]) {
        match s.split_first() {
            None => self.end = true,
            Some((c, rest)) => self.next.entry(*c).or_default().insert(rest),
        }
    }

    /// Glob patterns (after `.text.`) for every name that starts with `at` and has no prefix
    /// in the trie below: the name `at` itself, and `at` followed by a byte no branch takes.
    fn complement(&self, at: &mut Vec<u8>, out: &mut Vec<String>) {
        if self.end {
            return;
        }
        let at_str = String::from_utf8(at.clone()).expect("prefixes are ASCII");
        let others: String = self.next.keys().map(|&c| c as char).collect();
        out.push(at_str.clone());
        out.push(format!("{at_str}[!{others}]*"));
        for (c, t) in &self.next {
            at.push(*c);
            t.complement(at, out);
            at.pop();
        }
    }
}

/// `(text, init_text)`: the input-section descriptions of `.text` (every function section not
/// listed) and of `.init.text` (the listed ones), one per line.
fn init_text_lists(paths: &[&str]) -> (String, String) {
    let prefixes: Vec<String> = paths.iter().map(|p| mangled(p)).collect();
    let mut trie = Trie::default();
    for p in &prefixes {
        trie.insert(p.as_bytes());
    }
    let mut rest = Vec::new();
    trie.complement(&mut Vec::new(), &mut rest);
    let (mut text, mut init) = (String::new(), String::new());
    for p in rest {
        // The name `.text.` alone is not a function section; `.text` is matched by linker.ld.
        if !p.is_empty() {
            let _ = writeln!(text, "*(.text.{p})");
        }
    }
    for p in &prefixes {
        let _ = writeln!(init, "*(.text.{p}*)");
    }
    (text, init)
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = std::path::Path::new(&manifest).parent().expect("kernel/ has a parent");
    let script = root.join("linker.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-changed={}", root.join("boot/head.S").display());
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
        let (text, init) = init_text_lists(INIT_TEXT);
        std::fs::write(out.join("text_sections.ld"), text).expect("OUT_DIR is writable");
        std::fs::write(out.join("init_text_sections.ld"), init).expect("OUT_DIR is writable");
        println!("cargo:rustc-link-arg-bins=-L{}", out.display());
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
    }
}
