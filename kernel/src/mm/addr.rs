//! Physical addresses and page frame numbers.
//!
//! `PhysAddr` is a plain `u64` newtype so that a physical address is never confused with a
//! size, a virtual address or a page frame number. Ranges are half-open `[base, end)`; sums
//! near the top of the 64-bit space are checked by the callers (`PhysAddr::checked_add`,
//! `memblock::cap_size`); the `+` and `-` operators stop on overflow in every build.

use core::fmt;

/// Base-2 logarithm of the page size (4 KiB granule, as Linux arm64 with 4K pages).
pub const PAGE_SHIFT: u32 = 12;
/// Size of a page in bytes.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// A physical address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u64);

/// A page frame number: a physical address shifted right by `PAGE_SHIFT`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Pfn(pub u64);

impl PhysAddr {
    /// The highest representable address; Linux's `PHYS_ADDR_MAX`.
    pub const MAX: PhysAddr = PhysAddr(u64::MAX);

    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Round down to a multiple of `align` (a power of two).
    pub const fn align_down(self, align: u64) -> PhysAddr {
        PhysAddr(align_down(self.0, align))
    }

    /// Round up to a multiple of `align` (a power of two); saturates at the top of the space
    /// to the highest aligned address instead of wrapping.
    pub const fn align_up(self, align: u64) -> PhysAddr {
        PhysAddr(align_up(self.0, align))
    }

    pub const fn is_aligned(self, align: u64) -> bool {
        self.0 & (align - 1) == 0
    }

    /// The frame containing this address (Linux's `PFN_DOWN`).
    pub const fn pfn_down(self) -> Pfn {
        Pfn(self.0 >> PAGE_SHIFT)
    }

    /// The first frame at or above this address (Linux's `PFN_UP`).
    pub const fn pfn_up(self) -> Pfn {
        Pfn(self.0.div_ceil(PAGE_SIZE))
    }
}

impl Pfn {
    pub const fn addr(self) -> PhysAddr {
        PhysAddr(self.0 << PAGE_SHIFT)
    }
}

/// Round `x` down to a multiple of `align` (a power of two).
pub const fn align_down(x: u64, align: u64) -> u64 {
    x & !(align - 1)
}

/// Round `x` up to a multiple of `align` (a power of two). Where the result would not fit in
/// 64 bits it saturates to the highest aligned value, never wrapping to a low address.
pub const fn align_up(x: u64, align: u64) -> u64 {
    match x.checked_add(align - 1) {
        Some(v) => v & !(align - 1),
        None => u64::MAX & !(align - 1),
    }
}

impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysAddr({:#x})", self.0)
    }
}

impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// `PhysAddr + u64` and `PhysAddr - PhysAddr` are for sums the kernel has already bounded
/// (a region inside memblock, a page inside a range): an overflow there is a bug, and it stops
/// with the same message in debug and release builds, never wrapping. A value from the tree,
/// the command line or a dry-run option goes through [`PhysAddr::checked_add`] (or Linux's
/// clamp, `memblock::cap_size`) first.
impl core::ops::Add<u64> for PhysAddr {
    type Output = PhysAddr;
    #[track_caller]
    fn add(self, rhs: u64) -> PhysAddr {
        match self.0.checked_add(rhs) {
            Some(v) => PhysAddr(v),
            None => overflow("+", self.0, rhs),
        }
    }
}

impl core::ops::Sub<PhysAddr> for PhysAddr {
    type Output = u64;
    #[track_caller]
    fn sub(self, rhs: PhysAddr) -> u64 {
        match self.0.checked_sub(rhs.0) {
            Some(v) => v,
            None => overflow("-", self.0, rhs.0),
        }
    }
}

#[cold]
#[track_caller]
fn overflow(op: &str, a: u64, b: u64) -> ! {
    panic!("physical address arithmetic overflows: {a:#x} {op} {b:#x}")
}

impl PhysAddr {
    /// `self + size`, or `None` past the top of the 64-bit space.
    pub const fn checked_add(self, size: u64) -> Option<PhysAddr> {
        match self.0.checked_add(size) {
            Some(v) => Some(PhysAddr(v)),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_up_saturates_instead_of_wrapping() {
        assert_eq!(align_up(u64::MAX - 5, 0x1000), u64::MAX & !0xfff);
        assert_eq!(align_up(0x1001, 0x1000), 0x2000);
        assert_eq!(align_up(0x1000, 0x1000), 0x1000);
    }

    #[test]
    fn pfn_rounding() {
        assert_eq!(PhysAddr(0x1fff).pfn_down(), Pfn(1));
        assert_eq!(PhysAddr(0x1001).pfn_up(), Pfn(2));
        assert_eq!(PhysAddr(0x2000).pfn_up(), Pfn(2));
        assert_eq!(Pfn(3).addr(), PhysAddr(0x3000));
    }

    #[test]
    fn as_u64_is_the_address_itself() {
        assert_eq!(PhysAddr(0x4000_0000).as_u64(), 0x4000_0000);
        assert_eq!(PhysAddr::MAX.as_u64(), u64::MAX);
    }
}
