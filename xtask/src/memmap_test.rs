//! The dry-run binary's exit status, run as `cargo xtask memmap` runs it (`memmap::command`):
//! a blob the boot would refuse must end with status 2 and one line on stderr naming what is
//! wrong, and a tree whose boot would panic with status 3 and the boot's own panic line. The
//! library decides the status (`Ending::exit_status`, tested there); this checks that the
//! binary really exits with it and says it in one line.

use crate::memmap::{command, MemmapArgs};
use crate::qemu::run_captured;
use crate::{build, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// One dry-run of a small tree takes milliseconds; this only bounds a hang.
const LIMIT: Duration = Duration::from_secs(30);

/// 1 GiB of RAM at 0x40000000 and a /reserved-memory child that reserves all of it.
const ALL_RESERVED: &str = "/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	memory@40000000 { device_type = \"memory\"; reg = <0x0 0x40000000 0x0 0x40000000>; };
	reserved-memory {
		#address-cells = <2>;
		#size-cells = <2>;
		ranges;
		all@40000000 { reg = <0x0 0x40000000 0x0 0x40000000>; };
	};
};
";

pub fn run(built: &build::Built, dry_run: &Path, scratch: &Path) -> Result<Duration> {
    let start = Instant::now();
    let all = scratch.join("memmap-all-reserved.dtb");
    let mut dtc = std::process::Command::new("dtc");
    dtc.args(["-q", "-I", "dts", "-O", "dtb", "-o"]).arg(&all);
    crate::test::run_with_stdin(&mut dtc, ALL_RESERVED)?;

    // Status 3: every byte of RAM is reserved, so paging_init's first table page finds none
    // and the boot stops in Linux's early_pgtable_alloc words (arch/arm64/mm/mmu.c:
    // panic("Failed to allocate page table page")). The boot prints that line on its console,
    // so the dry-run prints it on stdout, last; stderr stays empty.
    let out = run_captured(&mut command(dry_run, &MemmapArgs { dtb: all.clone(), ..Default::default() }, built), LIMIT)?;
    let code = out.status.and_then(|s| s.code());
    let last = out.stdout.lines().last().unwrap_or("");
    if code != Some(3) || last != "Kernel panic - not syncing: Failed to allocate page table page" || !out.stderr.is_empty() {
        return Err(format!(
            "all RAM reserved: exit status {code:?}, expected 3 with the panic line last\n--- stdout ---\n{}--- stderr ---\n{}",
            out.stdout, out.stderr
        ));
    }

    // Status 2: the same tree with its first byte flipped. The magic, big-endian at offset 0,
    // is 0xd00dfeed; 0xd0 ^ 0xff = 0x2f, so the header check reads 0x2f0dfeed and the boot
    // would refuse the blob. Nothing of the boot runs: stdout stays empty, stderr is one line.
    let bad = scratch.join("memmap-bad-magic.dtb");
    let mut blob = std::fs::read(&all).map_err(|e| format!("{}: {e}", all.display()))?;
    blob[0] ^= 0xff;
    std::fs::write(&bad, &blob).map_err(|e| format!("{}: {e}", bad.display()))?;
    let out = run_captured(&mut command(dry_run, &MemmapArgs { dtb: bad.clone(), ..Default::default() }, built), LIMIT)?;
    let code = out.status.and_then(|s| s.code());
    let want = format!("memmap: {}: invalid device tree blob: bad magic 0x2f0dfeed (expected 0xd00dfeed)\n", bad.display());
    if code != Some(2) || out.stderr != want || !out.stdout.is_empty() {
        return Err(format!(
            "bad magic: exit status {code:?}, expected 2 with the one line {want:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            out.stdout, out.stderr
        ));
    }
    Ok(start.elapsed())
}
