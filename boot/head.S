/*
 * Kernel entry: the Linux arm64 Image header, EL2 -> EL1, BSS, the early identity map and the
 * early kernel map, MMU on, the jump to the kernel's link address (KIMAGE_VADDR, TTBR1) and to
 * Rust (`kernel_main(dtb_phys, entry_el)`).
 *
 * Until the MMU is on the code runs at its physical address, so it only uses PC-relative
 * addressing (adr/adrp) for memory; `ldr xN, =symbol` gives link-time (virtual) addresses.
 *
 * Boot protocol (Documentation/arm64/booting.rst): the loader enters at the first byte of the
 * Image with x0 = physical address of the DTB, x1..x3 = 0, MMU off, at EL2 or EL1. Only the CPU
 * with MPIDR affinity 0 continues; any other CPU that enters here parks in a WFE loop and never
 * touches memory (on QEMU virt secondary CPUs stay off until PSCI CPU_ON anyway).
 *
 * Registers kept across the boot path: x19 = DTB physical address, x20 = CurrentEL at entry,
 * x24 = physical address of _text.
 */

    .equ    SCTLR_EL1_RES1, ((1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11))
    .equ    SCTLR_EL1_M, (1 << 0)
    .equ    SCTLR_EL1_C, (1 << 2)
    .equ    SCTLR_EL1_SA, (1 << 3)
    .equ    SCTLR_EL1_I, (1 << 12)

    .equ    HCR_EL2_RW, (1 << 31)
    .equ    SPSR_EL1H_DAIF, 0x3c5   /* EL1h, D, A, I, F masked */

/* MAIR_EL1: attr0 Device-nGnRE, attr1 Normal write-back RW-allocate, attr2 Normal non-cacheable */
    .equ    MAIR_VALUE, 0x44ff04

/* TCR_EL1: T0SZ = T1SZ = 16 (48-bit VA), inner/outer WB-WA, inner shareable, 4K granules
   for both halves. */
    .equ    TCR_VALUE, ((16 << 0) | (1 << 8) | (1 << 10) | (3 << 12) | (0 << 14) | (16 << 16) | (1 << 24) | (1 << 26) | (3 << 28) | (2 << 30))
    .equ    TCR_EPD0, (1 << 7)
    .equ    TCR_EPD1, (1 << 23)

/* Stage-1 block descriptors (2 MiB at level 2) */
    .equ    PTE_TABLE, 0x3
    .equ    BLOCK_NORMAL, ((1 << 0) | (1 << 2) | (3 << 8) | (1 << 10))   /* attr1, ISH, AF */
    .equ    BLOCK_NORMAL_NX, (BLOCK_NORMAL | (3 << 53))                   /* + PXN|UXN */
    .equ    BLOCK_DEVICE, ((1 << 0) | (0 << 2) | (1 << 10) | (3 << 53))   /* attr0, AF, PXN|UXN */
    .equ    SZ_2M, 0x200000

    .section .head.text, "ax"
    .global _head
_head:
    b       primary_entry                   /* code0 */
    .long   0                               /* code1 */
    .quad   TEXT_OFFSET                     /* text_offset: from the 2 MiB-aligned RAM base */
    .quad   _kernel_size                    /* image_size: _end - _text, BSS included */
    .quad   0x2                             /* flags: little-endian, 4K pages, 2 MiB placement */
    .quad   0                               /* res2 */
    .quad   0                               /* res3 */
    .quad   0                               /* res4 */
    .byte   0x41, 0x52, 0x4d, 0x64          /* magic "ARM\x64" */
    .long   0                               /* res5: no PE header */

    .section .text.boot, "ax"
primary_entry:
    mov     x19, x0                         /* DTB physical address, kept */

    /* Park every CPU whose affinity is not 0. */
    mrs     x1, mpidr_el1
    ldr     x2, =0xff00ffffff
    and     x1, x1, x2
    cbnz    x1, park

    mrs     x20, CurrentEL
    lsr     x20, x20, #2
    cmp     x20, #2
    b.ne    el1_entry

    /* Entered at EL2: make EL1 AArch64, give it the timers and FP/SIMD, and drop to it. */
    mov     x0, #HCR_EL2_RW
    msr     hcr_el2, x0
    mov     x0, #3                          /* CNTHCTL_EL2.EL1PCTEN | EL1PCEN */
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mov     x0, #0x33ff                     /* CPTR_EL2: RES1 bits, TFP = 0 */
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    ldr     x0, =SCTLR_EL1_RES1
    msr     sctlr_el1, x0
    mov     x0, #SPSR_EL1H_DAIF
    msr     spsr_el2, x0
    adr     x0, el1_entry
    msr     elr_el2, x0
    isb
    eret

