//! Validation of the flattened device tree header before anything else reads the blob.
//!
//! Linux's `early_init_dt_verify` checks the header with libfdt's `fdt_check_header` and the
//! arm64 boot code insists on an 8-byte aligned blob of at most 2 MiB (`MAX_FDT_SIZE`). We do
//! the same and also refuse a blob that overlaps the kernel image, and report each failure with
//! the value that was wrong.

use crate::mm::PhysAddr;
use crate::of::cells::RegError;
use core::fmt;

/// `FDT_MAGIC`, big-endian in the blob.
pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// Size of the v17 header.
pub const FDT_HEADER_SIZE: usize = 40;
/// arm64's `MAX_FDT_SIZE`: the blob must not exceed 2 MiB.
pub const MAX_FDT_SIZE: u32 = 2 * 1024 * 1024;
/// Oldest version libfdt reads (`FDT_FIRST_SUPPORTED_VERSION`) and newest it knows.
const FDT_FIRST_SUPPORTED_VERSION: u32 = 0x02;
const FDT_LAST_SUPPORTED_VERSION: u32 = 0x11;

/// The fields of the header, host-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdtHeader {
    pub magic: u32,
    pub totalsize: u32,
    pub off_dt_struct: u32,
    pub off_dt_strings: u32,
    pub off_mem_rsvmap: u32,
    pub version: u32,
    pub last_comp_version: u32,
    pub boot_cpuid_phys: u32,
    pub size_dt_strings: u32,
    pub size_dt_struct: u32,
}

/// Why a blob was refused. Each variant carries the offending value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtbError {
    NullPointer,
    Misaligned(PhysAddr),
    BadMagic(u32),
    BadVersion { version: u32, last_comp_version: u32 },
    TooSmall(u32),
    TooLarge(u32),
    BlockOutside { block: &'static str, offset: u32, size: u32, totalsize: u32 },
    OverlapsKernel { base: PhysAddr, end: PhysAddr, kernel: (PhysAddr, PhysAddr) },
    /// The memory nodes give no memory at all: the boot has nowhere to run.
    NoMemory,
    /// `[base, base + totalsize)` runs past the end of the 64-bit physical address space (a
    /// dry-run's `--dtb-addr`: no RAM holds it, and Linux's fixmap could not map it either).
    PastEndOfSpace { base: PhysAddr, totalsize: u32 },
    /// The memory nodes give no memory, and the `reg` of one of them cannot be decoded.
    MemoryReg(RegError),
    Unparsable,
    /// Fewer bytes than the header or its totalsize (a file given to the dry-run).
    Truncated { have: usize, need: usize },
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DtbError::NullPointer => write!(f, "no device tree: x0 was 0 at entry"),
            DtbError::Misaligned(pa) => write!(f, "address {:#x} is not 8-byte aligned", pa.0),
            DtbError::BadMagic(m) => {
                write!(f, "bad magic {m:#010x} (expected {FDT_MAGIC:#010x})")
            }
            DtbError::BadVersion { version, last_comp_version } => write!(
                f,
                "unsupported version {version} (last compatible {last_comp_version}; need {}..={})",
                FDT_FIRST_SUPPORTED_VERSION, FDT_LAST_SUPPORTED_VERSION
            ),
            DtbError::TooSmall(t) => write!(f, "totalsize {t:#x} is smaller than the header"),
            DtbError::TooLarge(t) => {
                write!(f, "totalsize {t:#x} exceeds the 2 MiB limit ({MAX_FDT_SIZE:#x})")
            }
            DtbError::BlockOutside { block, offset, size, totalsize } => write!(
                f,
                "{block} block [{offset:#x}+{size:#x}] lies outside totalsize {totalsize:#x}"
            ),
            DtbError::OverlapsKernel { base, end, kernel } => write!(
                f,
                "blob [{:#x}-{:#x}] overlaps the kernel image [{:#x}-{:#x}]",
                base.0,
                end.0 - 1,
                kernel.0 .0,
                kernel.1 .0 - 1
            ),
            DtbError::NoMemory => write!(f, "no memory node describes any memory"),
            DtbError::PastEndOfSpace { base, totalsize } => write!(
                f,
                "blob at {:#x} of totalsize {totalsize:#x} runs past the end of the physical address space",
                base.0
            ),
            DtbError::MemoryReg(e) => {
                write!(f, "no memory node describes any memory, and one has an invalid reg property: {e}")
            }
            DtbError::Unparsable => write!(f, "the structure block cannot be parsed"),
            DtbError::Truncated { have, need } => {
                write!(f, "truncated: {have:#x} bytes where the header needs {need:#x}")
            }
        }
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl FdtHeader {
    /// Decode the header from its first `FDT_HEADER_SIZE` bytes.
    pub fn parse(bytes: &[u8; FDT_HEADER_SIZE]) -> FdtHeader {
        FdtHeader {
            magic: be32(bytes, 0),
            totalsize: be32(bytes, 4),
            off_dt_struct: be32(bytes, 8),
            off_dt_strings: be32(bytes, 12),
            off_mem_rsvmap: be32(bytes, 16),
            version: be32(bytes, 20),
            last_comp_version: be32(bytes, 24),
            boot_cpuid_phys: be32(bytes, 28),
            size_dt_strings: be32(bytes, 32),
            size_dt_struct: be32(bytes, 36),
        }
    }

    /// Check the header of a blob at physical address `pa` against what Linux accepts, and
    /// against the kernel image `[kernel.0, kernel.1)`. Returns the decoded header.
    pub fn validate(
        pa: PhysAddr,
        bytes: &[u8; FDT_HEADER_SIZE],
        kernel: (PhysAddr, PhysAddr),
    ) -> Result<FdtHeader, DtbError> {
        if pa.0 == 0 {
            return Err(DtbError::NullPointer);
        }
        if !pa.is_aligned(8) {
            return Err(DtbError::Misaligned(pa));
        }
        let h = FdtHeader::parse(bytes);
        if h.magic != FDT_MAGIC {
            return Err(DtbError::BadMagic(h.magic));
        }
        if h.version < FDT_FIRST_SUPPORTED_VERSION
            || h.last_comp_version > FDT_LAST_SUPPORTED_VERSION
            || h.version < h.last_comp_version
        {
            return Err(DtbError::BadVersion {
                version: h.version,
                last_comp_version: h.last_comp_version,
            });
        }
        if (h.totalsize as usize) < FDT_HEADER_SIZE {
            return Err(DtbError::TooSmall(h.totalsize));
        }
        if h.totalsize > MAX_FDT_SIZE {
            return Err(DtbError::TooLarge(h.totalsize));
        }
        let blocks = [
            ("structure", h.off_dt_struct, h.size_dt_struct),
            ("strings", h.off_dt_strings, h.size_dt_strings),
            ("memory reservation", h.off_mem_rsvmap, 16),
        ];
        for (block, offset, size) in blocks {
            let inside = (offset as u64) >= FDT_HEADER_SIZE as u64
                && offset as u64 + size as u64 <= h.totalsize as u64;
            if !inside {
                return Err(DtbError::BlockOutside { block, offset, size, totalsize: h.totalsize });
            }
        }
        let end = pa.checked_add(h.totalsize as u64).ok_or(DtbError::PastEndOfSpace { base: pa, totalsize: h.totalsize })?;
        if pa < kernel.1 && kernel.0 < end {
            return Err(DtbError::OverlapsKernel { base: pa, end, kernel });
        }
        Ok(h)
    }
}

