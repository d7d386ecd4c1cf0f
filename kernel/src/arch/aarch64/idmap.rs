//! The early identity map that `boot/head.S` builds: 2 MiB blocks from a small static pool of
//! tables in the image. The kernel and the DTB are mapped before the MMU goes on; the console
//! is added here once the DTB has named it.

use kernel::mm::PhysAddr;

/// Level-2 block attributes: Device-nGnRE (MAIR index 0), access flag, never-execute.
const BLOCK_DEVICE: u64 = 1 | (0 << 2) | (1 << 10) | (3 << 53);

extern "C" {
    /// `boot/head.S`: map the 2 MiB block containing `pa` to itself; false when the pool of
    /// tables is exhausted. Keeps an existing mapping of that block.
    fn idmap_map_block(pa: u64, attrs: u64) -> bool;
}

/// Identity-map `[base, base + size)` as device memory.
#[derive(Debug)]
pub struct PoolExhausted;

pub fn map_device(base: PhysAddr, size: u64) -> Result<(), PoolExhausted> {
    let mut block = base.align_down(0x20_0000).0;
    let end = base.0.saturating_add(size.max(1));
    while block < end {
        // idmap_map_block writes descriptors only for blocks that are still invalid, into
        // page-table memory inside the kernel image, each write followed by dsb ishst + isb.
        // SAFETY: so it never changes a mapping the running code depends on.
        if !unsafe { idmap_map_block(block, BLOCK_DEVICE) } {
            return Err(PoolExhausted);
        }
        block += 0x20_0000;
    }
    Ok(())
}
