//! `cargo xtask test`: the host tests, then every QEMU boot scenario, the README's example
//! boot log (`readme.rs`), the dry-run on vendor board trees (`vendor_trees.rs`), then the gdb
//! test.
//!
//! A scenario boots the kernel with given options and checks the serial console: lines that
//! must appear in order (each matched against the message after the printk timestamp, `*`
//! matching any run of characters), lines that must not appear, and QEMU's exit within a
//! bound (PSCI SYSTEM_OFF makes QEMU exit with status 0).

use crate::qemu::{run_captured, BootOptions, Machine, Outcome};
use crate::{build, footprint, gdb_test, linux, memmap, root, tools, Result};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Every boot must be over well within this.
const BOOT_LIMIT: Duration = Duration::from_secs(60);

pub struct Scenario {
    pub name: &'static str,
    pub opts: BootOptions,
    /// Patterns that must match lines of the log, in this order.
    pub expect: Vec<String>,
    /// Patterns that must match no line.
    forbid: Vec<&'static str>,
}

/// The expected zone lines of scenario `$name`, shared with the kernel's host tests (see
/// kernel/testdata/zones/README.md): every line of the file that is not a `#` comment.
macro_rules! zone_lines {
    ($name:literal) => {
        include_str!(concat!("../../kernel/testdata/zones/", $name, ".txt"))
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<&str>>()
    };
}

const CLEAN_END: [&str; 2] = ["boot: complete", "reboot: Power down"];
const NO_FAILURE: [&str; 3] = ["Kernel panic*", "Unable to handle*", "Error: *"];

/// Put `lines` into a normal boot's expectations where setup_arch's end is: before the psci
/// lines.
fn before_psci(s: &mut Scenario, lines: &[&str]) {
    let at = s.expect.iter().position(|l| l.starts_with("psci: probing")).expect("normal_boot has it");
    s.expect.splice(at..at, lines.iter().map(|l| l.to_string()));
}

fn opts(mem: &str) -> BootOptions {
    BootOptions { mem: mem.into(), smp: 1, cpu: "max".into(), ..Default::default() }
}

/// The lines every normal boot prints, in order.
fn normal_boot(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "Booting memboot on physical CPU 0x0000000000 [0x*]".into(),
        "Machine model: linux,dummy-virt".into(),
        "psci: probing for conduit method from DT.".into(),
        "psci: PSCIv1.1 detected in firmware.".into(),
        // QEMU's PSCI 1.1: MIGRATE_INFO_TYPE says "MP" (no trusted OS), and SMCCC_VERSION
        // is not offered through PSCI_FEATURES, so Linux stays at SMCCC v1.0.
        "psci: Using standard PSCI v0.2 function IDs".into(),
        "psci: Trusted OS migration not required".into(),
        "psci: SMC Calling Convention v1.0".into(),
        "Kernel command line: *".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v.extend(CLEAN_END.iter().map(|s| s.to_string()));
    v
}