/// Validate and parse the blob at `pa`: the header from its first bytes, then the whole blob,
/// which `blob(totalsize)` provides once the header has bounded its size (the boot maps it,
/// the dry-run slices a file), then that it describes some memory to boot in. Where the blob
/// lies is not checked against that memory: as arm64 Linux maps it through the fixmap and
/// reserves it wherever it is, a blob in a hole of the memory map boots.
pub fn open<'a>(
    pa: PhysAddr,
    header: &[u8],
    blob: impl FnOnce(usize) -> Option<&'a [u8]>,
    kernel: (PhysAddr, PhysAddr),
) -> Result<crate::of::fdt::Fdt<'a>, DtbError> {
    let truncated = |need| DtbError::Truncated { have: header.len(), need };
    let bytes: &[u8; FDT_HEADER_SIZE] =
        header.get(..FDT_HEADER_SIZE).and_then(|b| b.try_into().ok()).ok_or(truncated(FDT_HEADER_SIZE))?;
    let h = FdtHeader::validate(pa, bytes, kernel)?;
    let blob = blob(h.totalsize as usize).ok_or(truncated(h.totalsize as usize))?;
    let fdt = crate::of::fdt::Fdt::new(blob)?;
    check_describes_memory(crate::of::memory_regs(&fdt))?;
    Ok(fdt)
}