el1_entry:
    ldr     x0, =SCTLR_EL1_RES1             /* MMU and caches off, known state */
    msr     sctlr_el1, x0
    mov     x0, #(3 << 20)                  /* CPACR_EL1.FPEN: no FP/SIMD trap */
    msr     cpacr_el1, x0
    isb

    adrp    x0, boot_stack_top
    add     x0, x0, :lo12:boot_stack_top
    mov     sp, x0

    /* Clear BSS, 64 bytes a turn (both ends 64-byte aligned, asserted in linker.ld): under
       QEMU each turn of the loop is a block run. */
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_stop
    add     x1, x1, :lo12:__bss_stop
    cmp     x0, x1
    b.hs    2f
1:  stp     xzr, xzr, [x0], #16
    stp     xzr, xzr, [x0], #16
    stp     xzr, xzr, [x0], #16
    stp     xzr, xzr, [x0], #16
    cmp     x0, x1
    b.lo    1b
2:
    /* The early maps, from the pool of tables in BSS (the pool is addressed physically
       here, x8 = 0): slot 0 is the identity map's root (TTBR0), slot 1 the kernel's (TTBR1).
       The identity map holds the kernel image [_text, _end) and 4 MiB from the DTB's 2 MiB
       block, which covers any DTB up to Linux's 2 MiB limit wherever the loader put it; the
       console is added later from Rust through idmap_map_block(), once the DTB names it.
       The kernel map holds [_text, _end) at its link address. */
    adrp    x24, _text
    add     x24, x24, :lo12:_text
    tst     x24, #(SZ_2M - 1)
    b.ne    park                            /* not 2 MiB aligned: nothing can be mapped */
    adrp    x22, _end
    add     x22, x22, :lo12:_end
    mov     x21, x24
3:  mov     x0, x21
    ldr     x1, =BLOCK_NORMAL
    orr     x1, x1, x21
    bl      early_idmap
    cbz     x0, park
    add     x21, x21, #SZ_2M
    cmp     x21, x22
    b.lo    3b

    and     x21, x19, #~(SZ_2M - 1)
    mov     x0, x21
    ldr     x1, =BLOCK_NORMAL_NX
    orr     x1, x1, x21
    bl      early_idmap
    cbz     x0, park
    add     x21, x21, #SZ_2M
    mov     x0, x21
    ldr     x1, =BLOCK_NORMAL_NX
    orr     x1, x1, x21
    bl      early_idmap
    cbz     x0, park

    ldr     x21, =_text                     /* link address */
    mov     x23, x24                        /* physical address */
4:  mov     x0, x21
    ldr     x1, =BLOCK_NORMAL
    orr     x1, x1, x23
    adrp    x2, idmap_pool
    add     x2, x2, :lo12:idmap_pool
    add     x2, x2, #4096                   /* slot 1: the kernel map's root */
    mov     x8, #0
    bl      map_block
    cbz     x0, park
    add     x21, x21, #SZ_2M
    add     x23, x23, #SZ_2M
    cmp     x23, x22
    b.lo    4b

    /* The tables and BSS were written with the MMU off: drop any stale cache lines. */
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, _end
    add     x1, x1, :lo12:_end
    bl      dcache_inval_range

    /* MMU on. */
    ldr     x0, =MAIR_VALUE
    msr     mair_el1, x0
    ldr     x0, =TCR_VALUE
    mrs     x1, id_aa64mmfr0_el1            /* IPS = PARange, at most 48 bits */
    and     x1, x1, #0xf
    cmp     x1, #5
    mov     x2, #5
    csel    x1, x1, x2, ls
    orr     x0, x0, x1, lsl #32
    msr     tcr_el1, x0
    adrp    x0, idmap_pool
    add     x0, x0, :lo12:idmap_pool
    msr     ttbr0_el1, x0
    add     x0, x0, #4096
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x0, =(SCTLR_EL1_RES1 | SCTLR_EL1_M | SCTLR_EL1_C | SCTLR_EL1_SA | SCTLR_EL1_I)
    msr     sctlr_el1, x0
    isb
    ic      iallu
    dsb     nsh
    isb

    ldr     x0, =primary_switched           /* to the link address, through TTBR1 */
    br      x0