pub fn scenarios(scratch: &std::path::Path) -> Result<Vec<Scenario>> {
    let mut list = Vec::new();
    let normal = |name: &'static str, o: BootOptions, extra: &[&str]| Scenario {
        name,
        opts: o,
        expect: normal_boot(extra),
        forbid: NO_FAILURE.to_vec(),
    };
    list.push(normal("mem-128M", opts("128M"), &[]));
    list.push(normal("mem-1G", opts("1G"), &[]));
    list.push(normal("mem-4G", opts("4G"), &[]));
    let a57 = |mut o: BootOptions| {
        o.cpu = "cortex-a57".into();
        o
    };
    // QEMU's cortex-a57 is r1p0: MIDR 0x411fd070 (implementer 0x41 Arm, part 0xd07).
    list.push(Scenario {
        name: "cortex-a57",
        opts: a57(opts("1G")),
        expect: normal_boot(&[]).into_iter().map(|l| l.replace("[0x*]", "[0x411fd070]")).collect(),
        forbid: NO_FAILURE.to_vec(),
    });
    let el2 = |mut o: BootOptions| {
        o.el2 = true;
        o
    };
    list.push(normal("el2", el2(opts("1G")), &[]));
    list.push(normal("el2-cortex-a57", el2(a57(opts("1G"))), &[]));
    let mut smp = opts("1G");
    smp.smp = 4;
    list.push(normal("smp-4", smp, &[]));
    // nr_cpus=3 (cmdline.rs): four CPU nodes clipped to three possible CPUs, said before the
    // command line; RAM past the DMA limit starts swiotlb, whose area count is the possible
    // CPUs rounded up to a power of two (Linux 6.1's log says the same).
    let mut nr_cpus = opts("6G");
    nr_cpus.smp = 4;
    nr_cpus.append = Some("nr_cpus=3".into());
    let mut s = normal("smp-4-nr-cpus", nr_cpus, &["software IO TLB: area num 4."]);
    let at = s.expect.iter().position(|l| l.starts_with("Kernel command line")).expect("normal_boot has it");
    s.expect.insert(at, "Number of cores (4) exceeds configured maximum of 3 - clipping".into());
    list.push(s);

    let mut append = opts("1G");
    append.append = Some("loglevel=8 foo=\"bar baz\" root=/dev/vda".into());
    let mut s = normal("append", append, &[]);
    let at = s.expect.iter().position(|l| l.starts_with("Kernel command line")).expect("normal_boot has it");
    s.expect[at] = "Kernel command line: loglevel=8 foo=\"bar baz\" root=/dev/vda".into();
    list.push(s);

    // An initrd of a known size: /chosen must describe exactly that many bytes.
    let initrd = scratch.join("initrd.img");
    std::fs::write(&initrd, vec![0x5au8; 1 << 20]).map_err(|e| e.to_string())?;
    let mut with_initrd = opts("1G");
    with_initrd.initrd = Some(initrd);
    with_initrd.append = Some("loglevel=8 dyndbg=+p memblock=debug".into());
    let mut s = normal("initrd", with_initrd, &[]);
    // QEMU puts the initrd at RAM + min(RAM / 2, 128 MiB) = 0x48000000 and the blob after it,
    // 2 MiB aligned. Exactly the initrd's 256 pages are reserved, in an entry of their own
    // between the kernel's and the blob's (the Memory: line, pinned in footprint.rs, counts
    // them).
    s.expect.insert(1, "OF: fdt: initrd_start=0x48000000  initrd_end=0x48100000".into());
    before_psci(
        &mut s,
        &[
            " reserved[0x0]\t[0x0000000040210000-*], * bytes flags: 0x0",
            " reserved[0x1]\t[0x0000000048000000-0x00000000480fffff], 0x0000000000100000 bytes flags: 0x0",
            " reserved[0x2]\t[0x0000000048200000-0x00000000482fffff], 0x0000000000100000 bytes flags: 0x0",
        ],
    );
    list.push(s);

    // The tree in a hole of the memory it describes (dts/memory-hole.dts), handed over by a
    // firmware stub so that QEMU keeps its memory node: reserved where it lies, and the boot
    // goes on over both banks (Linux 6.1's log says the same).
    let mut hole = opts("1G");
    hole.overlay = Some("memory-hole".into());
    hole.dtb_at = Some(0x4800_0000);
    hole.append = Some("memblock=debug".into());
    let mut s = normal("dtb-in-hole", hole, &["Memory: *K/917504K available *"]);
    before_psci(
        &mut s,
        &[
            "  node   0: [mem 0x0000000040000000-0x0000000047ffffff]",
            "  node   0: [mem 0x0000000050000000-0x000000007fffffff]",
            " memory[0x0]\t[0x0000000040000000-0x0000000047ffffff], 0x0000000008000000 bytes on node 0 flags: 0x0",
            " memory[0x1]\t[0x0000000050000000-0x000000007fffffff], 0x0000000030000000 bytes on node 0 flags: 0x0",
            " reserved[0x1]\t[0x0000000048000000-0x*], 0x* bytes flags: 0x0",
        ],
    );
    list.push(s);

    // `initrd=START,SIZE` replaces the initrd QEMU describes in /chosen: only the pages of
    // [0x50000000, 0x501ff001) are reserved, none at 0x48000000 (the blob follows QEMU's
    // initrd at 0x48200000). Linux 6.1's log says the same.
    let mut cmdline_initrd = opts("1G");
    cmdline_initrd.initrd = Some(scratch.join("initrd.img"));
    cmdline_initrd.append = Some("initrd=0x50000000,0x1ff001 memblock=debug".into());
    let mut s = normal("initrd-cmdline", cmdline_initrd, &[]);
    before_psci(
        &mut s,
        &[
            " reserved[0x0]\t[0x0000000040210000-*], * bytes flags: 0x0",
            " reserved[0x1]\t[0x0000000048200000-0x00000000482fffff], 0x0000000000100000 bytes flags: 0x0",
            " reserved[0x2]\t[0x0000000050000000-0x00000000501fffff], 0x0000000000200000 bytes flags: 0x0",
        ],
    );
    s.forbid.push(" reserved[*]\t[0x0000000048000000-*");
    list.push(s);

    let mut overlay = opts("1G");
    overlay.overlay = Some("model".into());
    let mut s = normal("overlay-model", overlay, &[]);
    s.expect[1] = "Machine model: memboot test board (overlay on QEMU virt)".into();
    list.push(s);

    let mut quiet = opts("1G");
    // loglevel=5: warnings (level 4) print, info (6) does not; the malformed value is
    // reported and leaves the earlier one in force.
    quiet.append = Some("loglevel=5 loglevel=x".into());
    list.push(Scenario {
        name: "loglevel",
        opts: quiet,
        expect: vec!["Malformed early option 'loglevel'".into()],
        forbid: vec!["Booting memboot*", "Machine model*", "boot: complete", "Kernel panic*"],
    });

    // loglevel=6: pr_notice lines (level 5) print where pr_info ones do not: the version
    // line, `Memory limited to`, `Kernel command line:`; and `Power down` is pr_emerg (0), as
    // in Linux (Debian's 6.1 prints the same notice lines at this level). `quiet` leaves only
    // that last line.
    let mut notice = opts("1G");
    notice.append = Some("loglevel=6 mem=512M".into());
    list.push(Scenario {
        name: "loglevel-notice",
        opts: notice,
        expect: ["memboot version *", "Memory limited to 512MB", "Kernel command line: loglevel=6 mem=512M", "reboot: Power down"]
            .map(String::from)
            .to_vec(),
        forbid: vec!["Booting memboot*", "Machine model*", "Memory: *", "boot: complete", "Kernel panic*"],
    });
    // ignore_loglevel: every line prints again, whatever loglevel=1 says, with Linux's line
    // among the early parameters' (Debian's 6.1 prints the same lines).
    let mut ignore = opts("1G");
    ignore.append = Some("loglevel=1 ignore_loglevel".into());
    let mut s = normal("loglevel-ignored", ignore, &["Memory: *"]);
    s.expect.insert(2, "printk: debug: ignoring loglevel setting.".into());
    list.push(s);
    let mut quiet = opts("1G");
    quiet.append = Some("quiet=".into());
    list.push(Scenario {
        name: "loglevel-quiet",
        opts: quiet,
        expect: vec!["reboot: Power down".into()],
        forbid: vec!["memboot version *", "Kernel command line*", "boot: complete", "Kernel panic*"],
    });

    // parse_early_param calls each option's handler as it meets it, and each prints at once:
    // early_mem for every mem= (the last is the limit), early_cma's complaint about a bare
    // `cma` then do_early_param's warning for it, the warning for loglevel=x; memblock=
    // without `debug` in it says nothing.
    let mut order = opts("1G");
    order.append = Some("mem=768M cma loglevel=x mem=512M memblock".into());
    list.push(Scenario {
        name: "cmdline-order",
        opts: order,
        expect: [
            "Memory limited to 768MB",
            "cma: Config string not provided",
            "Malformed early option 'cma'",
            "Malformed early option 'loglevel'",
            "Memory limited to 512MB",
            "Memory: *K/524288K available *",
            "boot: complete",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["Malformed early option 'memblock'", "Kernel panic*", "Unable to handle*"],
    });

    let mut fault = opts("1G");
    fault.append = Some("selftest=fault".into());
    list.push(Scenario {
        name: "selftest-fault",
        opts: fault,
        expect: [
            "selftest: fault",
            "trap: Synchronous (EL1h) exception: ESR_EL1 0x0000000096000004 FAR_EL1 0x00007f00dead0000 ELR_EL1 0x* SPSR_EL1 0x*",
            "Unable to handle kernel paging request at virtual address 00007f00dead0000",
            "Mem abort info:",
            "  ESR = 0x0000000096000004",
            "  EC = 0x25: DABT (current EL), IL = 32 bits",
            "  SET = 0, FnV = 0",
            "  EA = 0, S1PTW = 0",
            "  FSC = 0x04: level 0 translation fault",
            "Data abort info:",
            "  ISV = 0, ISS = 0x00000004",
            "  CM = 0, WnR = 0",
            "Internal error: Oops: 0000000096000004 [#1] SMP",
            "pstate: *",
            "pc : *",
            "lr : *",
            "sp : *",
            "x29: * x28: * x27: *",
            "x2 : * x1 : * x0 : *",
            "Kernel panic - not syncing: Oops: Fatal exception",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["boot: complete"],
    });

    // free_initmem unmapped the init text: calling an init function is an instruction abort
    // at its address (level 3: the image map is pages). footprint::pin puts the function's
    // address from the ELF in the address line.
    let mut initmem = opts("1G");
    initmem.append = Some("selftest=initmem".into());
    list.push(Scenario {
        name: "selftest-initmem",
        opts: initmem,
        expect: [
            "Freeing unused kernel memory: *K",
            "selftest: initmem",
            "selftest: calling init code at 0x* after free_initmem",
            "trap: Synchronous (EL1h) exception: ESR_EL1 0x0000000086000007 FAR_EL1 0x* ELR_EL1 0x* SPSR_EL1 0x*",
            "Unable to handle kernel paging request at virtual address *",
            "Mem abort info:",
            "  ESR = 0x0000000086000007",
            "  EC = 0x21: IABT (current EL), IL = 32 bits",
            "  FSC = 0x07: level 3 translation fault",
            "Internal error: Oops: 0000000086000007 [#1] SMP",
            "pc : *",
            "Kernel panic - not syncing: Oops: Fatal exception",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["boot: complete", "selftest=initmem: init code *"],
    });

    // totalram_pages through memblock_free_all, cma_init_reserved_areas and free_initmem, on
    // the debug lines dyndbg shows: footprint::pin fills in the figures it derives.
    let mut totalram = opts("1G");
    totalram.append = Some("loglevel=8 dyndbg=+p".into());
    list.push(normal(
        "totalram-1G",
        totalram,
        &[
            "totalram_pages: * after memblock_free_all",
            "Memory: *",
            "totalram_pages: * after cma_init_reserved_areas (+* CMA pages)",
            "Freeing unused kernel memory: *K",
            "totalram_pages: * after free_initmem (+* init pages)",
        ],
    ));

    let mut panic = opts("1G");
    panic.append = Some("selftest=panic".into());
    list.push(Scenario {
        name: "selftest-panic",
        opts: panic,
        expect: vec![
            "Kernel panic - not syncing: selftest=panic at kernel/src/selftest.rs:*".into(),
            "---[ end Kernel panic - not syncing: selftest=panic ]---".into(),
        ],
        forbid: vec!["boot: complete"],
    });

    let mut reset = opts("1G");
    reset.append = Some("selftest=reset".into());
    list.push(Scenario {
        name: "selftest-reset",
        opts: reset,
        expect: vec!["reboot: Restarting system".into()],
        forbid: vec!["boot: complete", "reboot: Power down"],
    });

    // Device trees QEMU accepts but the kernel must refuse or work around.
    let base = scratch.join("virt.dtb");
    Machine::new(&opts("1G"), &root().join("Cargo.toml"))?.dump_dtb(&base)?;
    let big = scratch.join("big.dtb");
    run_tool(Command::new("dtc").args(["-q", "-I", "dtb", "-O", "dtb", "-S", "1200000", "-o"]).arg(&big).arg(&base))?;
    let mut bad = opts("1G");
    bad.dtb = Some(big);
    list.push(Scenario {
        name: "bad-dtb-too-large",
        opts: bad,
        // QEMU loads a -dtb file into a buffer of 2 * (file size + 10000) bytes and sets
        // totalsize to that: about 2.4 MB here, beyond arm64's 2 MiB.
        expect: vec!["Error: invalid device tree blob at physical address 0x*: totalsize 0x* exceeds the 2 MiB limit (0x200000)".into()],
        forbid: vec!["Booting memboot*", "boot: complete"],
    });

    let dts = Command::new("dtc").args(["-q", "-I", "dtb", "-O", "dts"]).arg(&base).output().map_err(|e| e.to_string())?;
    let dts_source = String::from_utf8_lossy(&dts.stdout).into_owned();
    let source: String = dts_source
        .lines()
        .filter(|l| !l.trim_start().starts_with("stdout-path"))
        .map(|l| format!("{l}\n"))
        .collect();
    let no_stdout = scratch.join("no-stdout.dtb");
    compile_dts(&no_stdout, &source)?;
    let mut o = opts("1G");
    o.dtb = Some(no_stdout);
    let mut s = normal("no-stdout-path", o, &[]);
    s.expect.insert(1, "console: no /chosen/stdout-path; using pl011@9000000 at 0x9000000".into());
    list.push(s);

    // A console that is no PL011: QEMU's tree with `from` replaced by `to` (which must be
    // there), booted; one line on the fallback UART, then SYSTEM_OFF.
    let mut no_console = |name: &'static str, from: &str, to: &str, line: &str| -> Result<()> {
        let edited = dts_source.replacen(from, to, 1);
        if edited == dts_source {
            return Err(format!("QEMU's tree no longer holds {from:?}: update {name}"));
        }
        let dtb = scratch.join(format!("{name}.dtb"));
        compile_dts(&dtb, &edited)?;
        let mut o = opts("1G");
        o.dtb = Some(dtb);
        list.push(Scenario { name, opts: o, expect: vec![line.into()], forbid: vec!["Booting memboot*", "boot: complete"] });
        Ok(())
    };
    // Root cells of 1/1 over QEMU's 2/2 values: the console's reg reads as base 0, where
    // QEMU's flash is, not a PL011; writing there would wait for ever on a flag that never
    // sets.
    no_console(
        "console-not-pl011",
        "\t#size-cells = <0x02>;\n\t#address-cells = <0x02>;\n",
        "\t#size-cells = <0x01>;\n\t#address-cells = <0x01>;\n",
        "Error: no usable console: /pl011@9000000 at 0x0 cannot be a PL011 (address 0) (is its reg in its parent's #address-cells/#size-cells?)",
    )?;
    // The console's reg pointing at a virtio-mmio window instead: its PrimeCell ID reads 0.
    no_console(
        "console-not-pl011-id",
        "reg = <0x00 0x9000000 0x00 0x1000>;",
        "reg = <0x00 0xa000000 0x00 0x1000>;",
        "Error: no usable console: /pl011@9000000 at 0xa000000 has PrimeCell ID 0x00000000, not a PL011's 0xb105f00d (is its reg in its parent's #address-cells/#size-cells?)",
    )?;
    // Nothing at all at the console's address (a gap in QEMU virt's map): the first read of
    // its registers aborts, and the probe's fixup turns that into the line instead of an Oops.
    no_console(
        "console-no-answer",
        "reg = <0x00 0x9000000 0x00 0x1000>;",
        "reg = <0x00 0x9f00000 0x00 0x1000>;",
        "Error: no usable console: /pl011@9000000 at 0x9f00000 does not answer (reading 0x9f00018 aborted) (is its reg in its parent's #address-cells/#size-cells?)",
    )?;
    // An address past the 48 bits of physical address that the scenarios' `-cpu max` has
    // (ID_AA64MMFR0_EL1.PARange; more would still be capped at the identity map's 48): not
    // mapped, not read.
    no_console(
        "console-beyond-pa",
        "reg = <0x00 0x9000000 0x00 0x1000>;",
        "reg = <0x10000 0x9000000 0x00 0x1000>;",
        "Error: no usable console: /pl011@9000000 at 0x1000009000000 lies beyond the 48-bit physical address range (is its reg in its parent's #address-cells/#size-cells?)",
    )?;

    // /reserved-memory: every kind of child (see dts/reserved-memory.dts for the reasoning
    // behind each address). Regions are initialised in (base, size) order, so the two
    // size-only pools (still 0/0 when sorted) come before the carve-out.
    let mut rmem = opts("1G");
    rmem.overlay = Some("reserved-memory".into());
    rmem.append = Some("loglevel=8 memblock=debug dyndbg=+p".into());
    list.push(Scenario {
        name: "reserved-memory",
        opts: rmem,
        expect: [
            "OF: fdt: Reserved memory: invalid reg property in 'badreg@55000000', skipping node.",
            "OF: fdt: Reserved memory: failed to reserve memory for node 'busy@40210000': base 0x0000000040210000, size 0 MiB",
            "OF: fdt: Reserved memory: reserved region for node 'carveout@50000000': base 0x0000000050000000, size 4 MiB",
            "OF: reserved mem: OVERLAP DETECTED!",
            "carveout@50000000 (0x0000000050000000--0x0000000050400000) overlaps with overlap@50200000 (0x0000000050200000--0x0000000050300000)",
            "memblock_phys_alloc_range: 8388608 bytes align=0x100000 from=0x0000000058000000 max_addr=0x0000000060000000 *",
            "Reserved memory: created DMA memory pool at 0x000000005f800000, size 8 MiB",
            "OF: reserved mem: initialized node dma-pool, compatible id shared-dma-pool",
            "Reserved memory: created demo carve-out at 0x0000000050000000, size 4 MiB",
            "OF: reserved mem: initialized node carveout@50000000, compatible id memboot,demo-carveout",
            "NUMA: No NUMA configuration found",
            "NUMA: Faking a node at [mem 0x0000000040000000-0x000000007fffffff]",
            "MEMBLOCK configuration:",
            " memory.cnt  = 0x3",
            " memory[0x0]\t[0x0000000040000000-0x0000000051ffffff], 0x0000000012000000 bytes on node 0 flags: 0x0",
            " memory[0x1]\t[0x0000000052000000-0x00000000520fffff], 0x0000000000100000 bytes on node 0 flags: 0x4",
            " memory[0x2]\t[0x0000000052100000-0x000000007fffffff], 0x000000002df00000 bytes on node 0 flags: 0x0",
            " reserved[0x2]\t[0x0000000050000000-0x00000000503fffff], 0x0000000000400000 bytes flags: 0x0",
            " reserved[0x3]\t[0x000000005f800000-0x000000005fffffff], 0x0000000000800000 bytes flags: 0x0",
            " reserved[0x4]\t[0x000000006f000000-0x000000006fffffff], 0x0000000001000000 bytes flags: 0x0",
            "demo-device demo-device: memory-region carveout@50000000 at 0x0000000050000000, size 4 MiB",
            "boot: complete",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["*disabled@54000000*", "Kernel panic*", "Unable to handle*"],
    });
    list.push(Scenario {
        name: "reserved-memory-cma",
        opts: {
            let mut o = opts("1G");
            o.overlay = Some("reserved-memory".into());
            o
        },
        expect: vec![
            "Reserved memory: created CMA memory pool at 0x000000006f000000, size 16 MiB".into(),
            "OF: reserved mem: initialized node linux,cma, compatible id shared-dma-pool".into(),
        ],
        forbid: NO_FAILURE.to_vec(),
    });

    // The default CMA area and `cma=` (dma_contiguous_reserve, after the zones, before the
    // memblock dump). On 1 GiB from 0x40000000 the DMA limit is the end of RAM, 0x80000000.
    let cma = |name: &'static str, mem: &str, append: &str, lines: &[&str], forbid: &[&'static str]| {
        let mut o = opts(mem);
        o.append = Some(append.into());
        let mut f = NO_FAILURE.to_vec();
        f.extend_from_slice(forbid);
        Scenario { name, opts: o, expect: normal_boot(lines), forbid: f }
    };
    // 6 GiB: RAM reaches past 4 GiB + 64 MiB, so 6.1 tries bottom-up from 4 GiB first, but the
    // DMA limit is 4 GiB: an empty window. Top-down below 4 GiB, where nothing is allocated:
    // 0x100000000 - 64 MiB.
    list.push(cma(
        "cma-default-6G",
        "6G",
        "",
        &["Memory: *K/6291456K available (* 65536K cma-reserved)"],
        &[],
    ));
    // cma=SIZE@BASE: limit = base + size, so the area is fixed at BASE.
    list.push(cma(
        "cma-fixed",
        "1G",
        "cma=16M@0x60000000",
        &["Memory: *K/1048576K available (* 16384K cma-reserved)"],
        &[],
    ));
    // cma=SIZE@BASE-LIMIT: top-down in the window: below 0x50000000 nothing is reserved.
    list.push(cma(
        "cma-window",
        "1G",
        "cma=32M@0x40000000-0x50000000",
        &["Memory: *K/1048576K available (* 32768K cma-reserved)"],
        &[],
    ));
    // Fixed on QEMU's blob at 0x48000000: -EBUSY.
    list.push(cma(
        "cma-busy",
        "1G",
        "cma=16M@0x48000000",
        &["Memory: *K/1048576K available (* 0K cma-reserved)"],
        &["cma: Reserved *"],
    ));
    // 4 GiB in 1 GiB: the limit is the DMA limit, the end of RAM.
    list.push(cma(
        "cma-too-large",
        "1G",
        "cma=4G",
        &["Memory: *K/1048576K available (* 0K cma-reserved)"],
        &["cma: Reserved *"],
    ));
    // cma=0: no default area at all.
    list.push(cma(
        "cma-off",
        "1G",
        "cma=0",
        &["Memory: *K/1048576K available (* 0K cma-reserved)"],
        &["cma: *"],
    ));
    // A default CMA pool in the tree (dts/cma-default-node.dts): it is the default area, so
    // no 64 MiB area is added; with cma=, the pool steps aside and is freed.
    let mut default_node = cma(
        "cma-default-node",
        "1G",
        "",
        &["Memory: *K/1048576K available (* 32768K cma-reserved)"],
        &["cma: Reserved *"],
    );
    default_node.opts.overlay = Some("cma-default-node".into());
    list.push(default_node);
    let mut bypassed = cma(
        "cma-default-node-cmdline",
        "1G",
        "cma=16M@0x60000000",
        &["Memory: *K/1048576K available (* 16384K cma-reserved)"],
        &["Reserved memory: created CMA memory pool *"],
    );
    bypassed.opts.overlay = Some("cma-default-node".into());
    list.push(bypassed);
    // crashkernel= (mm/crashkernel.rs): at a base, in reserved[] beside the other
    // reservations; and ,high with ,low on 6 GiB, the low part below the DMA limit (4 GiB).
    let mut fixed = cma("crashkernel-fixed", "2G", "crashkernel=64M@0x60000000 memblock=debug", &[], &[]);
    fixed.expect.splice(
        2..2,
        [
            "crashkernel reserved: 0x0000000060000000 - 0x0000000064000000 (64 MB)",
            " reserved[0x2]\t[0x0000000060000000-0x0000000063ffffff], 0x0000000004000000 bytes flags: 0x0",
        ]
        .map(String::from),
    );
    list.push(fixed);
    let mut high = cma("crashkernel-high", "6G", "crashkernel=512M,high crashkernel=64M,low", &[], &[]);
    high.expect.splice(
        2..2,
        ["crashkernel low memory reserved: 0x* - 0x* (64 MB)", "crashkernel reserved: 0x00000001* - 0x00000001* (512 MB)"].map(String::from),
    );
    list.push(high);
    // Each line before the first psci line (bootmem_init runs before psci_dt_init).
    for (name, line) in [
        ("cma-default-6G", "cma: Reserved 64 MiB at 0x00000000fc000000"),
        ("cma-fixed", "cma: Reserved 16 MiB at 0x0000000060000000"),
        ("cma-default-node", "Reserved memory: created CMA memory pool at 0x000000007e000000, size 32 MiB"),
        ("cma-default-node-cmdline", "Reserved memory: bypass linux,cma node, using cmdline CMA params instead"),
        ("cma-default-node-cmdline", "OF: reserved mem: node linux,cma compatible matching fail"),
        ("cma-default-node-cmdline", "cma: Reserved 16 MiB at 0x0000000060000000"),
        ("cma-window", "cma: Reserved 32 MiB at 0x000000004e000000"),
        ("cma-busy", "cma: Failed to reserve 16 MiB"),
        ("cma-too-large", "cma: Size (0x0000000100000000) of region at 0x0000000000000000 exceeds limit (0x0000000080000000)"),
        ("cma-too-large", "cma: Failed to reserve 4096 MiB"),
    ] {
        if let Some(s) = list.iter_mut().find(|s| s.name == name) {
            let at = s.expect.iter().position(|l| l.starts_with("psci: probing")).unwrap_or(0);
            s.expect.insert(at, line.into());
        }
    }

    // CMA in the buddy (selftest.rs): a reusable pool (16 MiB, reserved-memory.dts) and the
    // default area (64 MiB): 20480 pages that only movable allocations reach, and that
    // cma_alloc takes back once they are free again.
    list.push(Scenario {
        name: "selftest-cma",
        opts: {
            let mut o = opts("1G");
            o.overlay = Some("reserved-memory".into());
            o.append = Some("selftest=cma".into());
            o
        },
        expect: normal_boot(&[
            "selftest: cma: 2 areas, 20480 pages, * free pages",
            "selftest: cma: * unmovable pages, none in a CMA area",
            "selftest: cma: * movable pages, 20480 of them in CMA areas",
            "selftest: cma: cma_alloc with every page in use: refused, nothing changed",
            "selftest: cma: cma_alloc(2048, align 8) at pfn 0x6f000",
            "selftest: cma: cma_alloc(8192, align 8) at pfn 0x*",
            "selftest: cma: released; free pages back to *",
        ]),
        forbid: NO_FAILURE.to_vec(),
    });

    // /memreserve/ in the header (which overlays cannot add) and mem=: 512 MiB of 1 GiB keep
    // [0x40000000, 0x60000000); the /memreserve/ range below that stays reserved.
    let memreserve = scratch.join("memreserve.dtb");
    let mut dtc = Command::new("dtc");
    dtc.args(["-q", "-I", "dts", "-O", "dtb", "-o"]).arg(&memreserve);
    let qemu_source = String::from_utf8_lossy(&dts.stdout);
    run_with_stdin(&mut dtc, &qemu_source.replacen("/dts-v1/;", "/dts-v1/;\n/memreserve/ 0x5e000000 0x10000;", 1))?;
    let mut o = opts("1G");
    o.dtb = Some(memreserve);
    o.append = Some("mem=512M memblock=debug".into());
    list.push(Scenario {
        name: "memreserve-mem-limit",
        opts: o,
        expect: [
            "Memory limited to 512MB",
            "memblock_reserve: [0x000000005e000000-0x000000005e00ffff] *",
            // The default CMA area: above the /memreserve/ range only 0x5e010000..0x5fbb4000 is
            // free below our allocations at the top (27 MiB); so top-down in the range below it,
            // 0x5e000000 - 64 MiB, and merged with it.
            "cma: Reserved 64 MiB at 0x000000005a000000",
            " memory.cnt  = 0x1",
            " memory[0x0]\t[0x0000000040000000-0x000000005fffffff], 0x0000000020000000 bytes on node 0 flags: 0x0",
            " reserved[0x2]\t[0x000000005a000000-0x000000005e00ffff], 0x0000000004010000 bytes flags: 0x0",
            "boot: complete",
        ]
        .map(String::from)
        .to_vec(),
        forbid: NO_FAILURE.to_vec(),
    });

    // /reserved-memory at the edges (the reasoning for each address is in the .dts). Size-only
    // regions are all (0, 0) when Linux's heapsort orders the table; fdtoverlay lists the
    // children as nomap-dyn, nofit, multi-range, cut, nomap-outside, outside, and the sort
    // (worked by hand, as the linux_sort test does) leaves nofit, nomap-dyn, multi-range first.
    let edge = |append: &str| {
        let mut o = opts("1G");
        o.overlay = Some("reserved-memory-edge".into());
        o.append = Some(append.into());
        o
    };
    list.push(Scenario {
        name: "reserved-memory-edge",
        opts: edge("loglevel=8 memblock=debug dyndbg=+p"),
        expect: [
            "OF: fdt: Reserved memory: reserved region for node 'cut@6ff00000': base 0x000000006ff00000, size 2 MiB",
            "OF: fdt: Reserved memory: reserved region for node 'nomap-outside@c0000000': base 0x00000000c0000000, size 1 MiB",
            "memblock_reserve: [0x0000000100000000-0x00000001000fffff] *",
            "OF: fdt: Reserved memory: reserved region for node 'outside@100000000': base 0x0000000100000000, size 1 MiB",
            "memblock_phys_alloc_range: 2147483648 bytes align=0x40 from=0x0000000000000000 max_addr=0xffffffffffffffff *",
            "OF: reserved mem: failed to allocate memory for node 'nofit': size 2048 MiB",
            "memblock_phys_alloc_range: 1048576 bytes align=0x100000 from=0x000000007c000000 max_addr=0x000000007d000000 *",
            "OF: reserved mem: allocated memory for 'nomap-dyn' node: base 0x000000007cf00000, size 1 MiB",
            "memblock_phys_alloc_range: 4194304 bytes align=0x40 from=0x000000007ff00000 max_addr=0x0000000080000000 *",
            "memblock_phys_alloc_range: 4194304 bytes align=0x40 from=0x0000000070000000 max_addr=0x0000000071000000 *",
            "OF: reserved mem: allocated memory for 'multi-range' node: base 0x0000000070c00000, size 4 MiB",
            // The default CMA area, 64 MiB top-down below 0x80000000: above the no-map hole
            // only [0x7d000000, 0x7fbb3000) is free (43 MiB); below it, the range ending at
            // 0x7cf00000 gives 0x78f00000, aligned down to 2 MiB: 0x78e00000 (as Linux's).
            "cma: Reserved 64 MiB at 0x0000000078e00000",
            " memory.cnt  = 0x3",
            " memory[0x0]\t[0x0000000040000000-0x000000007cefffff], 0x000000003cf00000 bytes on node 0 flags: 0x0",
            " memory[0x1]\t[0x000000007cf00000-0x000000007cffffff], 0x0000000000100000 bytes on node 0 flags: 0x4",
            " memory[0x2]\t[0x000000007d000000-0x000000007fffffff], 0x0000000003000000 bytes on node 0 flags: 0x0",
            " reserved.cnt  = 0x9",
            " reserved[0x2]\t[0x000000006ff00000-0x00000000700fffff], 0x0000000000200000 bytes flags: 0x0",
            " reserved[0x3]\t[0x0000000070c00000-0x0000000070ffffff], 0x0000000000400000 bytes flags: 0x0",
            " reserved[0x4]\t[0x0000000078e00000-0x000000007cdfffff], 0x0000000004000000 bytes flags: 0x0",
            " reserved[0x5]\t[0x000000007cf00000-0x000000007cffffff], 0x0000000000100000 bytes flags: 0x0",
            // paging_init's 12 tables, top-down from the end of memory: the root; level 1, 2
            // and 3 for the image (under 2 MiB, so pages); level 1 and 2 for the linear map,
            // a level 3 for the kernel's read-only alias and one for the 1 MiB below the
            // no-map hole at 0x7cf00000 (0x7d000000 is 2 MiB aligned: blocks again); level 1
            // and 2 for the fixmap and a level 3 each for the console and the blob:
            // [0x7fff4000, 0x80000000), with the node's NODE_DATA (less than a page, 64-byte
            // aligned) right below and merged. The memmap (one byte for each of 262144
            // frames, 0x40000) and the free-list links (8 bytes for each of 262144 *
            // (2 - 2^-10) entries, in pages 0x400000) start a page lower, merged with each
            // other: 0x7fff3000 - 0x40000 - 0x400000 = 0x7fbb3000.
            " reserved[0x6]\t[0x000000007fbb3000-0x000000007fff2fff], 0x0000000000440000 bytes flags: 0x0",
            " reserved[0x7]\t[0x000000007fff3*-0x000000007fffffff], * bytes flags: 0x0",
            " reserved[0x8]\t[0x0000000100000000-0x00000001000fffff], 0x0000000000100000 bytes flags: 0x0",
            "boot: complete",
        ]
        .map(String::from)
        .to_vec(),
        forbid: NO_FAILURE.to_vec(),
    });
    // mem=768M ends memory at 0x70000000 before the scan: `cut` still reserves its whole
    // 2 MiB across the new end, and every alloc-range above it fails.
    list.push(Scenario {
        name: "reserved-memory-edge-mem-limit",
        opts: edge("loglevel=8 memblock=debug dyndbg=+p mem=768M"),
        expect: [
            "Memory limited to 768MB",
            "OF: fdt: Reserved memory: reserved region for node 'cut@6ff00000': base 0x000000006ff00000, size 2 MiB",
            "OF: reserved mem: failed to allocate memory for node 'nofit': size 2048 MiB",
            "OF: reserved mem: failed to allocate memory for node 'nomap-dyn': size 1 MiB",
            "OF: reserved mem: failed to allocate memory for node 'multi-range': size 4 MiB",
            " memory.cnt  = 0x1",
            " memory[0x0]\t[0x0000000040000000-0x000000006fffffff], 0x0000000030000000 bytes on node 0 flags: 0x0",
            " reserved.cnt  = 0x6",
            // The 11 table pages (no hole this time) go top-down below `cut`, which covers
            // the new end of memory, and merge with it (0x6ff00000 - 0xb000 = 0x6fef5000), as
            // does NODE_DATA right below them. A page lower, merged with each other, the
            // memmap of 196608 frames (0x30000) and the links (196608 * (2 - 2^-10) = 393024
            // entries of 8 bytes, in pages 0x300000): 0x6fef4000 - 0x330000 = 0x6fbc4000.
            // Below them the default CMA area: 0x6fbc4000 - 64 MiB = 0x6bbc4000, aligned down
            // to 2 MiB.
            " reserved[0x2]\t[0x000000006ba00000-0x000000006f9fffff], 0x0000000004000000 bytes flags: 0x0",
            " reserved[0x3]\t[0x000000006fbc4000-0x000000006fef3fff], 0x0000000000330000 bytes flags: 0x0",
            " reserved[0x4]\t[0x000000006fef4*-0x00000000700fffff], * bytes flags: 0x0",
            " reserved[0x5]\t[0x0000000100000000-0x00000001000fffff], 0x0000000000100000 bytes flags: 0x0",
            "boot: complete",
        ]
        .map(String::from)
        .to_vec(),
        forbid: NO_FAILURE.to_vec(),
    });
    list.push(Scenario {
        name: "reserved-memory-badcells",
        opts: {
            let mut o = opts("1G");
            o.overlay = Some("reserved-memory-badcells".into());
            o.append = Some("memblock=debug".into());
            o
        },
        expect: vec![
            "OF: fdt: Reserved memory: unsupported node format, ignoring".into(),
            // the kernel, the blob, the default CMA area (2 MiB aligned, so apart from what is
            // above it), the memmap with its links, and paging_init's tables with NODE_DATA
            // just below them
            " reserved.cnt  = 0x5".into(),
            "boot: complete".into(),
        ],
        forbid: vec!["*carveout@50000000*", "Kernel panic*"],
    });

    // Two NUMA nodes: QEMU writes memory@40000000 (numa-node-id 0) and memory@60000000
    // (numa-node-id 1), 512 MiB each; of_numa sets the nids, so nothing is faked.
    let mut numa = opts("1G");
    numa.numa = 2;
    numa.smp = 2;
    numa.append = Some("memblock=debug".into());
    list.push(Scenario {
        name: "numa-2",
        opts: numa,
        expect: [
            " memory.cnt  = 0x2",
            " memory[0x0]\t[0x0000000040000000-0x000000005fffffff], 0x0000000020000000 bytes on node 0 flags: 0x0",
            " memory[0x1]\t[0x0000000060000000-0x000000007fffffff], 0x0000000020000000 bytes on node 1 flags: 0x0",
            "boot: complete",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["NUMA: Faking*", "Kernel panic*", "Unable to handle*"],
    });

    // NUMA machines: `nodes` nodes sharing `mem` (one CPU each), an overlay, a command line;
    // the lines expected in order, and what must not show besides a failure.
    let numa_case = |name: &'static str, mem: &str, nodes: u32, overlay: Option<&str>, append: &str, expect: &[&str], forbid: &[&'static str]| {
        let mut o = opts(mem);
        o.numa = nodes;
        o.smp = nodes;
        o.overlay = overlay.map(String::from);
        o.append = (!append.is_empty()).then(|| append.to_string());
        let mut expect: Vec<String> = expect.iter().map(|l| l.to_string()).collect();
        expect.push("boot: complete".into());
        Scenario { name, opts: o, expect, forbid: [&NO_FAILURE[..], forbid].concat() }
    };
    let buddy_on_both = [
        "selftest: buddy: Node 0, zone      DMA: * free pages in * blocks, each inside the zone",
        "selftest: buddy: Node 1, zone      DMA: * free pages in * blocks, each inside the zone",
        "selftest: buddy: * allocations, * frees, * refused; patterns intact, free pages back to *",
    ];

    // Three nodes of 1 GiB with QEMU's -numa dist, and a CPU on a fourth node without memory:
    // the CPUs' numa-node-id and the distance map, read as Linux 6.1 reads them (see
    // dts/numa-memoryless.dts for each line). 3 GiB is 786432 pages, less 12288 of memmap in
    // Linux's count: Total pages 774144.
    let mut distance = numa_case(
        "numa-distance",
        "3G",
        3,
        Some("numa-memoryless"),
        "",
        &[
            "OF: NUMA: parsing numa-distance-map-v1",
            "NUMA: Initmem setup node 3 [<memory-less node>]",
            "NUMA: NODE_DATA(3) on node 2",
            "Initmem setup node 3 as memoryless",
            "Fallback order for Node 0: 0 2 1 ",
            "Fallback order for Node 1: 1 2 0 ",
            "Fallback order for Node 2: 2 0 1 ",
            "Fallback order for Node 3: 3 0 1 2 ",
            "Built 4 zonelists, mobility grouping on.  Total pages: 774144",
        ],
        &["NUMA: Faking*", "NUMA: Warning*"],
    );
    distance.opts.extra = ["dist,src=0,dst=1,val=40", "dist,src=0,dst=2,val=15", "dist,src=1,dst=2,val=25"]
        .iter()
        .flat_map(|d| ["-numa".to_string(), d.to_string()])
        .collect();
    list.push(distance);

    // Node spans that interleave (dts/numa-interleaved.dts): node 1 around node 0. Each frame
    // keeps its node; the self-test allocates and frees on both.
    let interleaved = [
        "  node   1: [mem 0x0000000040000000-0x000000005fffffff]",
        "  node   0: [mem 0x0000000060000000-0x000000007fffffff]",
        "  node   1: [mem 0x0000000080000000-0x00000000bfffffff]",
        "Initmem setup node 0 [mem 0x0000000060000000-0x000000007fffffff]",
        "Initmem setup node 1 [mem 0x0000000040000000-0x00000000bfffffff]",
        "Built 2 zonelists, mobility grouping on.  Total pages: 516096",
        "Memory: *K/2097152K available *",
    ];
    let lines = [&interleaved[..], &buddy_on_both[..]].concat();
    list.push(numa_case("numa-interleaved", "2G", 2, Some("numa-interleaved"), "selftest=buddy", &lines, &["NUMA: Faking*"]));

    // One page of node 1 inside one of node 0's sections (dts/numa-stripe.dts).
    let stripe = [
        "  node   0: [mem 0x0000000040000000-0x000000004fffffff]",
        "  node   1: [mem 0x0000000050000000-0x0000000050000fff]",
        "  node   0: [mem 0x0000000050001000-0x000000007fffffff]",
        "Initmem setup node 1 [mem 0x0000000050000000-0x00000000bfffffff]",
    ];
    let lines = [&stripe[..], &buddy_on_both[..]].concat();
    list.push(numa_case("numa-stripe", "2G", 2, Some("numa-stripe"), "selftest=buddy", &lines, &["NUMA: Faking*"]));

    // cma_pernuma=16M on two nodes of 1 GiB: an area on each node, before the zones, each
    // at the top of its node below what is allocated there (NODE_DATA), in node order.
    list.push(numa_case(
        "numa-cma-pernuma",
        "2G",
        2,
        None,
        "cma_pernuma=16M",
        &[
            "cma: Reserved 16 MiB at 0x000000007*",
            "cma: Reserved 16 MiB at 0x00000000b*",
            "Zone ranges:",
            "cma: Reserved 64 MiB at 0x*",
            "Memory: *K/2097152K available (* 98304K cma-reserved)",
        ],
        &["cma: Failed*", "cma: dma_pernuma_cma_reserve*"],
    ));

    // hugetlb_cma=1500M on two nodes of 2 GiB: 750M a node, each rounded up to a 1 GiB
    // gigantic page (see the host test hugetlb_cma_per_node). Each area sits below what is
    // allocated at the top of its node, 2 MiB aligned (node 1's [4 GiB, 5 GiB) is not wholly
    // free, so bottom-up from 4 GiB fails). Node 1's area crosses into ZONE_NORMAL, so
    // cma_init_reserved_areas cannot activate it (after the Memory: line; Linux's does the
    // same) and its pages go to the buddy allocator as any.
    list.push(numa_case(
        "numa-hugetlb-cma",
        "4G",
        2,
        None,
        "hugetlb_cma=1500M",
        &[
            "hugetlb_cma: reserve 1500 MiB, up to 1024 MiB per node",
            "cma: Reserved 1024 MiB at 0x000000007fe00000",
            "hugetlb_cma: reserved 1024 MiB on node 0",
            "cma: Reserved 1024 MiB at 0x00000000ffe00000",
            "hugetlb_cma: reserved 1024 MiB on node 1",
            "Zone ranges:",
            "Memory: *K/4194304K available (* 2162688K cma-reserved)",
            "cma: CMA area hugetlb1 could not be activated",
        ],
        &[],
    ));

    // numa=off on the two-node machine: dummy_numa_init says why, and fakes one node.
    list.push(numa_case(
        "numa-off",
        "1G",
        2,
        None,
        "numa=off",
        &[
            "NUMA: NUMA disabled",
            "NUMA: Faking a node at [mem 0x0000000040000000-0x000000007fffffff]",
            "Built 1 zonelists, mobility grouping on.  Total pages: 258048",
        ],
        &["OF: NUMA*", "Fallback order for Node 1*"],
    ));

    // A NUMA description Linux 6.1 refuses, and its fallback to one fake node: see
    // dts/numa-partial.dts (numa-node-id on only one of two memory nodes) and
    // dts/numa-bad-id.dts (numa-node-id 16 = MAX_NUMNODES) for the derivation of the
    // NUMA lines. After the fallback memblock is what a plain 1 GiB boot has (one region
    // [0x40000000, 0x80000000) on node 0; the extra node lies inside it) and the same
    // allocations precede NODE_DATA (paging_init's tables, top-down from 2 GiB), so NODE_DATA
    // lands where zones-1G has it, and one node spans all memory: 262144 pages, less 4096 of
    // memmap in Linux's count (262144 * 64 / 4096), Total pages 258048.
    let fake_node = |warnings: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = warnings.iter().map(|s| s.to_string()).collect();
        v.extend(
            [
                "NUMA: Faking a node at [mem 0x0000000040000000-0x000000007fffffff]",
                "NUMA: NODE_DATA [mem 0x7fff4100-0x7fff4fff]",
                "Early memory node ranges",
                "  node   0: [mem 0x0000000040000000-0x000000007fffffff]",
                "Initmem setup node 0 [mem 0x0000000040000000-0x000000007fffffff]",
                "Built 1 zonelists, mobility grouping on.  Total pages: 258048",
                "boot: complete",
            ]
            .map(String::from),
        );
        v
    };
    let mut forbid = NO_FAILURE.to_vec();
    forbid.extend(["NUMA: No NUMA configuration found", "  node   1: *", "Initmem setup node 1 *"]);
    for (name, warnings) in [
        ("numa-partial", &["NUMA: Warning: invalid memblk node 16 [mem 0x0000000040000000-0x000000005fffffff]"][..]),
        ("numa-bad-id", &["OF: NUMA: Node id 16 exceeds maximum value", "OF: NUMA: bad property in memory node"][..]),
    ] {
        let mut o = opts("1G");
        o.overlay = Some(name.into());
        list.push(Scenario { name, opts: o, expect: fake_node(warnings), forbid: forbid.clone() });
    }

    // 387 /memreserve/ entries, 64 KiB every 128 KiB from 0x60000000 (never adjacent, so none
    // merge). The DTB and the kernel take two of the 385 static slots (Linux's
    // INIT_MEMBLOCK_RESERVED_REGIONS); entries 0..382 fill the rest. Before paging_init
    // memblock cannot grow its arrays (Linux 6.1 drops the range silently): entries 383..386
    // (0x60000000 + i * 0x20000) are lost, and each is named. Then paging_init's first table
    // page cannot be reserved either (the array is still full), and the boot stops the way
    // Linux 6.1's early_pgtable_alloc stops it.
    let many = scratch.join("memreserve-many.dtb");
    let entries: String =
        (0..387u64).map(|i| format!("/memreserve/ {:#x} 0x10000;\n", 0x6000_0000 + i * 0x2_0000)).collect();
    compile_dts(&many, &qemu_source.replacen("/dts-v1/;", &format!("/dts-v1/;\n{entries}"), 1))?;
    let mut o = opts("1G");
    o.dtb = Some(many);
    o.append = Some("memblock=debug".into());
    list.push(Scenario {
        name: "memreserve-many",
        opts: o,
        expect: [
            "memblock: cannot resize reserved array to add [0x0000000062fe0000-0x0000000062feffff]",
            "memblock: cannot resize reserved array to add [0x0000000063000000-0x000000006300ffff]",
            "memblock: cannot resize reserved array to add [0x0000000063020000-0x000000006302ffff]",
            "memblock: cannot resize reserved array to add [0x0000000063040000-0x000000006304ffff]",
            "memblock_phys_alloc_range: 4096 bytes align=0x1000 from=0x0000000000000000 max_addr=0x0000000000000001 *",
            "memblock: cannot resize reserved array to add [0x000000007ffff000-0x000000007fffffff]",
            "Kernel panic - not syncing: Failed to allocate page table page at *",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["boot: complete", "Unable to handle*"],
    });

    hostile(&mut list, scratch, &qemu_source)?;

    // paging_init's proofs. No-map memory is memory but not in the linear map: reading the
    // first byte of firmware@52000000 (dts/reserved-memory.dts) through __va must fault. Its
    // linear address is PAGE_OFFSET + (0x52000000 - memstart 0x40000000); the 1 MiB hole sits
    // in a 2 MiB block mapped with pages, so the walk stops at level 3.
    let oops = |name: &'static str, append: &str, head: [&str; 4]| {
        let mut o = opts("1G");
        o.overlay = Some("reserved-memory".into());
        o.append = Some(append.into());
        let mut expect: Vec<String> = head.map(String::from).to_vec();
        expect.extend(["Internal error: Oops: *", "Kernel panic - not syncing: Oops: Fatal exception"].map(String::from));
        Scenario { name, opts: o, expect, forbid: vec!["boot: complete"] }
    };
    list.push(oops(
        "selftest-nomap",
        "selftest=nomap",
        [
            "selftest: reading NOMAP memory at 0x52000000 through the linear map at 0xffff000012000000",
            "Unable to handle kernel paging request at virtual address ffff000012000000",
            "  FSC = 0x07: level 3 translation fault",
            "  CM = 0, WnR = 0",
        ],
    ));
    // Kernel text is mapped read-only: a write is a permission fault at level 3 (the image
    // is mapped with pages), reported as Linux reports a write to read-only memory.
    list.push(oops(
        "selftest-wx",
        "selftest=wx",
        [
            "selftest: writing to kernel text at 0xffff800008*",
            "Unable to handle kernel write to read-only memory at virtual address ffff800008*",
            "  FSC = 0x0f: level 3 permission fault",
            "  CM = 0, WnR = 1",
        ],
    ));
    // ptdump of the reserved-memory tree: the linear map has the no-map hole at
    // 0x52000000-0x520fffff (linear 0xffff000012000000) as an unmapped 1 MiB between pages;
    // the kernel's own alias is read-only; the image is W^X.
    let mut o = opts("1G");
    o.overlay = Some("reserved-memory".into());
    o.append = Some("ptdump".into());
    list.push(Scenario {
        name: "ptdump",
        opts: o,
        expect: [
            "---[ Linear Mapping start ]---",
            "0xffff000000000000-0xffff000000200000           2M PMD       RW NX SHD AF        BLK UXN    MEM/NORMAL",
            // the image's first 64 KiB (the header, before _stext) keep a writable alias;
            // from _stext the kernel's text and rodata are read-only
            "0xffff000000200000-0xffff000000210000          64K PTE       RW NX SHD AF            UXN    MEM/NORMAL",
            "0xffff000000210000-0xffff000000* PTE       ro NX SHD AF            UXN    MEM/NORMAL",
            // blocks from the end of the image's 2 MiB block up to the hole: 0x12000000 - 0x400000
            "0xffff000000400000-0xffff000012000000         284M PMD       RW NX SHD AF        BLK UXN    MEM/NORMAL",
            "0xffff000012000000-0xffff000012100000           1M PTE",
            "0xffff000012100000-0xffff000012200000           1M PTE       RW NX SHD AF            UXN    MEM/NORMAL",
            "0xffff000012200000-0xffff000040000000         734M PMD       RW NX SHD AF        BLK UXN    MEM/NORMAL",
            "---[ Linear Mapping end ]---",
            "---[ vmalloc() area ]---",
            // the header is not mapped; text from _stext, rodata, data+BSS, the stack's
            // unmapped guard page, the stack
            "0xffff800008000000-0xffff800008010000          64K PTE",
            "0xffff800008010000-0xffff800008* PTE       ro x  SHD AF            UXN    MEM/NORMAL",
            "0xffff800008* PTE       ro NX SHD AF            UXN    MEM/NORMAL",
            "0xffff800008* PTE       RW NX SHD AF            UXN    MEM/NORMAL",
            "0xffff800008*           4K PTE",
            "0xffff800008*         128K PTE       RW NX SHD AF            UXN    MEM/NORMAL",
            "---[ Fixmap start ]---",
            "0xfffffbfffdc00000-0xfffffbfffdc01000           4K PTE       RW NX SHD AF            UXN    DEVICE/nGnRE",
            "---[ Fixmap end ]---",
            "boot: complete",
        ]
        .map(String::from)
        .to_vec(),
        forbid: NO_FAILURE.to_vec(),
    });

    // Zones and the page allocator, with the lines Linux 6.1 prints for the same RAM (reasoned
    // from arm64's zone_sizes_init: no dma-ranges, RAM from 1 GiB, so ZONE_DMA ends at 4 GiB
    // or at the end of RAM, DMA32 is empty, Normal holds the rest). The lines from "Zone
    // ranges:" to "Policy zone:", with their derivation, are kernel/testdata/zones/NAME.txt,
    // which the kernel's host tests check against free_area_init and build_all_zonelists too.
    // The total after the slash of the Memory line is all RAM in KiB.
    let zones = |name: &'static str, mem: &str, numa: u32, append: &str, lines: &[&str]| {
        let mut o = opts(mem);
        o.numa = numa;
        o.smp = numa.max(1);
        o.append = Some(append.into());
        let mut expect: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        expect.push("boot: complete".into());
        Scenario { name, opts: o, expect, forbid: NO_FAILURE.to_vec() }
    };
    list.push(zones(
        "zones-1G",
        "1G",
        0,
        "buddyinfo",
        &[
            zone_lines!("zones-1G"),
            vec![
                "Kernel command line: buddyinfo",
                "Memory: *K/1048576K available (*K kernel code, *K rwdata, *K rodata, *K init, *K bss, *K reserved, 65536K cma-reserved)",
                "Node 0, zone      DMA *",
            ],
        ]
        .concat(),
    ));
    // RAM ends at 7 GiB, above the 4 GiB DMA limit: swiotlb's default 64 MiB, top-down below
    // ARCH_LOW_ADDRESS_LIMIT 0xffffffff. The default CMA area already holds the 64 MiB just
    // below 4 GiB ([0xfc000000, 0x100000000), the `cma:` line), so the highest free 64 MiB
    // below the limit is [0xf8000000, 0xfc000000) (Linux's zones-6G log says the same).
    let swiotlb = ["software IO TLB: area num 1.", "software IO TLB: mapped [mem 0x00000000f8000000-0x00000000fc000000] (64MB)"];
    list.push(zones("zones-6G", "6G", 0, "", &[zone_lines!("zones-6G"), swiotlb.to_vec(), vec!["Memory: *K/6291456K available *"]].concat()));
    // ZONE_MOVABLE (mm/zone_sizes/movable.rs): 30% of 6 GiB movable, from 0x14cc00000 in
    // ZONE_NORMAL (Linux 6.1 puts it there: its log); the self-test allocates from all three
    // zones. On two nodes of 2 GiB, kernelcore=3500M leaves node 1's ZONE_MOVABLE from
    // 0x11ac00000.
    list.push(zones(
        "zones-movablecore",
        "6G",
        0,
        "movablecore=30% selftest=buddy",
        &[
            "Movable zone start for each node",
            "  Node 0: 0x000000014cc00000",
            "Policy zone: Normal",
            "selftest: buddy: Node 0, zone  Movable: * free pages in * blocks, each inside the zone",
            "selftest: buddy: * allocations, * frees, * refused; patterns intact, free pages back to *",
        ],
    ));
    list.push(zones(
        "zones-numa-kernelcore",
        "4G",
        2,
        "kernelcore=3500M",
        &["Movable zone start for each node", "  Node 1: 0x000000011ac00000", "Policy zone: Normal"],
    ));
    list.push(zones(
        "zones-mem-limit",
        "1G",
        0,
        "mem=512M",
        &[zone_lines!("zones-mem-limit"), vec!["Memory: *K/524288K available *"]].concat(),
    ));
    list.push(zones(
        "zones-numa-2",
        "1G",
        2,
        "buddyinfo",
        &[
            // NODE_DATA on each node: node 0's at the top of node 0 (nothing else is
            // there), node 1's at the top of memory, just below paging_init's tables.
            vec!["NUMA: NODE_DATA [mem 0x5fff*-0x5fffffff]", "NUMA: NODE_DATA [mem 0x7fff*-0x7fff*]"],
            zone_lines!("zones-numa-2"),
            vec!["Memory: *K/1048576K available *", "Node 0, zone      DMA *", "Node 1, zone      DMA *"],
        ]
        .concat(),
    ));
    // A 4 MiB hole in RAM, inside a 128 MiB section that has memory: the tree describes
    // [0x40000000, 0x50000000) and [0x50400000, 0x80000000) only, through
    // /chosen/linux,usable-memory-range (QEMU rewrites the memory nodes from -m, but keeps
    // /chosen): the first range caps memory, the second is added. What Linux prints for it:
    // kernel/testdata/zones/zones-hole.txt.
    let holed = scratch.join("hole.dtb");
    let mut dtc = Command::new("dtc");
    dtc.args(["-q", "-I", "dts", "-O", "dtb", "-o"]).arg(&holed);
    let with_hole = qemu_source.replacen(
        "chosen {",
        "chosen {\n\t\tlinux,usable-memory-range = <0x00 0x40000000 0x00 0x10000000 0x00 0x50400000 0x00 0x2fc00000>;",
        1,
    );
    if with_hole == qemu_source {
        return Err("QEMU's tree has no /chosen to put linux,usable-memory-range in".into());
    }
    run_with_stdin(&mut dtc, &with_hole)?;
    let mut o = opts("1G");
    o.dtb = Some(holed);
    list.push(Scenario {
        name: "zones-hole",
        opts: o,
        expect: [zone_lines!("zones-hole"), vec!["Memory: *K/1044480K available *", "boot: complete"]]
            .concat()
            .into_iter()
            .map(String::from)
            .collect(),
        forbid: NO_FAILURE.to_vec(),
    });

    // Unbounded recursion runs into the unmapped page below the boot stack: Linux's
    // handle_bad_stack report, with the stack's bounds, and a clean stop.
    let mut o = opts("1G");
    o.append = Some("selftest=stack".into());
    list.push(Scenario {
        name: "selftest-stack",
        opts: o,
        expect: [
            "Insufficient stack space to handle exception!",
            "ESR: 0x* -- DABT (current EL)",
            "FAR: 0xffff800008*",
            "Task stack:     [0xffff800008*..0xffff800008*]",
            "Kernel panic - not syncing: kernel stack overflow",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["boot: complete"],
    });

    // A fault inside the fault report: the report of selftest=fault is told to read an
    // unmapped address (0x00007f00dead1000) right after its abort decode. The second exception
    // gets two short lines and the machine powers off: no second full report, no loop (a
    // loop would fail by the time limit), and the first report never reaches "Internal error".
    let mut o = opts("1G");
    o.append = Some("selftest=fault-in-fault".into());
    list.push(Scenario {
        name: "selftest-fault-in-fault",
        opts: o,
        expect: [
            "selftest: fault-in-fault",
            "trap: Synchronous (EL1h) exception: ESR_EL1 0x0000000096000004 FAR_EL1 0x00007f00dead0000 *",
            "Unable to handle kernel paging request at virtual address 00007f00dead0000",
            "Mem abort info:",
            "trap: exception inside the exception handler: ESR_EL1 0x0000000096000004 FAR_EL1 0x00007f00dead1000 ELR_EL1 0x*",
            "Kernel panic - not syncing: exception inside the exception handler",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["Internal error: *", "Kernel panic - not syncing: Oops*", "boot: complete"],
    });

    // The page allocator under a random storm (see selftest.rs), then a normal end.
    list.push(zones(
        "selftest-buddy",
        "1G",
        0,
        "selftest=buddy",
        &[
            "selftest: buddy",
            "selftest: buddy: Node 0, zone      DMA: * free pages in * blocks, each inside the zone",
            "selftest: buddy: * allocations, * frees, * refused; patterns intact, free pages back to *",
        ],
    ));
    // Where zone placement can go wrong: a free range that crosses 4 GiB must be cut there
    // (DMA's lists may hold nothing above it), and each node's frames stay on its own zones.
    // The free-page counts are filled in by footprint::pin, from what each zone holds.
    list.push(zones(
        "selftest-buddy-6G",
        "6G",
        0,
        "selftest=buddy",
        &[
            "  DMA      [mem 0x0000000040000000-0x00000000ffffffff]",
            "  Normal   [mem 0x0000000100000000-0x00000001bfffffff]",
            "selftest: buddy",
            "selftest: buddy: Node 0, zone      DMA: * free pages in * blocks, each inside the zone",
            "selftest: buddy: Node 0, zone   Normal: * free pages in * blocks, each inside the zone",
            "selftest: buddy: * allocations, * frees, * refused; patterns intact, free pages back to *",
        ],
    ));
    list.push(zones(
        "selftest-buddy-numa-2",
        "1G",
        2,
        "selftest=buddy",
        &[
            "  node   0: [mem 0x0000000040000000-0x000000005fffffff]",
            "  node   1: [mem 0x0000000060000000-0x000000007fffffff]",
            "selftest: buddy",
            "selftest: buddy: Node 0, zone      DMA: * free pages in * blocks, each inside the zone",
            "selftest: buddy: Node 1, zone      DMA: * free pages in * blocks, each inside the zone",
            "selftest: buddy: * allocations, * frees, * refused; patterns intact, free pages back to *",
        ],
    ));

    Ok(list)
}

/// The trees the kernel's mutation and differential tests start from
/// (`MEMBOOT_DTB_CORPUS`, see kernel/src/setup/dryrun/mutation_tests.rs): QEMU's own tree for
/// `-m 1G -cpu max`, and that tree with each `dts/` overlay applied, in `dir`.
pub fn dtb_corpus(dir: &std::path::Path) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let qemu = dir.join("qemu.dtb");
    run_tool(Command::new(tools::QEMU.binary).args(["-M", &format!("virt,dumpdtb={}", qemu.display())]).args([
        "-m", "1G", "-cpu", "max", "-display", "none", "-nic", "none", "-monitor", "none",
    ]))?;
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root().join("dts"))
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dts"))
        .collect();
    sources.sort();
    for source in sources {
        let name = source.file_stem().and_then(|s| s.to_str()).unwrap_or("overlay");
        let dtbo = dir.join(format!("{name}.dtbo"));
        run_tool(Command::new("dtc").args(["-q", "-@", "-I", "dts", "-O", "dtb", "-o"]).arg(&dtbo).arg(&source))?;
        run_tool(Command::new("fdtoverlay").arg("-i").arg(&qemu).arg("-o").arg(dir.join(format!("{name}.dtb"))).arg(&dtbo))?;
    }
    Ok(dir.to_path_buf())
}

