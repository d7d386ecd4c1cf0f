//! The flattened device tree, read the way Linux's `drivers/of/fdt.c` reads it at boot.
//!
//! `fdt` reads the blob (skipping FDT_NOP anywhere, as libfdt does); the other modules add what
//! Linux checks and decodes on top of it: header validation (`header`), the cell counts and
//! the `reg` values they size (`cells`, the only reader of those), `/chosen` and the
//! console (`chosen`), the memory scan (`fdt_scan`), reserved memory (`reserved_mem`), the
//! memory nodes' `numa-node-id` (`numa`), the PSCI conduit.
//! It never touches memory itself: callers hand it the blob as a byte slice.

pub mod cells;
pub mod chosen;
pub mod fdt;
pub mod fdt_scan;
pub mod header;
pub mod numa;
pub mod reserved_mem;
#[cfg(test)]
mod reserved_mem_tests;
#[cfg(test)]
mod smp_tests;
#[cfg(test)]
pub mod testblob;

pub use header::{DtbError, FdtHeader};

/// Conduit for PSCI calls, from `/psci/method` (Linux's `get_set_conduit_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    Hvc,
    Smc,
}

/// Read `/psci/method`; `None` when the node or the property is missing or unknown.
pub fn psci_conduit(fdt: &fdt::Fdt) -> Option<PsciConduit> {
    let node = fdt.find_node("/psci")?;
    match node.property("method")?.as_str()? {
        "hvc" => Some(PsciConduit::Hvc),
        "smc" => Some(PsciConduit::Smc),
        _ => None,
    }
}

/// The `(base, size)` entries of the `reg` of each memory node (`fdt_scan::memory_nodes`), or
/// why it cannot be decoded. Used to check that the blob lies in RAM before anything trusts
/// it; the full scan (usable-memory, hotplug, alignment) is `fdt_scan::scan_memory`.
pub fn memory_regs<'a>(fdt: &fdt::Fdt<'a>) -> impl Iterator<Item = Result<cells::Reg<'a>, cells::RegError>> + 'a {
    fdt_scan::memory_nodes(fdt).filter_map(|n| n.reg())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::of::testblob::Builder;
    use std::vec::Vec;

    /// A root with one memory node and, when `method` is given, a `/psci` node; `Some(None)`
    /// makes the node without a `method` property.
    fn blob(psci: Option<Option<&[u8]>>) -> Vec<u8> {
        let mut b = Builder::root_with_memory("memory@40000000", 0x4000_0000, 0x800_0000);
        if let Some(method) = psci {
            b.begin("psci");
            b.prop("compatible", b"arm,psci-1.0\0");
            if let Some(m) = method {
                b.prop("method", m);
            }
            b.end();
        }
        b.end();
        b.finish(&[])
    }

    fn conduit(psci: Option<Option<&[u8]>>) -> Option<PsciConduit> {
        let dtb = blob(psci);
        psci_conduit(&fdt::Fdt::new(&dtb).unwrap())
    }

    /// `get_set_conduit_method` knows exactly the two strings "hvc" and "smc"; anything else,
    /// a missing property or a missing node leaves no conduit.
    #[test]
    fn psci_method_names_the_conduit() {
        assert_eq!(conduit(Some(Some(b"hvc\0"))), Some(PsciConduit::Hvc));
        assert_eq!(conduit(Some(Some(b"smc\0"))), Some(PsciConduit::Smc));
        assert_eq!(conduit(Some(Some(b"svc\0"))), None);
        assert_eq!(conduit(Some(None)), None);
        assert_eq!(conduit(None), None);
    }
}
