//! What `cargo xtask memmap` gives the dry-run besides the tree's own bytes: the tree compiled
//! from `.dts` and with `--overlay`s applied (dtc, fdtoverlay), the RAM a bootloader would
//! write (`--mem`), the lint, and the kernel image just built, placed as QEMU's loader places
//! it or where `--image` says, always with its section sizes.

use crate::memmap::MemmapArgs;
use crate::{build, root, tools, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct InputArgs {
    /// RAM as the bootloader writes it into /memory: `BASE,SIZE[,BASE,SIZE…]` replaces every
    /// memory node; `NODE:BASE,SIZE[,…]` (e.g. `memory@80000000:0x80000000,2G`) sets one.
    /// Repeatable. Without it, a tree whose /memory is empty gets 1 GiB assumed, with a warning.
    #[arg(long, value_name = "[NODE:]BASE,SIZE")]
    pub mem: Vec<String>,
    /// Apply this overlay (`.dts` or `.dtbo`) to the tree first, with fdtoverlay. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub overlay: Vec<PathBuf>,
    /// After the boot's lines, report what Linux accepts silently (exit status 4 on an error).
    #[arg(long)]
    pub lint: bool,
    /// What the dry-run's messages call the tree (set when it was compiled or overlaid).
    #[arg(skip)]
    pub name: Option<String>,
}

impl InputArgs {
    /// The dry-run's options for these.
    pub fn pass(&self, c: &mut Command) {
        for m in &self.mem {
            c.args(["--mem", &size_suffixes(m)]);
        }
        if self.lint {
            c.arg("--lint");
        }
        if let Some(name) = &self.name {
            c.args(["--name", name]);
        }
    }
}

/// `2G`, `512M`, `64K` as numbers the dry-run reads (it takes decimal and `0x` only).
fn size_suffixes(list: &str) -> String {
    let (node, numbers) = match list.split_once(':') {
        Some((n, rest)) => (Some(n), rest),
        None => (None, list),
    };
    let numbers: Vec<String> = numbers
        .split(',')
        .map(|n| {
            let shift = match n.chars().last() {
                Some('K' | 'k') => 10,
                Some('M' | 'm') => 20,
                Some('G' | 'g') => 30,
                _ => return n.to_string(),
            };
            match n[..n.len() - 1].parse::<u64>().ok().and_then(|v| v.checked_mul(1 << shift)) {
                Some(v) => format!("{v:#x}"),
                None => n.to_string(),
            }
        })
        .collect();
    match node {
        Some(node) => format!("{node}:{}", numbers.join(",")),
        None => numbers.join(","),
    }
}

/// QEMU virt's RAM base, which `build::QEMU_VIRT_LOAD` (where `_text` lies) is text_offset above.
const QEMU_VIRT_RAM: u64 = 0x4000_0000;

/// The kernel just built as the dry-run's image: at `--image BASE[,SIZE]`, else `_stext` as far
/// above the lowest RAM bank's 2 MiB aligned base as QEMU virt puts it above its RAM base
/// (`--image-layout`); the section sizes either way.
pub fn image_args(c: &mut Command, image: Option<&str>, built: &build::Built) {
    let (text, end) = built.text_end;
    let size = end - text;
    match image {
        Some(image) if image.contains(',') => c.args(["--image", image]),
        Some(base) => c.args(["--image", &format!("{base},{size:#x}")]),
        None => c.args(["--image-layout", &format!("{:#x},{size:#x}", text - QEMU_VIRT_RAM)]),
    };
    c.args(["--sections", &built.sections.map(|s| format!("{s:#x}")).join(",")]);
}

/// `args` with the tree the dry-run reads: a `.dts` compiled, the overlays applied, into
/// target/xtask/memmap/; messages name the file given.
pub fn prepare(args: &MemmapArgs) -> Result<MemmapArgs> {
    let dts = args.dtb.extension().is_some_and(|e| e == "dts");
    if !dts && args.inputs.overlay.is_empty() {
        return Ok(args.clone());
    }
    tools::ensure(&[tools::DTC, tools::FDTOVERLAY])?;
    let dir = root().join("target").join("xtask").join("memmap");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let stem = args.dtb.file_stem().and_then(|s| s.to_str()).unwrap_or("tree").to_string();
    let mut tree = args.dtb.clone();
    if dts {
        tree = dir.join(format!("{stem}.dtb"));
        compile(&args.dtb, &tree)?;
    }
    for (i, overlay) in args.inputs.overlay.iter().enumerate() {
        let dtbo = if overlay.extension().is_some_and(|e| e == "dts") {
            let out = dir.join(format!("{stem}.overlay{i}.dtbo"));
            compile(overlay, &out)?;
            out
        } else {
            overlay.clone()
        };
        let out = dir.join(format!("{stem}.{i}.dtb"));
        let what = format!("applying {} to {}", overlay.display(), args.dtb.display());
        run(Command::new(tools::FDTOVERLAY.binary).arg("-i").arg(&tree).arg("-o").arg(&out).arg(&dtbo), &what)?;
        tree = out;
    }
    let mut prepared = args.clone();
    let overlays: Vec<String> = args.inputs.overlay.iter().map(|o| format!(" + {}", o.display())).collect();
    prepared.inputs.name = Some(format!("{}{}", args.dtb.display(), overlays.concat()));
    prepared.dtb = tree;
    Ok(prepared)
}

/// dtc on `source`, with `-@`: an overlay's fragments refer to the base's labels, which only
/// a base compiled with its symbols has.
fn compile(source: &Path, out: &Path) -> Result<()> {
    let mut c = Command::new(tools::DTC.binary);
    c.args(["-q", "-@", "-I", "dts", "-O", "dtb", "-o"]).arg(out);
    run(c.arg(source), &format!("compiling {}", source.display()))
}

/// Run a tool; its own complaint, first line, as the error.
fn run(c: &mut Command, what: &str) -> Result<()> {
    let out = c.stdin(Stdio::null()).output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(format!("{what}: {}", stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_suffixes() {
        // 2G = 2 << 30 = 0x80000000; 512M = 0x20000000; hex and node names pass unchanged.
        assert_eq!(size_suffixes("0x80000000,2G"), "0x80000000,0x80000000");
        assert_eq!(size_suffixes("memory@0:0,512M"), "memory@0:0,0x20000000");
        assert_eq!(size_suffixes("0x1000,4096"), "0x1000,4096");
    }
}