primary_switched:
    adrp    x0, boot_stack_top              /* from here on, addresses are virtual */
    add     x0, x0, :lo12:boot_stack_top
    mov     sp, x0
    ldr     x0, =_text
    sub     x0, x0, x24
    adrp    x1, kimage_voffset
    str     x0, [x1, :lo12:kimage_voffset]  /* virtual minus physical, for __pa_symbol */
    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el1, x0
    isb

    mov     x0, x19                         /* DTB physical address */
    mov     x1, x20                         /* exception level at entry */
    bl      kernel_main
    b       park                            /* kernel_main never returns */

park:
    wfe
    b       park

/*
 * dcache_inval_range(start = x0, end = x1): invalidate data cache lines by VA to PoC.
 * Clobbers x0..x3.
 */
dcache_inval_range:
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4                 /* DminLine: log2(words) */
    mov     x2, #4
    lsl     x2, x2, x3                      /* line size in bytes */
    sub     x3, x2, #1
    bic     x0, x0, x3
1:  dc      ivac, x0
    add     x0, x0, x2
    cmp     x0, x1
    b.lo    1b
    dsb     sy
    ret

/*
 * early_idmap(x0 = pa, x1 = descriptor): map_block into the identity map, before the MMU is on.
 */
early_idmap:
    adrp    x2, idmap_pool
    add     x2, x2, :lo12:idmap_pool
    mov     x8, #0
    b       map_block

/*
 * bool idmap_map_block(u64 pa, u64 block_attrs)
 *
 * Rust's entry, with the MMU on: map the 2 MiB block at `pa` (aligned down) to itself in the
 * identity map. Returns 1 on success, 0 when the pool is exhausted; an existing mapping of
 * the block is kept.
 */
    .global idmap_map_block
idmap_map_block:
    and     x0, x0, #~(SZ_2M - 1)
    orr     x1, x1, x0
    adrp    x2, idmap_pool
    add     x2, x2, :lo12:idmap_pool
    adrp    x8, kimage_voffset
    ldr     x8, [x8, :lo12:kimage_voffset]
    b       map_block

/*
 * bool map_block(x0 = va, x1 = level-2 block descriptor, x2 = root table, x8 = offset)
 *
 * Write a 2 MiB block descriptor for `va` under the root at x2, taking level-1 and level-2
 * tables from the pool as needed. Tables are accessed at the addresses the running code sees:
 * x8 is that address minus the physical one (0 with the MMU off, kimage_voffset after).
 * Returns 1, or 0 when the pool is exhausted. Clobbers x0..x8 only (AAPCS-safe for Rust).
 */
map_block:
    mov     x7, #39                         /* shift of the current level */
1:  lsr     x3, x0, x7
    and     x3, x3, #0x1ff
    add     x3, x2, x3, lsl #3              /* x3 = &table[index] */
    cmp     x7, #21
    b.eq    3f                              /* level 2: write the block */
    ldr     x4, [x3]
    tbnz    x4, #0, 2f                      /* already a table */
    /* allocate the next table: slots 0 and 1 are the two roots */
    adrp    x5, idmap_used
    add     x5, x5, :lo12:idmap_used
    ldr     x6, [x5]
    add     x6, x6, #1
    adrp    x4, idmap_pool
    add     x4, x4, :lo12:idmap_pool
    add     x4, x4, #4096
    add     x4, x4, x6, lsl #12             /* seen address of the new table */
    adrp    x3, idmap_pool_end
    add     x3, x3, :lo12:idmap_pool_end
    cmp     x4, x3
    b.hs    4f
    str     x6, [x5]
    sub     x4, x4, x8                      /* its physical address */
    orr     x4, x4, #PTE_TABLE
    lsr     x3, x0, x7                      /* recompute &table[index] */
    and     x3, x3, #0x1ff
    add     x3, x2, x3, lsl #3
    str     x4, [x3]
2:  and     x2, x4, #0x0000fffffffff000
    add     x2, x2, x8                      /* next table, as seen */
    sub     x7, x7, #9
    b       1b
3:  ldr     x4, [x3]
    tbnz    x4, #0, 5f                      /* keep an existing mapping */
    str     x1, [x3]
5:  dsb     ishst
    isb
    mov     x0, #1
    ret