/// Trees QEMU loads that a careless or hostile author could write, and `mem=` values of every
/// shape: each boot goes on with Linux 6.1's lines or stops with `Kernel panic - not syncing:`
/// and powers off. Covered elsewhere: a no-map region outside any memory node
/// (reserved-memory-edge's nomap-outside@c0000000), a partial and an out-of-range
/// `numa-node-id` (numa-partial, numa-bad-id).
fn hostile(list: &mut Vec<Scenario>, scratch: &std::path::Path, qemu_source: &str) -> Result<()> {
    // dts/reserved-memory-hostile.dts has the reasoning for each child. fdtoverlay lists
    // them in reverse (huge-align, top, unaligned, dtb, kernel), the order the scan prints
    // in; the size-only huge-align is placed later, in fdt_init_reserved_mem.
    let mut o = opts("1G");
    o.overlay = Some("reserved-memory-hostile".into());
    o.append = Some("loglevel=8 dyndbg=+p memblock=debug".into());
    list.push(Scenario {
        name: "reserved-memory-hostile",
        opts: o,
        expect: [
            "memblock_reserve: [0xfffffffffffff000-0xffffffffffffffff] *",
            "OF: fdt: Reserved memory: reserved region for node 'top@fffffffffffff000': base 0xfffffffffffff000, size 0 MiB",
            "OF: fdt: Reserved memory: reserved region for node 'unaligned@50000800': base 0x0000000050000800, size 0 MiB",
            "OF: fdt: Reserved memory: failed to reserve memory for node 'dtb@48000000': base 0x0000000048000000, size 2 MiB",
            "OF: fdt: Reserved memory: reserved region for node 'kernel@40000000': base 0x0000000040000000, size 16 MiB",
            "OF: reserved mem: failed to allocate memory for node 'huge-align': size 1 MiB",
            // for_each_mem_pfn_range: whole pages of each region; the no-map one has none,
            // so pfns 0x50000 and 0x50001 are a hole of 2 pages
            "  node   0: [mem 0x0000000040000000-0x000000004fffffff]",
            "  node   0: [mem 0x0000000050002000-0x000000007fffffff]",
            "On node 0, zone DMA: 2 pages in unavailable ranges",
            // memory split around the no-map bytes [0x50000800, 0x50001800)
            " memory[0x0]\t[0x0000000040000000-0x00000000500007ff], 0x0000000010000800 bytes on node 0 flags: 0x0",
            " memory[0x1]\t[0x0000000050000800-0x00000000500017ff], 0x0000000000001000 bytes on node 0 flags: 0x4",
            " memory[0x2]\t[0x0000000050001800-0x000000007fffffff], 0x000000002fffe800 bytes on node 0 flags: 0x0",
            // the image's reservation grown to the 16 MiB node, and the cap at 2^64 - 1 last,
            // after the blob, the default CMA area, the memmap and the top-of-memory block
            " reserved[0x0]\t[0x0000000040000000-0x0000000040ffffff], 0x0000000001000000 bytes flags: 0x0",
            " reserved[0x5]\t[0xfffffffffffff000-0xfffffffffffffffe], 0x0000000000000fff bytes flags: 0x0",
            "boot: complete",
        ]
        .map(String::from)
        .to_vec(),
        forbid: NO_FAILURE.to_vec(),
    });

    // All RAM reserved: paging_init's first table page finds nothing.
    let mut o = opts("1G");
    o.overlay = Some("reserved-memory-all".into());
    o.append = Some("loglevel=8 dyndbg=+p".into());
    list.push(Scenario {
        name: "reserved-memory-all",
        opts: o,
        expect: [
            "OF: fdt: Reserved memory: reserved region for node 'all@40000000': base 0x0000000040000000, size 1024 MiB",
            "Kernel panic - not syncing: Failed to allocate page table page*",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["boot: complete", "Unable to handle*"],
    });

    // 200 /reserved-memory children of 4 KiB, 64 KiB apart from 0x70000000: every one is
    // reserved (202 regions with the kernel's and the DTB's fit Linux's 385 static slots),
    // Linux's table of 64 (MAX_RESERVED_REGIONS) keeps the first 64 and names each one it
    // cannot keep. The final count adds the memmap with its links and paging_init's tables
    // with NODE_DATA, each merged into one region at the top of memory (as in
    // reserved-memory-badcells), and the default CMA area's 64 MiB below them, a region of
    // its own: 205 = 0xcd.
    let children: String = (0..200u64)
        .map(|i| format!("\t\tr@{0:x} {{ reg = <0x0 {0:#x} 0x0 0x1000>; }};\n", 0x7000_0000 + i * 0x1_0000))
        .collect();
    let node = format!(
        "reserved-memory {{\n\t\t#address-cells = <0x02>;\n\t\t#size-cells = <0x02>;\n\t\tranges;\n{children}\t}};\n\n\tchosen {{"
    );
    let tree = qemu_source.replacen("chosen {", &node, 1);
    let many = scratch.join("reserved-memory-200.dtb");
    compile_dts(&many, &tree)?;
    let mut o = opts("1G");
    o.dtb = Some(many);
    o.append = Some("memblock=debug".into());
    list.push(Scenario {
        name: "reserved-memory-200",
        opts: o,
        expect: [
            "OF: reserved mem: not enough space for all defined regions.",
            " reserved.cnt  = 0xcd",
            " reserved[0xc9]\t[0x0000000070c70000-0x0000000070c70fff], 0x0000000000001000 bytes flags: 0x0",
            "boot: complete",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["memblock: cannot resize*", "Kernel panic*", "Unable to handle*"],
    });

    // A memory node that claims the whole address space: reg [0, 2^64 - 1), next to QEMU's
    // own memory@40000000 (which QEMU rewrites; ram@0 survives). Page aligned it is
    // [0, 0xfffffffffffff000); arm64_memblock_init keeps what the PA size (2^48) and then the
    // linear map (memstart 0 + 2^47) can hold, with Linux's warning. paging_init's first table
    // page comes top-down from memblock: 0x7ffffffff000, where QEMU's virt has no RAM (only
    // [0x40000000, 0x80000000)); writing it is a synchronous external abort. Linux 6.1 hangs
    // there without a word; the report names the node that claimed the address, and stops.
    let tree = qemu_source.replacen(
        "chosen {",
        "ram@0 {\n\t\tdevice_type = \"memory\";\n\t\treg = <0x00 0x00 0xffffffff 0xffffffff>;\n\t};\n\n\tchosen {",
        1,
    );
    let all_space = scratch.join("memory-all-space.dtb");
    compile_dts(&all_space, &tree)?;
    let mut o = opts("1G");
    o.dtb = Some(all_space);
    list.push(Scenario {
        name: "memory-all-space",
        opts: o,
        expect: [
            "Memory doesn't fit in the linear mapping, VA_BITS too small",
            "Unable to handle kernel paging request at virtual address 00007ffffffff000",
            "  FSC = 0x10: synchronous external abort",
            "OF: fdt: memory node 'ram@0' claims [mem 0x0000000000000000-0xfffffffffffffffe], but 0x7ffffffff000 in it does not respond: no RAM there",
            "Kernel panic - not syncing: Oops: Fatal exception",
        ]
        .map(String::from)
        .to_vec(),
        forbid: vec!["boot: complete"],
    });

    // mem= as arm64's early_mem reads it: memparse(value) & PAGE_MASK, printed in MiB.
    // memparse stops at the first character that fits nothing and reads no digits as 0; a
    // limit of 0 leaves memory as it is (memblock_mem_limit_remove_map returns early).
    for (name, mem, append, lines) in [
        // 1 byte: 0 once page aligned
        ("mem-param-1", "1G", "mem=1", ["Memory limited to 0MB", " memory[0x0]\t[0x0000000040000000-0x000000007fffffff], 0x0000000040000000 bytes on node 0 flags: 0x0", "Memory: *K/1048576K available *"]),
        ("mem-param-garbage", "1G", "mem=garbage", ["Memory limited to 0MB", " memory[0x0]\t[0x0000000040000000-0x000000007fffffff], 0x0000000040000000 bytes on node 0 flags: 0x0", "Memory: *K/1048576K available *"]),
        // the B is ignored: 512 MiB from 0x40000000
        ("mem-param-512MB", "1G", "mem=512MB", ["Memory limited to 512MB", " memory[0x0]\t[0x0000000040000000-0x000000005fffffff], 0x0000000020000000 bytes on node 0 flags: 0x0", "Memory: *K/524288K available *"]),
        // 6 GiB of RAM cut to 4095 MiB: [0x40000000, 0x40000000 + 0xfff00000); 4095 * 1024 K
        ("mem-param-4095M", "6G", "mem=4095M", ["Memory limited to 4095MB", " memory[0x0]\t[0x0000000040000000-0x000000013fefffff], 0x00000000fff00000 bytes on node 0 flags: 0x0", "Memory: *K/4193280K available *"]),
    ] {
        let mut o = opts(mem);
        o.append = Some(format!("{append} memblock=debug"));
        let mut expect: Vec<String> = lines.map(String::from).to_vec();
        expect.push("boot: complete".into());
        list.push(Scenario { name, opts: o, expect, forbid: NO_FAILURE.to_vec() });
    }
    Ok(())
}

fn run_tool(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!("{:?} failed: {}", cmd.get_program(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// `dtc` from source text to a blob at `out`.
fn compile_dts(out: &std::path::Path, source: &str) -> Result<()> {
    let mut dtc = Command::new("dtc");
    dtc.args(["-q", "-I", "dts", "-O", "dtb", "-o"]).arg(out);
    run_with_stdin(&mut dtc, source)
}

pub(crate) fn run_with_stdin(cmd: &mut Command, input: &str) -> Result<()> {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    child.stdin.take().expect("piped").write_all(input.as_bytes()).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{:?} failed", cmd.get_program()));
    }
    Ok(())
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The message part of a console line: the printk timestamp removed.
pub fn message(line: &str) -> &str {
    match (line.starts_with('['), line.find("] ")) {
        (true, Some(i)) => &line[i + 2..],
        _ => line,
    }
}

/// Check a log against a scenario; the error says what was missing and shows the log.
fn check(s: &Scenario, log: &str) -> std::result::Result<(), String> {
    let lines: Vec<&str> = log.lines().map(message).collect();
    let mut at = 0;
    for pat in &s.expect {
        match lines[at..].iter().position(|l| glob(pat, l)) {
            Some(i) => at += i + 1,
            None => return Err(format!("expected (in order) a line matching: {pat}")),
        }
    }
    for pat in &s.forbid {
        if let Some(l) = lines.iter().find(|l| glob(pat, l)) {
            return Err(format!("line must not appear: {l}"));
        }
    }
    Ok(())
}

pub fn run(only: Option<&str>) -> Result<()> {
    tools::ensure(&[tools::QEMU, tools::DTC, tools::FDTOVERLAY, tools::GDB])?;
    if only.is_none() {
        println!("== host tests (the mutation and differential tests on QEMU's tree and the dts/ scenarios)");
        let corpus = dtb_corpus(&root().join("target").join("xtask").join("test").join("corpus"))?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(&cargo)
            .env("MEMBOOT_DTB_CORPUS", &corpus)
            .current_dir(root())
            .args(["test", "--workspace", "--quiet"])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("host tests failed".into());
        }
    }

    println!("== QEMU boot scenarios (each complete boot also against the host dry-run and Linux 6.1's log)");
    let built = build::build(false)?;
    // Nothing that runs after free_initmem may call into the init text it frees.
    let reached = crate::initcheck::check(&built.elf)?;
    println!("init sections: {reached} functions reachable after boot, none in .init.text");
    let dry_run = build::build_dry_run()?;
    let scratch = root().join("target").join("xtask").join("test");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let mut failed = Vec::new();
    let mut list = scenarios(&scratch)?;
    // Each Memory: line our kernel's footprint on QEMU's own tree determines (footprint.rs).
    footprint::pin(&mut list, &built);
    for s in list {
        if only.is_some_and(|o| !s.name.contains(o)) {
            continue;
        }
        let machine = Machine::new(&s.opts, &built.image)?;
        let boot = run_captured(&mut machine.command(), BOOT_LIMIT)?;
        // Each scenario's console without timestamps, so two runs can be diffed.
        let logs = scratch.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        let plain: String = boot.stdout.lines().map(|l| format!("{}\n", message(l))).collect();
        std::fs::write(logs.join(format!("{}.log", s.name)), plain).map_err(|e| e.to_string())?;
        let verdict = match boot.status {
            None => Err(format!("QEMU did not exit within {BOOT_LIMIT:?}")),
            Some(st) if !st.success() => Err(format!("QEMU exited with {st}: {}", boot.stderr.trim())),
            Some(_) => check(&s, &boot.stdout),
        };
        let verdict = verdict.and_then(|()| outcome_as_expected(s.name, &boot));
        let verdict = verdict.and_then(|()| agrees_with_dry_run(&s.opts, &boot.stdout, &built, &dry_run));
        // Linux 6.1's own memory-path lines for the same machine (linux-6.1/NAME.log).
        let verdict = verdict.and_then(|()| if linux::compared(&s) { linux::agrees_with_linux(s.name, &boot.stdout) } else { Ok(()) });
        match verdict {
            Ok(()) => println!("ok    {:<22} {:>6.2}s", s.name, boot.elapsed.as_secs_f64()),
            Err(why) => {
                println!("FAIL  {:<22} {why}\n--- serial console ---\n{}---", s.name, boot.stdout);
                failed.push(s.name);
            }
        }
    }

    if only.is_none_or(|o| "exit-status".contains(o)) {
        println!("== exit status of cargo xtask qemu");
        match exit_status_test() {
            Ok(t) => println!("ok    {:<22} {:>6.2}s", "exit-status", t.as_secs_f64()),
            Err(why) => {
                println!("FAIL  exit-status            {why}");
                failed.push("exit-status");
            }
        }
    }

    if only.is_none_or(|o| "memmap-status".contains(o)) {
        println!("== exit status of the dry-run (cargo xtask memmap)");
        match crate::memmap_test::run(&built, &dry_run, &scratch) {
            Ok(t) => println!("ok    {:<22} {:>6.2}s", "memmap-status", t.as_secs_f64()),
            Err(why) => {
                println!("FAIL  memmap-status          {why}");
                failed.push("memmap-status");
            }
        }
    }

    if only.is_none_or(|o| "monitor".contains(o)) {
        println!("== console monitor (driven through QEMU's stdin)");
        let logs = scratch.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        match crate::monitor_test::run(&built, &logs) {
            Ok(t) => println!("ok    {:<22} {:>6.2}s", "monitor", t.as_secs_f64()),
            Err(why) => {
                println!("FAIL  monitor                {why}");
                failed.push("monitor");
            }
        }
    }

    if only.is_none_or(|o| "memmap-output".contains(o)) {
        println!("== memory map outputs: JSON against its schema, SVG through rsvg-convert, a real boot's map");
        let dir = scratch.join("memmap");
        let run = dtb_corpus(&dir.join("corpus")).and_then(|c| crate::memmap_output_test::run(&built, &dry_run, &c, &dir));
        match run {
            Ok((t, n)) => println!("ok    {:<22} {:>6.2}s ({n} trees drawn)", "memmap-output", t.as_secs_f64()),
            Err(why) => {
                println!("FAIL  memmap-output          {why}");
                failed.push("memmap-output");
            }
        }
    }

    if only.is_none_or(|o| "readme-example".contains(o)) {
        println!("== README");
        match crate::readme::check(BOOT_LIMIT) {
            Ok(t) => println!("ok    {:<22} {:>6.2}s", "readme-example", t.as_secs_f64()),
            Err(why) => {
                println!("FAIL  readme-example         {why}");
                failed.push("readme-example");
            }
        }
    }

    if only.is_none_or(|o| "vendor-trees".contains(o)) {
        println!("== the dry-run on Debian's arm64 board trees");
        let start = std::time::Instant::now();
        match crate::vendor_trees::run(None) {
            Ok(()) => println!("ok    {:<22} {:>6.2}s", "vendor-trees", start.elapsed().as_secs_f64()),
            Err(why) => {
                println!("FAIL  vendor-trees           {why}");
                failed.push("vendor-trees");
            }
        }
    }

    if only.is_none_or(|o| "gdb".contains(o)) {
        println!("== gdb");
        match gdb_test::run(&scratch) {
            Ok(t) => println!("ok    {:<22} {:>6.2}s", "gdb", t.as_secs_f64()),
            Err(why) => {
                println!("FAIL  gdb                    {why}");
                failed.push("gdb");
            }
        }
    }
    if failed.is_empty() {
        println!("all tests passed");
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")))
    }
}

/// How each scenario must end (`Outcome`, the same verdict `cargo xtask qemu` gives as its
/// exit status): a clean boot unless named here.
fn expected_outcome(scenario: &str) -> Outcome {
    match scenario {
        // An exception report, then the panic: the self-tests that fault on purpose.
        "selftest-fault" | "selftest-nomap" | "selftest-wx" | "selftest-stack" | "selftest-fault-in-fault" | "selftest-initmem" => {
            Outcome::Fault
        }
        // A memory node over the whole address space: the first write to RAM that is not there.
        "memory-all-space" => Outcome::Fault,
        // panic!, and Linux's early_pgtable_alloc panic when memblock cannot grow in time.
        // All RAM reserved: the same panic.
        "selftest-panic" | "memreserve-many" | "reserved-memory-all" => Outcome::Panic,
        // PSCI SYSTEM_RESET (QEMU exits 0 under -no-reboot); a blob the kernel refuses;
        // loglevel=5 (6, quiet) hides the info line `boot: complete`.
        "selftest-reset" | "bad-dtb-too-large" | "console-not-pl011" | "console-not-pl011-id" | "console-no-answer"
        | "console-beyond-pa" | "loglevel" | "loglevel-notice" | "loglevel-quiet" => Outcome::Incomplete,
        _ => Outcome::Clean,
    }
}

fn outcome_as_expected(scenario: &str, boot: &crate::qemu::Captured) -> Result<()> {
    let (got, want) = (Outcome::classify(&boot.stdout, boot.status), expected_outcome(scenario));
    if got != want {
        return Err(format!("the boot ended as '{}', expected '{}'", got.describe(), want.describe()));
    }
    Ok(())
}

/// `cargo xtask qemu` itself (this very binary), once per outcome it must report: its exit
/// status must be the outcome's code (see `EXIT_STATUS_HELP`), whatever QEMU's own status
/// (0 after every one of these but the timeout: the kernel powers off after a panic too).
fn exit_status_test() -> Result<Duration> {
    let xtask = std::env::current_exe().map_err(|e| e.to_string())?;
    let cases: [(&[&str], Outcome); 5] = [
        (&[], Outcome::Clean),
        (&["--append", "selftest=panic"], Outcome::Panic),
        (&["--append", "selftest=fault"], Outcome::Fault),
        // selftest=hang spins forever without a word: only the time limit ends it.
        (&["--timeout", "3", "--append", "selftest=hang"], Outcome::Timeout),
        (&["--append", "selftest=reset"], Outcome::Incomplete),
    ];
    let mut total = Duration::ZERO;
    for (args, want) in cases {
        let mut cmd = Command::new(&xtask);
        cmd.current_dir(root()).arg("qemu").args(args);
        let run = run_captured(&mut cmd, BOOT_LIMIT)?;
        total += run.elapsed;
        let code = run.status.and_then(|s| s.code());
        if code != Some(want.code() as i32) {
            return Err(format!(
                "`cargo xtask qemu {}` exited with {code:?}, expected {} ({})\n--- stdout ---\n{}--- stderr ---\n{}",
                args.join(" "),
                want.code(),
                want.describe(),
                run.stdout,
                run.stderr
            ));
        }
        let said = format!("xtask: {} (exit status {})", want.describe(), want.code());
        if want != Outcome::Clean && !run.stderr.contains(&said) {
            return Err(format!("`cargo xtask qemu {}` did not say '{said}':\n{}", args.join(" "), run.stderr));
        }
    }
    Ok(total)
}

/// The lines a complete boot prints between its version line and `boot: complete` that do
/// not come from firmware (PSCI) or the console: the ones the dry-run must print identically.
fn setup_lines(log: &str) -> Option<Vec<&str>> {
    let lines: Vec<&str> = log.lines().map(message).collect();
    let start = lines.iter().position(|l| l.starts_with("memboot version "))? + 1;
    let end = lines.iter().position(|l| *l == "boot: complete")?;
    // Not the dry-run's: firmware, the console, self-tests, the linear-map read-back and
    // ptdump (the dry-run maps the image as one segment).
    let hardware = ["psci: ", "Kernel command line: ", "console: ", "selftest", "paging: ", "0x", "---[ "];
    Some(lines[start..end].iter().copied().filter(|l| !hardware.iter().any(|h| l.starts_with(h))).collect())
}

/// For a scenario that boots to the end: boot it again with `memblock=debug loglevel=8
/// dyndbg=+p` added, so that every memblock call, every pr_debug line and the final dump show, run the dry-run on the very tree QEMU
/// handed over (`dumpdtb` with the same options, or `--dtb-at`'s tree at its address), and
/// compare the two line for line.
fn agrees_with_dry_run(opts: &BootOptions, log: &str, built: &build::Built, dry_run: &std::path::Path) -> Result<()> {
    if setup_lines(log).is_none() {
        return Ok(());
    }
    let mut opts = opts.clone();
    opts.append = Some(format!("{} memblock=debug loglevel=8 dyndbg=+p", opts.append.as_deref().unwrap_or("")).trim_start().to_string());
    let machine = Machine::new(&opts, &built.image)?;
    let boot = run_captured(&mut machine.command(), BOOT_LIMIT)?;
    let booted = setup_lines(&boot.stdout).ok_or("the memblock=debug boot did not complete")?;
    let dtb = machine.scratch().join("booted.dtb");
    let dtb_addr = machine.handed_over(&dtb)?.map(|at| format!("{at:#x}"));
    // The CPU's physical address size: Cortex-A57 has 44 bits (ID_AA64MMFR0_EL1.PARange 0b0100,
    // its TRM); QEMU's `max` has 48 or more, which the kernel caps at PHYS_MASK_SHIFT 48.
    let pa_bits = Some(if opts.cpu == "cortex-a57" { 44 } else { 48 });
    let args = memmap::MemmapArgs { dtb, pa_bits, dtb_addr, ..Default::default() };
    let out = run_captured(&mut memmap::command(dry_run, &args, built), BOOT_LIMIT)?;
    if !out.status.is_some_and(|s| s.success()) {
        return Err(format!("dry-run failed: {}", out.stderr.trim()));
    }
    // The map after the boot's lines is the dry-run's own report, and ptdump's lines are
    // left out of the boot's side (see setup_lines).
    let dry: Vec<&str> =
        out.stdout.lines().filter(|l| !l.starts_with("memmap: ") && !l.starts_with("0x") && !l.starts_with("---[ ")).collect();
    if dry != booted {
        let at = dry.iter().zip(&booted).position(|(a, b)| a != b).unwrap_or(dry.len().min(booted.len()));
        return Err(format!(
            "dry-run differs from the boot at line {}: dry-run {:?}, boot {:?}\n--- dry-run ---\n{}",
            at + 1,
            dry.get(at),
            booted.get(at),
            out.stdout
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_runs() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("x29: * x28: * x27: *", "x29: 0000 x28: 1111 x27: 2222"));
        assert!(!glob("a*c", "abd"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exact "));
        assert!(!glob("ab*ba", "aba"), "prefix and suffix may not overlap");
    }

    #[test]
    fn message_strips_the_timestamp() {
        assert_eq!(message("[    0.000122] Booting"), "Booting");
        assert_eq!(message("no prefix"), "no prefix");
    }
}
