//! `cargo xtask memmap`: the host dry-run. The kernel crate's host binary runs the same
//! memory setup as the boot (`kernel::setup::dry_run`) on a `.dtb` file and prints the same
//! lines; see `kernel/src/dryrun.rs`.

use crate::{build, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct MemmapArgs {
    /// The device tree blob.
    #[arg(long, value_name = "FILE")]
    pub dtb: PathBuf,
    /// Command line, instead of /chosen/bootargs.
    #[arg(long, value_name = "ARGS")]
    pub append: Option<String>,
    /// Kernel image `BASE,SIZE` (default: `[_text, _end)` of the kernel just built).
    #[arg(long, value_name = "BASE,SIZE")]
    pub image: Option<String>,
    /// Initrd `BASE,SIZE`, instead of /chosen/linux,initrd-*.
    #[arg(long, value_name = "BASE,SIZE")]
    pub initrd: Option<String>,
    /// Where the blob lies (default: where QEMU's -kernel loader puts it).
    #[arg(long, value_name = "ADDR")]
    pub dtb_addr: Option<String>,
    /// The CPU's physical address size (default 48).
    #[arg(long, value_name = "N")]
    pub pa_bits: Option<u32>,
}

/// The dry-run command for `args`, with the kernel's `[_text, _end)` as the default image.
pub fn command(dry_run: &Path, args: &MemmapArgs, text_end: (u64, u64)) -> Command {
    let mut c = Command::new(dry_run);
    c.arg("memmap").arg("--dtb").arg(&args.dtb);
    let image = args.image.clone().unwrap_or_else(|| format!("{:#x},{:#x}", text_end.0, text_end.1 - text_end.0));
    c.args(["--image", &image]);
    for (opt, value) in [("--append", &args.append), ("--initrd", &args.initrd), ("--dtb-addr", &args.dtb_addr)] {
        if let Some(v) = value {
            c.args([opt, v]);
        }
    }
    if let Some(bits) = args.pa_bits {
        c.args(["--pa-bits", &bits.to_string()]);
    }
    c
}

pub fn run(args: &MemmapArgs) -> Result<i32> {
    let built = build::build(false)?;
    let dry_run = build::build_dry_run()?;
    let status = command(&dry_run, args, built.text_end).status().map_err(|e| format!("cannot run the dry-run: {e}"))?;
    Ok(status.code().unwrap_or(1))
}
