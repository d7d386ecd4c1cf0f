//! `cargo xtask build`: compile the kernel for aarch64-unknown-none and turn the ELF into a
//! Linux arm64 Image, the format QEMU needs to pass the DTB in x0 and honour `-initrd`.
//!
//! The Image is the file image of the loadable segments from `_text` to `_edata`; its first 64
//! bytes are the header head.S writes. The build checks the magic at 0x38 and that the
//! header's image_size equals `_end - _text` before writing it.

use crate::{root, Result};
use object::{Object, ObjectSegment, ObjectSymbol};
use std::path::PathBuf;
use std::process::Command;

pub const TARGET: &str = "aarch64-unknown-none";
const MAGIC_OFFSET: usize = 0x38;

pub struct Built {
    pub elf: PathBuf,
    pub image: PathBuf,
    /// `[_stext, _end)` as physical addresses where QEMU virt loads the Image: what the
    /// kernel reserves for itself.
    pub text_end: (u64, u64),
    /// Sizes of text, rodata, the init sections, data and BSS (the dry-run's `--sections`).
    pub sections: [u64; 5],
    /// Where QEMU loads the image minus where it is linked (`QEMU_VIRT_LOAD - _text`,
    /// wrapping): what turns a link address into the physical address the code runs at
    /// before the MMU is on.
    pub load_offset: u64,
}

/// Cargo's own progress goes to stderr: a first build takes a while.
pub fn build(release: bool) -> Result<Built> {
    build_profile(if release { "release" } else { "dev" })
}

/// Build with a cargo profile of the workspace: `dev`, `release`, or `gdb` (what
/// `cargo xtask gdb` boots: opt-level 0, so locals and arguments can be read).
pub fn build_profile(profile: &str) -> Result<Built> {
    crate::tools::ensure_rust_target(TARGET)?;
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(root()).args(["build", "-p", "kernel", "--bin", "kernel", "--target", TARGET]);
    cargo.args(["--profile", profile]);
    if profile == "gdb" {
        // linker.ld discards .eh_frame and rustc emits no .debug_frame for this target:
        // frame pointers are what lets gdb unwind to kernel_main (and `up` work).
        cargo.env("CARGO_TARGET_AARCH64_UNKNOWN_NONE_RUSTFLAGS", "-Cforce-frame-pointers=yes");
    }
    let status = cargo.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("kernel build failed".into());
    }
    let dir = root().join("target").join(TARGET).join(if profile == "dev" { "debug" } else { profile });
    let elf = dir.join("kernel");
    let image = dir.join("Image");
    let data = std::fs::read(&elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let bytes = elf_to_image(&data)?;
    std::fs::write(&image, bytes).map_err(|e| format!("{}: {e}", image.display()))?;
    let (text_end, sections, text) = layout(&data)?;
    Ok(Built { elf, image, text_end, sections, load_offset: QEMU_VIRT_LOAD.wrapping_sub(text) })
}

fn symbol(file: &object::File, name: &str) -> Result<u64> {
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .map(|s| s.address())
        .ok_or_else(|| format!("kernel ELF has no symbol {name}"))
}

/// The address of the first symbol of the ELF at `elf` whose name starts with `prefix` (a
/// legacy-mangled path: the hash after it differs from build to build).
pub fn symbol_starting(elf: &std::path::Path, prefix: &str) -> Result<u64> {
    let data = std::fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("kernel ELF: {e}"))?;
    file.symbols()
        .find(|s| s.name().is_ok_and(|n| n.starts_with(prefix)))
        .map(|s| s.address())
        .ok_or_else(|| format!("kernel ELF has no symbol {prefix}…"))
}

/// QEMU virt's load address of an Image: the base of RAM (0x40000000) plus text_offset.
pub const QEMU_VIRT_LOAD: u64 = 0x4000_0000 + 0x20_0000;

fn layout(data: &[u8]) -> Result<((u64, u64), [u64; 5], u64)> {
    let file = object::File::parse(data).map_err(|e| format!("kernel ELF: {e}"))?;
    let s = |name| symbol(&file, name);
    let (text, stext, end) = (s("_text")?, s("_stext")?, s("_end")?);
    let sections = [
        s("_etext")? - stext,
        s("__end_rodata")? - s("__start_rodata")?,
        s("__init_end")? - s("__init_begin")?,
        s("_edata")? - s("_sdata")?,
        s("__bss_stop")? - s("__bss_start")?,
    ];
    Ok(((QEMU_VIRT_LOAD + (stext - text), QEMU_VIRT_LOAD + (end - text)), sections, text))
}

/// Build the host binary of the kernel crate: the dry-run of its memory setup.
pub fn build_dry_run() -> Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(["build", "-p", "kernel", "--bin", "kernel"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("dry-run build failed".into());
    }
    Ok(root().join("target").join("debug").join("kernel"))
}

/// Flatten the ELF's loadable segments into the Image bytes and check the header.
pub fn elf_to_image(data: &[u8]) -> Result<Vec<u8>> {
    let file = object::File::parse(data).map_err(|e| format!("kernel ELF: {e}"))?;
    let (text, edata, end) = (symbol(&file, "_text")?, symbol(&file, "_edata")?, symbol(&file, "_end")?);
    let mut image = vec![0u8; (edata - text) as usize];
    for seg in file.segments() {
        let bytes = seg.data().map_err(|e| format!("kernel ELF segment: {e}"))?;
        if bytes.is_empty() {
            continue;
        }
        let start = seg.address();
        if start < text || start + bytes.len() as u64 > edata {
            return Err(format!(
                "segment at {start:#x}+{:#x} lies outside [_text {text:#x}, _edata {edata:#x})",
                bytes.len()
            ));
        }
        let off = (start - text) as usize;
        image[off..off + bytes.len()].copy_from_slice(bytes);
    }
    if image.len() < 64 || &image[MAGIC_OFFSET..MAGIC_OFFSET + 4] != b"ARM\x64" {
        return Err("the Image does not start with the arm64 header (magic ARM\\x64 at 0x38)".into());
    }
    let image_size = u64::from_le_bytes(image[16..24].try_into().unwrap());
    if image_size != end - text {
        return Err(format!("header image_size {image_size:#x} != _end - _text {:#x}", end - text));
    }
    Ok(image)
}
