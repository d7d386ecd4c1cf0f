//! A demo consumer of reserved memory, after the `RESERVEDMEM_OF_DECLARE` example of seed
//! 003: a device with its own compatible owns a fixed carve-out. The carve-out's hook runs in
//! setup_arch and records the region; later in boot the device finds it again through the
//! lookup API, by its `memory-region` phandle, and logs what it got.
//!
//! ```dts
//! reserved-memory { ... demo_carveout: carveout@50000000 {
//!     compatible = "memboot,demo-carveout"; reg = <0x0 0x50000000 0x0 0x400000>; }; };
//! demo-device { compatible = "memboot,demo-device"; memory-region = <&demo_carveout>; };
//! ```

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::mm::PhysAddr;
use kernel::of::fdt::{Fdt, Node};
use kernel::of::reserved_mem::{HookEnv, HookError, ReservedMem, ReservedMemTable};
use kernel::{info, warn};

pub const CARVEOUT_COMPATIBLE: &str = "memboot,demo-carveout";
pub const DEVICE_COMPATIBLE: &str = "memboot,demo-device";

static CARVEOUT_BASE: AtomicU64 = AtomicU64::new(0);
static CARVEOUT_SIZE: AtomicU64 = AtomicU64::new(0);

fn carveout_setup(rmem: &mut ReservedMem, _node: &Node, _env: &HookEnv) -> Result<(), HookError> {
    if rmem.size == 0 {
        return Err(HookError::Inval);
    }
    CARVEOUT_BASE.store(rmem.base.0, Ordering::Relaxed);
    CARVEOUT_SIZE.store(rmem.size, Ordering::Relaxed);
    info!(
        "Reserved memory: created demo carve-out at 0x{:016x}, size {} MiB",
        rmem.base.0,
        rmem.size >> 20
    );
    Ok(())
}

kernel::reservedmem_of_declare!(DEMO_CARVEOUT, CARVEOUT_COMPATIBLE, carveout_setup);

/// Probe every demo device: find its carve-out by phandle and check it is the one the hook
/// recorded. The devices are gathered in a heap `Vec` first: the probe runs after mm init,
/// when the kernel heap (fed by the buddy allocator) serves `alloc` collections.
pub fn probe(fdt: &Fdt, table: &ReservedMemTable) {
    let devices: alloc::vec::Vec<_> = fdt.all_nodes().filter(|n| n.is_compatible(DEVICE_COMPATIBLE)).collect();
    for dev in devices {
        match table.lookup_device_region(&dev, 0) {
            Some(r) => {
                let recorded = (PhysAddr(CARVEOUT_BASE.load(Ordering::Relaxed)), CARVEOUT_SIZE.load(Ordering::Relaxed));
                let owned = r.owner == Some(CARVEOUT_COMPATIBLE) && recorded == (r.base, r.size);
                info!(
                    "demo-device {}: memory-region {} at 0x{:016x}, size {} MiB{}",
                    dev.name,
                    r.name,
                    r.base.0,
                    r.size >> 20,
                    if owned { "" } else { " (not claimed by the demo carve-out hook)" }
                );
            }
            None => warn!("demo-device {}: no usable memory-region", dev.name),
        }
    }
}