4:  mov     x0, #0
    ret

/*
 * cpu_replace_ttbr1(u64 root_pa): switch TTBR1 to new tables. Called at its physical address
 * (through the identity map), because the kernel's own mapping changes underneath: TTBR1
 * walks are disabled and the TLB emptied before the new root goes in (break-before-make).
 */
    .global cpu_replace_ttbr1
cpu_replace_ttbr1:
    mrs     x1, tcr_el1
    orr     x2, x1, #TCR_EPD1
    msr     tcr_el1, x2
    isb
    tlbi    vmalle1
    dsb     ish
    isb
    msr     ttbr1_el1, x0
    isb
    msr     tcr_el1, x1
    isb
    tlbi    vmalle1
    dsb     ish
    isb
    ret

/*
 * cpu_retire_ttbr0(): stop all TTBR0 walks (the early identity map is no longer used); any
 * lower-half access now takes a level-0 translation fault.
 */
    .global cpu_retire_ttbr0
cpu_retire_ttbr0:
    mrs     x0, tcr_el1
    orr     x0, x0, #TCR_EPD0
    msr     tcr_el1, x0
    isb
    tlbi    vmalle1
    dsb     ish
    isb
    ret

    .section .bss.kimage_voffset, "aw", %nobits
    .balign 8
    .global kimage_voffset
kimage_voffset:
    .quad   0

    .section .bss.idmap_used, "aw", %nobits
    .balign 8
idmap_used:
    .quad   0

/*
 * EL1 exception vectors: 16 entries of 0x80 bytes. Every entry saves the full register state
 * into a TrapFrame on the stack and calls `handle_exception(frame, kind)` in Rust, which
 * reports and powers off. It returns only for a fault it fixed up (`probe_read32`, below):
 * the frame, with its new ELR, is restored and the exception returns.
 */
    .equ    FRAME_SIZE, (36 * 8)

.macro VENTRY kind
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       trap_common
.endm

    .section .vectors, "ax"
    .balign 0x800
    .global exception_vectors
exception_vectors:
    VENTRY  0       /* current EL, SP_EL0: synchronous */
    VENTRY  1       /*                     IRQ */
    VENTRY  2       /*                     FIQ */
    VENTRY  3       /*                     SError */
    VENTRY  4       /* current EL, SP_ELx: synchronous */
    VENTRY  5       /*                     IRQ */
    VENTRY  6       /*                     FIQ */
    VENTRY  7       /*                     SError */
    VENTRY  8       /* lower EL, AArch64:  synchronous */
    VENTRY  9
    VENTRY  10
    VENTRY  11
    VENTRY  12      /* lower EL, AArch32 */
    VENTRY  13
    VENTRY  14
    VENTRY  15

trap_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    add     x2, sp, #FRAME_SIZE             /* sp before the exception */
    stp     x30, x2, [sp, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #256]
    mrs     x2, esr_el1
    mrs     x3, far_el1
    stp     x2, x3, [sp, #272]
    mov     x0, sp
    bl      handle_exception
    ldp     x2, x3, [sp, #256]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    add     sp, sp, #FRAME_SIZE
    eret

/*
 * probe_read32(addr): read the 32-bit device register at `addr`, which may not answer.
 * Returns the value in x0 and 0 in x1; when the read aborts, the exception handler resumes at
 * the fixup instead (Linux's exception table), which returns 0 and 1. Only the load at
 * `probe_read32_load` is fixed up.
 */
    .section .text, "ax"
    .global probe_read32, probe_read32_load, probe_read32_fixup
probe_read32:
    mov     x1, x0
probe_read32_load:
    ldr     w0, [x1]
    mov     x1, #0
    ret
probe_read32_fixup:
    mov     x0, #0
    mov     x1, #1
    ret

/*
 * flush_tlb_kernel_page(va): invalidate every TLB entry for the kernel page at `va`, all
 * ASIDs, inner shareable (Linux's flush_tlb_kernel_range for one page), after its entry was
 * cleared: dsb so the cleared entry is visible to the walker, tlbi, dsb to complete, isb.
 */
    .section .text, "ax"
    .global flush_tlb_kernel_page
flush_tlb_kernel_page:
    dsb     ishst
    ubfx    x0, x0, #12, #44                /* VA[55:12], as Linux's __TLBI_VADDR */
    tlbi    vaale1is, x0
    dsb     ish
    isb
    ret
