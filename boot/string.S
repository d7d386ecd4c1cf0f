/*
 * memset and memcpy for the kernel (Linux keeps its own in arch/arm64/lib too).
 *
 * compiler_builtins' versions, which these replace at link time, store one 8-byte word per
 * turn of their loop. Under QEMU each turn is a block run, and the boot copies and clears a
 * few hundred KiB (device-tree nodes passed by value, page tables, memmap sections): 64
 * bytes a turn here. All Rust code runs with the MMU on and RAM mapped Normal with
 * SCTLR_EL1.A clear, so the 16-byte pairs need no alignment; neither is ever used on device
 * memory. Caller-saved registers only (AAPCS64).
 */

    .section .text.memset, "ax"
    .globl  memset
    .type   memset, %function
/* memset(x0 = dst, w1 = byte, x2 = len) -> dst */
memset:
    mov     x4, x0
    and     w1, w1, #0xff
    orr     w1, w1, w1, lsl #8
    orr     w1, w1, w1, lsl #16
    orr     x1, x1, x1, lsl #32             /* the byte in all eight lanes */
    cmp     x2, #64
    b.lo    2f
1:  stp     x1, x1, [x4]
    stp     x1, x1, [x4, #16]
    stp     x1, x1, [x4, #32]
    stp     x1, x1, [x4, #48]
    add     x4, x4, #64
    sub     x2, x2, #64
    cmp     x2, #64
    b.hs    1b
2:  cmp     x2, #8
    b.lo    3f
    str     x1, [x4], #8
    sub     x2, x2, #8
    b       2b
3:  cbz     x2, 4f
    strb    w1, [x4], #1
    sub     x2, x2, #1
    b       3b
4:  ret
    .size   memset, . - memset

    .section .text.memcpy, "ax"
    .globl  memcpy
    .type   memcpy, %function
/* memcpy(x0 = dst, x1 = src, x2 = len) -> dst; the ranges do not overlap */
memcpy:
    mov     x4, x0
    cmp     x2, #64
    b.lo    2f
1:  ldp     x6, x7, [x1]
    ldp     x8, x9, [x1, #16]
    ldp     x10, x11, [x1, #32]
    ldp     x12, x13, [x1, #48]
    stp     x6, x7, [x4]
    stp     x8, x9, [x4, #16]
    stp     x10, x11, [x4, #32]
    stp     x12, x13, [x4, #48]
    add     x1, x1, #64
    add     x4, x4, #64
    sub     x2, x2, #64
    cmp     x2, #64
    b.hs    1b
2:  cmp     x2, #8
    b.lo    3f
    ldr     x6, [x1], #8
    str     x6, [x4], #8
    sub     x2, x2, #8
    b       2b
3:  cbz     x2, 4f
    ldrb    w6, [x1], #1
    strb    w6, [x4], #1
    sub     x2, x2, #1
    b       3b
4:  ret
    .size   memcpy, . - memcpy