/// Check that the `memory` nodes' `reg` give some memory, one `(base, size)` range of a
/// non-zero size (the last step of validation, once the blob can be parsed): without any,
/// Linux goes on with an empty memblock and faults or hangs later; here the boot stops with
/// a line. A `reg` that cannot be decoded is named when no other gives memory.
pub fn check_describes_memory(
    memory: impl Iterator<Item = Result<impl Iterator<Item = (u64, u64)>, RegError>>,
) -> Result<(), DtbError> {
    let mut refused = None;
    for reg in memory {
        match reg {
            Ok(mut ranges) => {
                if ranges.any(|(_, size)| size > 0) {
                    return Ok(());
                }
            }
            Err(e) => refused = refused.or(Some(e)),
        }
    }
    Err(refused.map_or(DtbError::NoMemory, DtbError::MemoryReg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(magic: u32, totalsize: u32, version: u32, last: u32) -> [u8; FDT_HEADER_SIZE] {
        let fields = [magic, totalsize, 0x38, 0x100, 0x28, version, last, 0, 0x10, 0x40];
        let mut b = [0u8; FDT_HEADER_SIZE];
        for (i, f) in fields.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&f.to_be_bytes());
        }
        b
    }

    const KERNEL: (PhysAddr, PhysAddr) = (PhysAddr(0x4020_0000), PhysAddr(0x4040_0000));

    #[test]
    fn accepts_a_v17_header() {
        let h = FdtHeader::validate(PhysAddr(0x4800_0000), &header(FDT_MAGIC, 0x200, 17, 16), KERNEL);
        assert_eq!(h.map(|h| h.totalsize), Ok(0x200));
    }

    #[test]
    fn refuses_each_bad_field_with_its_value() {
        let pa = PhysAddr(0x4800_0000);
        let v = |b: [u8; FDT_HEADER_SIZE]| FdtHeader::validate(pa, &b, KERNEL);
        assert_eq!(v(header(0x1234_5678, 0x200, 17, 16)), Err(DtbError::BadMagic(0x1234_5678)));
        assert_eq!(
            v(header(FDT_MAGIC, 0x200, 1, 1)),
            Err(DtbError::BadVersion { version: 1, last_comp_version: 1 })
        );
        assert_eq!(v(header(FDT_MAGIC, 0x10, 17, 16)), Err(DtbError::TooSmall(0x10)));
        assert_eq!(v(header(FDT_MAGIC, 0x30_0000, 17, 16)), Err(DtbError::TooLarge(0x30_0000)));
        // strings block at 0x100 + 0x10 does not fit in 0xf0 bytes
        assert!(matches!(
            v(header(FDT_MAGIC, 0xf0, 17, 16)),
            Err(DtbError::BlockOutside { block: "strings", .. })
        ));
        assert_eq!(
            FdtHeader::validate(PhysAddr(0), &header(FDT_MAGIC, 0x200, 17, 16), KERNEL),
            Err(DtbError::NullPointer)
        );
        assert_eq!(
            FdtHeader::validate(PhysAddr(0x4800_0004), &header(FDT_MAGIC, 0x200, 17, 16), KERNEL),
            Err(DtbError::Misaligned(PhysAddr(0x4800_0004)))
        );
    }

    #[test]
    fn refuses_a_blob_inside_the_kernel() {
        let r = FdtHeader::validate(PhysAddr(0x403f_ff00), &header(FDT_MAGIC, 0x200, 17, 16), KERNEL);
        assert!(matches!(r, Err(DtbError::OverlapsKernel { .. })));
        // ending exactly at the kernel's start is fine
        let r = FdtHeader::validate(PhysAddr(0x401f_fe00), &header(FDT_MAGIC, 0x200, 17, 16), KERNEL);
        assert!(r.is_ok());
    }

    /// Some memory is all the check asks for; only sizes of zero, or no node, are no memory.
    #[test]
    fn memory_described() {
        let mem = |size| Ok([(0x4000_0000, 0u64), (0x8000_0000, size)].into_iter());
        assert!(check_describes_memory([mem(0x1000)].into_iter()).is_ok());
        assert_eq!(check_describes_memory([mem(0)].into_iter()), Err(DtbError::NoMemory));
        assert_eq!(check_describes_memory(core::iter::empty::<Result<core::array::IntoIter<(u64, u64), 2>, _>>()), Err(DtbError::NoMemory));
        // A node that cannot be read is named only when no other one gives memory.
        let bad = || Err::<core::array::IntoIter<(u64, u64), 2>, _>(RegError::ZeroWidth);
        assert!(check_describes_memory([bad(), mem(0x1000)].into_iter()).is_ok());
        assert_eq!(check_describes_memory([bad(), mem(0)].into_iter()), Err(DtbError::MemoryReg(RegError::ZeroWidth)));
    }
}
