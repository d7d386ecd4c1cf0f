//! Host tests of the buddy allocator.
