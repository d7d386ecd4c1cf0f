//! Device drivers: the PL011 console and the consumers of reserved memory.

pub mod demo_carveout;
pub mod pl011;

// Linux's kernel/dma "shared-dma-pool" hooks (CMA first, then the coherent pool).
kernel::reservedmem_of_declare!(
    SHARED_DMA_POOL,
    "shared-dma-pool",
    kernel::of::reserved_mem::shared_dma_pool_setup
);
