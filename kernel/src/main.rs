//! start_kernel: the boot sequence, in order, readable top to bottom.
//!
//! `boot/head.S` enters `start_kernel` (through `arch`'s `kernel_main`) at EL1 with the MMU on
//! (identity map), the DTB's physical address and the exception level the loader entered at.
//! The kernel validates the device tree, brings up the console it names, prints Linux's first
//! boot lines, runs the requested self-test, and ends with `boot: complete` and PSCI SYSTEM_OFF
//! (with `monitor`, after serving the console monitor until its `poweroff`).
//!
//! On the host the binary is the memory setup's dry-run (`dryrun.rs`, `cargo xtask memmap`);
//! the platform-independent core is the `kernel` library. `unsafe` is denied here and in every
//! module but `arch` and `drivers`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_code)]

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
mod console_monitor;
#[cfg(target_os = "none")]
mod page_alloc;
extern crate alloc;
mod drivers;
#[cfg(not(target_os = "none"))]
mod dryrun;
#[cfg(target_os = "none")]
mod selftest;

#[cfg(not(target_os = "none"))]
fn main() {
    dryrun::main()
}

/// The name the kernel boots under (Linux prints "Booting Linux on physical CPU ...").
pub const KERNEL_NAME: &str = "memboot";

/// start_kernel: the boot, from the device tree to power-off.
#[cfg(target_os = "none")]
fn start_kernel(dtb_pa: u64, entry_el: u64) -> ! {
    use arch::{cpu, psci};
    use kernel::cmdline::EarlyParams;
    use kernel::mm::PhysAddr;
    use kernel::of::{self, chosen};
    use kernel::setup;
    use kernel::{info, warn};

    // The device tree first: without it there is no console to speak through.
    let fdt = match arch::early_fdt(PhysAddr(dtb_pa)) {
        Ok(fdt) => fdt,
        Err(e) => invalid_dtb(dtb_pa, entry_el, e),
    };
    arch::exception::note_fdt(dtb_pa, fdt.total_size());
    let conduit = of::psci_conduit(&fdt);
    psci::set_conduit(conduit.unwrap_or(psci::fallback_conduit(entry_el)));

    let (uart, console_problem) = match chosen::stdout_console(&fdt) {
        Ok(c) => (c, None),
        Err(e) => match chosen::first_pl011(&fdt) {
            Some(c) => (c, Some(e)),
            None => {
                use core::fmt::Write;
                let _ = writeln!(console::emergency(), "Error: no usable console: {e}, and no arm,pl011 node");
                psci::system_off()
            }
        },
    };
    match console::init(uart.base, uart.size) {
        Ok(()) => {}
        Err(drivers::pl011::ConsoleError::NoPageTable) => panic!("no page table left to map the console at {:#x}", uart.base.0),
        Err(e) => {
            use core::fmt::Write;
            let _ = writeln!(
                console::emergency(),
                "Error: no usable console: {} at {:#x} {e} (is its reg in its parent's #address-cells/#size-cells?)",
                uart.path,
                uart.base.0
            );
            psci::system_off()
        }
    }
    let bootargs = chosen::bootargs(&fdt);
    let (params, malformed) = EarlyParams::parse_collect(bootargs.as_str());
    console::init_log(params.console_loglevel(), params.dyndbg);

    info!("Booting {} on physical CPU 0x{:010x} [0x{:08x}]", KERNEL_NAME, cpu::hwid(), cpu::midr());
    kernel::notice!("{} version {} (entered at EL{})", KERNEL_NAME, env!("CARGO_PKG_VERSION"), entry_el);

    if let Some(problem) = console_problem {
        warn!("console: {problem}; using {} at {:#x}", uart.path, uart.base.0);
    }

    // setup_arch
    let mb = arch::setup::take_memblock();
    let inputs = setup::BootInputs {
        dtb: (PhysAddr(dtb_pa), fdt.total_size() as u64),
        kernel: arch::image::range(),
        phys_addr_bits: arch::setup::phys_addr_bits(),
        initrd_override: None,
    };
    let (machine, reserved) =
        setup::setup_arch_memory(&fdt, mb, &inputs, &params, &malformed, drivers::reservedmem_hooks());

    // paging_init: the kernel's own tables, then off the early identity map for good.
    let (image, image_ro) = arch::mmu::image_segments();
    let paging = kernel::mm::paging::PagingInputs {
        image: &image,
        image_ro,
        console: Some((uart.base, uart.size)),
        fdt: inputs.dtb,
    };
    // The table pages are noted as memblock hands them out, for the memory map.
    let mut recorded = kernel::memmap::Recording::new(arch::mmu::EarlyTables);
    let tables = match kernel::mm::paging::paging_init(mb, &mut recorded, &paging, &kernel::arm64::ARM64_4K_48) {
        Ok(t) => t,
        // Linux's early_pgtable_alloc panics with these words.
        Err(kernel::mm::pgtable::PgtableError::TableAlloc { .. }) => panic!("Failed to allocate page table page"),
        Err(e) => panic!("paging_init: {e}"),
    };
    arch::mmu::install(&tables);
    console::relocate(&tables);
    let moved =
        fdt.remap(arch::mmu::fdt_at(tables.fdt_va, fdt.total_size())).expect("the blob reads the same through its new mapping");
    arch::exception::note_fdt(tables.fdt_va, fdt.total_size());
    // Everything borrowed from the blob is taken again from its new mapping.
    let reserved = reserved.rebase(&moved);
    let fdt = moved;
    let bootargs = chosen::bootargs(&fdt);
    let bootargs = bootargs.as_str();
    let params = EarlyParams::parse_collect(bootargs).0;
    arch::mmu::retire_idmap();
    mb.allow_resize(&arch::mmu::LinearMapper);
    let (ranges, n) = kernel::mm::paging::linear_ranges(mb);
    for &(start, end) in &ranges[..n] {
        arch::mmu::touch(start, end);
    }
    kernel::debug!("paging: linear map of {n} ranges live, first and last byte of each read back");
    if params.ptdump {
        kernel::mm::pgtable::dump(&arch::mmu::LinearTables, tables.root, &kernel::arm64::PTDUMP_MARKERS, &mut |a| {
            info!("{a}")
        });
    }

    let mut bootmem = setup::bootmem_init(&fdt, mb, &reserved, &params);

    match (conduit, psci::version()) {
        (Some(_), Some((major, minor))) => {
            info!("psci: probing for conduit method from DT.");
            info!("psci: PSCIv{major}.{minor} detected in firmware.");
            psci::probe_lines(major, &mut |line| info!("{line}"));
        }
        _ => warn!(
            "psci: no usable /psci/method; assuming {:?} from entry at EL{}",
            psci::conduit().expect("a conduit is always set"),
            entry_el
        ),
    }
    setup::smp_init_cpus(&fdt, cpu::hwid(), params.nr_cpu_ids, &mut bootmem);
    setup::build_all_zonelists(&bootmem);
    kernel::notice!("Kernel command line: {bootargs}");

    // mm_init: the memmaps through the linear map, free memory into the buddy allocator.
    let valid = page_alloc::sections(mb, &bootmem.memmaps);
    let memmaps = bootmem.memmaps.iter().flatten().filter_map(|m| {
        let data = bootmem.numa.node_data[m.nid as usize]?;
        Some((m.nid, arch::linear::node_data(m.nid, data), page_alloc::memmap(m, valid[m.nid as usize]?)))
    });
    let sections = arch::mmu::kernel_sections();
    let cma = bootmem.cma.total_pages();
    let mut io_tlb = None;
    let installed = page_alloc::install(page_alloc::links(&bootmem.memmaps, &valid), |zones| {
        setup::mem_init(mb, &bootmem, memmaps, zones, &sections, cma, &params.swiotlb).map(|t| io_tlb = t)
    });
    if let Err(e) = installed {
        panic!("mem_init: {e}");
    }
    // cma_init_reserved_areas (a core_initcall, after the Memory: line): the CMA areas join
    // the buddy allocator as MIGRATE_CMA pageblocks.
    page_alloc::with(|z| setup::cma_init_reserved_areas(&bootmem.cma, z));
    if params.buddyinfo {
        page_alloc::with(|z| z.fmt_buddyinfo(&mut |line| info!("{line}")));
    }

    drivers::demo_carveout::probe(&fdt, &reserved);

    let (l, pa) = (arch::image::layout(), arch::image::pa_symbol);
    // What the monitor's `memmap` reports: the map at the end of mem_init (as the dry-run
    // prints it), with the sections where they lie, not at their link addresses.
    let phys = |(s, e): (u64, u64)| (pa(s).0, pa(e).0);
    let image_sections = kernel::mm::zone_sizes::KernelSections {
        text: phys(sections.text),
        rodata: phys(sections.rodata),
        rwdata: phys(sections.rwdata),
        init: phys(sections.init),
        bss: phys(sections.bss),
        ..Default::default()
    };
    let map = kernel::memmap::MapFacts {
        memblock: mb,
        fdt: &fdt,
        rmem: &reserved,
        bootmem: &bootmem,
        kernel: inputs.kernel,
        sections: image_sections,
        dtb: inputs.dtb,
        initrd: kernel::memmap::initrd_pages(machine.initrd),
        page_tables: &recorded.pages,
        io_tlb,
    };
    let facts = kernel::monitor::Facts {
        map: Some(&map),
        memblock: mb,
        rmem: &reserved,
        fdt: &fdt,
        kernel_code: (pa(l.stext), pa(l.init_begin)),
        kernel_data: (pa(l.sdata), pa(l.end)),
    };
    kernel_init(&facts, &bootmem.cma, &params, tables.root)
}

