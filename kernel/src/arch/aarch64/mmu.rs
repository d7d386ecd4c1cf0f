//! The MMU side of paging_init: table memory before and after the switch, the switch itself,
//! retiring the early identity map, and the linear map for everything after it.
//!
//! The tables are built by `kernel::mm::paging` while the early maps are live: a table page
//! memblock hands out is reached through the identity map (its 2 MiB block is added on
//! demand). After the switch every physical page the kernel touches is reached through the
//! linear map, `phys_to_virt`.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::mm::memblock::{Region, RegionMapper};
use kernel::mm::paging::{KernelTables, Segment, TableAccess};
use kernel::mm::pgtable::{phys_to_virt, Prot};
use kernel::mm::{PhysAddr, PAGE_SIZE};

/// Level-2 block attributes for table pages in the identity map: normal memory, never-execute.
const BLOCK_NORMAL_NX: u64 = 1 | (1 << 2) | (3 << 8) | (1 << 10) | (3 << 53);
/// `memstart_addr` once the linear map is live (0 before: nothing may use it).
static MEMSTART: AtomicU64 = AtomicU64::new(u64::MAX);

extern "C" {
    fn idmap_map_block(pa: u64, attrs: u64) -> bool;
    fn cpu_replace_ttbr1(root: u64);
    fn cpu_retire_ttbr0();
}

crate::arch::__init! {
/// The image's sections for the `Memory:` line, init sections included.
pub fn kernel_sections() -> kernel::mm::zone_sizes::KernelSections {
    let l = super::image::layout();
    kernel::mm::zone_sizes::KernelSections {
        text: (l.stext, l.etext),
        rodata: (l.start_rodata, l.end_rodata),
        rwdata: (l.sdata, l.edata),
        init: (l.init_begin, l.init_end),
        inittext: (l.sinittext, l.einittext),
        bss: (l.bss_start, l.bss_stop),
    }
}
}

extern "C" {
    fn flush_tlb_kernel_page(va: u64);
}

/// arm64's `free_initmem`: take `[__init_begin, __init_end)` out of the image map in the
/// live tables rooted at `root` (each entry cleared, then its TLB entries invalidated:
/// nothing maps there again), poison the pages through their linear alias as Linux does
/// (`POISON_FREE_INITMEM`), and hand them to the page allocator with Linux's line
/// `Freeing unused kernel memory: NK`. Returns the pages freed. From here on, calling
/// init code faults.
pub fn free_initmem(root: PhysAddr) -> u64 {
    use super::image::pa_symbol;
    let l = super::image::layout();
    let unmapped = kernel::mm::pgtable::unmap_range(&mut LinearTables, root, l.init_begin, l.init_end - l.init_begin, &mut |va| {
        // Invalidating the TLB entries of `va` only makes the next access walk the tables.
        // SAFETY: the entry for `va` was just cleared, so no live translation is lost.
        unsafe { flush_tlb_kernel_page(va) }
    });
    if let Err(e) = unmapped {
        panic!("free_initmem: {e}");
    }
    let (start, end) = (pa_symbol(l.init_begin), pa_symbol(l.init_end));
    // Their linear alias is read-write: only text and rodata have a read-only one.
    // SAFETY: the init pages are reserved memory nobody uses any more, mapped read-write.
    unsafe { core::ptr::write_bytes(va(start) as *mut u8, POISON_FREE_INITMEM, (end - start) as usize) };
    let freed = crate::page_alloc::with(|z| kernel::mm::buddy::reserved::free_initmem(z, start, end));
    match freed {
        Some(Ok(pages)) => pages,
        Some(Err(e)) => panic!("free_initmem: {e}"),
        None => panic!("free_initmem: no page allocator"),
    }
}

/// Linux's `POISON_FREE_INITMEM`, the byte freed init memory is filled with.
const POISON_FREE_INITMEM: u8 = 0xcc;

/// Tables reached through the identity map, before the switch.
pub struct EarlyTables;

impl EarlyTables {
    fn slot(table: PhysAddr, index: usize) -> *mut u64 {
        (table.0 as *mut u64).wrapping_add(index)
    }
}

impl TableAccess for EarlyTables {
    fn zero(&mut self, pa: PhysAddr) {
        // The pool's tables live in the image; the block holds memblock memory being handed to
        // page tables and its neighbours, mapped as normal memory.
        // SAFETY: so the call only adds an identity mapping nothing relies on being absent.
        if !unsafe { idmap_map_block(pa.0, BLOCK_NORMAL_NX) } {
            panic!("paging_init: no early table left to reach the page table at {:#x}", pa.0);
        }
        // SAFETY: memblock just gave this page to us, and it is now identity-mapped.
        unsafe { core::ptr::write_bytes(pa.0 as *mut u8, 0, PAGE_SIZE as usize) };
    }
    fn read(&self, table: PhysAddr, index: usize) -> u64 {
        // SAFETY: every table was zeroed through `zero`, so it is mapped; index < 512.
        unsafe { Self::slot(table, index).read_volatile() }
    }
    fn write(&mut self, table: PhysAddr, index: usize, desc: u64) {
        // SAFETY: as for `read`; the tables are not live yet, so no break-before-make applies.
        unsafe { Self::slot(table, index).write_volatile(desc) }
    }
}

/// Tables reached through the linear map, after the switch (ptdump, later mappings).
pub struct LinearTables;

