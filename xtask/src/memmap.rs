//! `cargo xtask memmap`: the host dry-run. The kernel crate's host binary runs the same
//! memory setup as the boot (`kernel::setup::dryrun::dry_run`) on a `.dtb` file and prints the
//! same lines; see `kernel/src/dryrun.rs`.

use crate::{build, memmap_inputs, Result};
use std::path::{Path, PathBuf};

use std::process::Command;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct MemmapArgs {
    /// The device tree: a blob, or a `.dts` source (compiled with dtc).
    #[arg(long, value_name = "FILE")]
    pub dtb: PathBuf,
    /// Command line, instead of /chosen/bootargs.
    #[arg(long, value_name = "ARGS")]
    pub append: Option<String>,
    /// Kernel image `BASE[,SIZE]` (`_stext`, and the size of the kernel just built unless
    /// given; default: where QEMU's loader puts that kernel above the lowest RAM bank).
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
    #[command(flatten)]
    pub inputs: memmap_inputs::InputArgs,
    /// Print everything as one JSON document instead (schema: docs/memmap.schema.json).
    #[arg(long)]
    pub json: bool,
    /// Also draw the physical address space into this SVG file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// The dry-run command for `args`: the kernel just built is the image, with its section sizes,
/// placed as QEMU's loader places it unless `--image` says where.
pub fn command(dry_run: &Path, args: &MemmapArgs, built: &build::Built) -> Command {
    let mut c = Command::new(dry_run);
    c.arg("memmap").arg("--dtb").arg(&args.dtb);
    memmap_inputs::image_args(&mut c, args.image.as_deref(), built);
    for (opt, value) in [("--append", &args.append), ("--initrd", &args.initrd), ("--dtb-addr", &args.dtb_addr)] {
        if let Some(v) = value {
            c.args([opt, v]);
        }
    }
    if let Some(bits) = args.pa_bits {
        c.args(["--pa-bits", &bits.to_string()]);
    }
    args.inputs.pass(&mut c);
    c
}

pub fn run(args: &MemmapArgs) -> Result<i32> {
    let built = build::build(false)?;
    let dry_run = build::build_dry_run()?;
    let args = memmap_inputs::prepare(args)?;
    if args.json || args.svg.is_some() {
        return crate::memmap_report::run(&mut command(&dry_run, &args, &built), &args);
    }
    let status = command(&dry_run, &args, &built).status().map_err(|e| format!("cannot run the dry-run: {e}"))?;
    Ok(status.code().unwrap_or(1))
}