/// Linux's `kernel_init` after `do_basic_setup`: free the init sections, then what runs
/// after boot (the self-tests, the monitor) and power-off. Not init code itself, and never
/// inlined into `start_kernel`: nothing below runs from the pages it frees. It never returns
/// into `start_kernel`.
#[cfg(target_os = "none")]
#[inline(never)]
fn kernel_init(
    facts: &kernel::monitor::Facts,
    cma: &kernel::mm::cma::CmaAreas,
    params: &kernel::cmdline::EarlyParams,
    root: kernel::mm::PhysAddr,
) -> ! {
    arch::mmu::free_initmem(root);

    if let Some(test) = params.selftest {
        selftest::run(test, facts.memblock, cma);
    }

    kernel::info!("boot: complete");
    if params.monitor {
        console_monitor::run(facts, root);
    }
    power_off()
}

/// Report a device tree that cannot be used, through the fallback console, and stop.
#[cfg(target_os = "none")]
fn invalid_dtb(dtb_pa: u64, entry_el: u64, e: kernel::of::DtbError) -> ! {
    use core::fmt::Write;
    arch::psci::set_conduit(arch::psci::fallback_conduit(entry_el));
    let _ = writeln!(
        console::emergency(),
        "Error: invalid device tree blob at physical address 0x{dtb_pa:016x}: {e}"
    );
    power_off()
}

/// Linux's `kernel_power_off`: say so, drain the console, PSCI SYSTEM_OFF.
#[cfg(target_os = "none")]
pub fn power_off() -> ! {
    kernel::emerg!("reboot: Power down");
    console::Console::flush();
    arch::psci::system_off()
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let mut out = console::emergency();
    let msg = info.message();
    match info.location() {
        Some(loc) => {
            let _ = writeln!(out, "Kernel panic - not syncing: {msg} at {}:{}", loc.file(), loc.line());
        }
        None => {
            let _ = writeln!(out, "Kernel panic - not syncing: {msg}");
        }
    }
    out.replay_log();
    let _ = writeln!(out, "---[ end Kernel panic - not syncing: {msg} ]---");
    console::Console::flush();
    arch::psci::system_off()
}