impl TableAccess for LinearTables {
    fn zero(&mut self, pa: PhysAddr) {
        // SAFETY: a fresh memblock page, in the linear map.
        unsafe { core::ptr::write_bytes(va(pa) as *mut u8, 0, PAGE_SIZE as usize) };
    }
    fn read(&self, table: PhysAddr, index: usize) -> u64 {
        // SAFETY: tables are memblock memory, which the linear map covers.
        unsafe { (va(table) as *const u64).add(index).read_volatile() }
    }
    fn write(&mut self, table: PhysAddr, index: usize, desc: u64) {
        // SAFETY: as for `read`.
        unsafe { (va(table) as *mut u64).add(index).write_volatile(desc) }
    }
}

impl kernel::mm::pgtable::TableMem for LinearTables {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        None
    }
    fn read(&self, table: PhysAddr, index: usize) -> u64 {
        TableAccess::read(self, table, index)
    }
    fn write(&mut self, table: PhysAddr, index: usize, desc: u64) {
        TableAccess::write(self, table, index, desc)
    }
}

/// `__va`: the linear-map address of `pa` (valid once `install` has run).
pub fn va(pa: PhysAddr) -> u64 {
    let memstart = MEMSTART.load(Ordering::Relaxed);
    assert!(memstart != u64::MAX, "phys_to_virt({:#x}) before paging_init", pa.0);
    phys_to_virt(pa, PhysAddr(memstart))
}

/// The physical address behind `va` when it is an identity-mapped (TTBR0, below 2^48) or a
/// linear-map address; `None` for anything else.
pub fn pa_of(va: u64) -> Option<u64> {
    use kernel::mm::pgtable::{virt_to_phys, PAGE_OFFSET};
    let memstart = MEMSTART.load(Ordering::Relaxed);
    match va {
        _ if va >> 48 == 0 => Some(va),
        _ if (PAGE_OFFSET..PAGE_OFFSET + (1 << 47)).contains(&va) && memstart != u64::MAX => {
            Some(virt_to_phys(va, PhysAddr(memstart)).0)
        }
        _ => None,
    }
}

crate::arch::__init! {
/// The image's segments with W^X (the stack's guard page left out), and the part (text +
/// rodata) that gets a read-only alias. The init text is executable, the init data not.
pub fn image_segments() -> ([Segment; 6], (PhysAddr, PhysAddr)) {
    use super::image::pa_symbol;
    let l = super::image::layout();
    let (text, etext, rodata, erodata, sdata, end) = (l.stext, l.etext, l.start_rodata, l.end_rodata, l.sdata, l.end);
    let seg = |va: u64, end: u64, prot| Segment { va, pa: pa_symbol(va), size: end - va, prot };
    (
        [
            seg(text, etext, Prot::PAGE_KERNEL_ROX),
            seg(rodata, erodata, Prot::PAGE_KERNEL_RO),
            seg(l.init_begin, l.initdata_begin, Prot::PAGE_KERNEL_ROX),
            seg(l.initdata_begin, l.init_end, Prot::PAGE_KERNEL),
            seg(sdata, l.stack_guard, Prot::PAGE_KERNEL),
            seg(l.stack, end, Prot::PAGE_KERNEL),
        ],
        (pa_symbol(text), pa_symbol(erodata)),
    )
}
}

crate::arch::__init! {
/// Switch TTBR1 to the new tables (`cpu_replace_ttbr1`, run through the identity map).
pub fn install(tables: &KernelTables) {
    let switch = super::image::pa_symbol(cpu_replace_ttbr1 as *const () as u64);
    // The new tables map the kernel image at the same addresses with the same memory type,
    // and the stack, the vectors and everything else the kernel uses from here on.
    // SAFETY: the routine runs at its physical address, which the identity map still covers.
    unsafe {
        core::arch::asm!("dsb ishst");
        let f: extern "C" fn(u64) = core::mem::transmute(switch.0 as usize);
        f(tables.root.0);
    }
    MEMSTART.store(tables.memstart.0, Ordering::Relaxed);
}
}

crate::arch::__init! {
/// Stop using the early identity map: TTBR0 walks off.
pub fn retire_idmap() {
    // SAFETY: after `install` and the console and blob moves, nothing uses the lower half.
    unsafe { cpu_retire_ttbr0() }
}
}

crate::arch::__init! {
/// The device tree through its fixmap mapping.
pub fn fdt_at(va: u64, size: usize) -> &'static [u8] {
    // SAFETY: paging_init mapped the blob read-only there, for the kernel's life.
    unsafe { core::slice::from_raw_parts(va as *const u8, size) }
}
}

crate::arch::__init! {
/// Read the first and last byte of `[start, end)` through the linear map.
pub fn touch(start: PhysAddr, end: PhysAddr) {
    // SAFETY: the range is linear-mapped memory (not NOMAP); reads have no side effect.
    unsafe {
        core::ptr::read_volatile(va(start) as *const u8);
        core::ptr::read_volatile(va(PhysAddr(end.0 - 1)) as *const u8);
    }
}
}

/// memblock's view of a grown region array, through the linear map.
pub struct LinearMapper;

impl RegionMapper for LinearMapper {
    fn map(&self, base: PhysAddr, count: usize) -> &'static mut [Region] {
        // memblock picked and is about to reserve this range for the array.
        // SAFETY: it is page aligned, big enough for `count` regions and in the linear map.
        unsafe { core::slice::from_raw_parts_mut(va(base) as *mut Region, count) }
    }
}

