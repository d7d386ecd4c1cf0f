"""gdb helpers for memboot, in the spirit of Linux's scripts/gdb (lx-dmesg, lx-iomem, ...).

`cargo xtask gdb` loads this file; by hand: `source xtask/gdb/memboot.py` in gdb-multiarch
with the kernel ELF loaded. Every command is named mb-*; `help mb-dmesg` etc. say what each
prints. They read the live kernel's structures by field name, through the small readers in
the "where the kernel keeps things" section below: when a structure changes shape, that is
the only place to adjust.

Physical memory (page tables) is read through QEMU's gdb stub in physical mode
(`maint packet Qqemu.PhyMemMode:1`), so it works whether or not the MMU is on. Virtual
memory (the kernel's statics, the linear map) needs the MMU on: before head.S turns it on,
every command says so instead of printing garbage.
"""

import os
import struct
import subprocess
import sys

import gdb

# kernel/src/mm/pgtable/mod.rs and kernel/src/arm64.rs (4 KiB pages, 48-bit VAs).
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_OFFSET = 0xFFFF000000000000
PAGE_END = 0xFFFF800000000000
TTBR0_TOP = 1 << 48
MODULES_VADDR = PAGE_END
MODULES_END = MODULES_VADDR + (128 << 20)
FIXADDR_TOP = 0xFFFFFBFFFE000000
FIXADDR_START = FIXADDR_TOP - (4 << 20)
VMEMMAP_START = (1 << 64) - (1 << (48 - 6))
PTDUMP_MARKERS = [
    (PAGE_OFFSET, "Linear Mapping start"),
    (PAGE_END, "Linear Mapping end"),
    (MODULES_VADDR, "Modules start"),
    (MODULES_END, "Modules end"),
    (MODULES_END, "vmalloc() area"),
    (FIXADDR_START, "Fixmap start"),
    (FIXADDR_TOP, "Fixmap end"),
    (VMEMMAP_START, "vmemmap start"),
]
MAX_NUMNODES = 16  # kernel/src/mm/memblock/mod.rs: regions with this nid are on no node
MEMBLOCK_NOMAP = 0x4
LEVEL_NAMES = ["PGD", "PUD", "PMD", "PTE"]
LEVEL_SHIFT = [39, 30, 21, 12]
PTE_ADDR_MASK = ((1 << 48) - 1) & ~0xFFF


class NotYet(Exception):
    """The structure a command reads does not exist (yet) at this point of the boot."""


# ---------------------------------------------------------------------------------------------
# Memory and values


def inferior():
    return gdb.selected_inferior()


def read(addr, size):
    return bytes(inferior().read_memory(addr, size))


def u64(addr):
    return struct.unpack("<Q", read(addr, 8))[0]


def mmu_on():
    """SCTLR_EL1.M; without the system registers, whether the pc is a kernel address."""
    try:
        return int(gdb.parse_and_eval("$SCTLR_EL1")) & 1 == 1
    except gdb.error:
        return int(gdb.parse_and_eval("$pc")) >= PAGE_OFFSET


def need_mmu(what):
    if not mmu_on():
        pc = int(gdb.parse_and_eval("$pc"))
        raise NotYet(f"the MMU is off (pc {pc:#x}, head.S): {what} is not reachable yet")


def read_phys(pa, size):
    """`size` bytes at physical address `pa`, through QEMU's physical memory mode."""
    if not mmu_on():
        return read(pa, size)
    reply = gdb.execute("maint packet Qqemu.PhyMemMode:1", to_string=True)
    if "OK" not in reply:
        raise gdb.GdbError("the gdb stub has no physical memory mode (QEMU's Qqemu.PhyMemMode)")
    try:
        flush_cache()
        return read(pa, size)
    finally:
        gdb.execute("maint packet Qqemu.PhyMemMode:0", to_string=True)
        flush_cache()


def flush_cache():
    try:
        gdb.execute("maint flush dcache", to_string=True)
    except gdb.error:
        pass


def num(v):
    """An integer from a value, unwrapping newtypes (`PhysAddr(u64)`) and atomics."""
    while v.type.strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
        fields = v.type.strip_typedefs().fields()
        v = v[fields[0]] if len(fields) == 1 else v["v"]
    return int(v)


def rust_str(v):
    """A `&str` value as a Python string."""
    n = int(v["length"])
    return read(int(v["data_ptr"]), n).decode("utf-8", "replace") if n else ""


def option(v):
    """The payload of an `Option<T>` value, or None. gdb gives a Rust enum value the type of
    its active variant: only a `Some` value has a field named `Some`. The payload is reached
    by address, so a large one is never formatted."""
    some = next((f for f in v.type.fields() if f.name == "Some"), None)
    if some is None:
        return None
    inner = next(f for f in some.type.fields() if f.name == "__0")
    addr = int(v.address) + (some.bitpos + inner.bitpos) // 8
    return gdb.Value(addr).cast(inner.type.pointer()).dereference()


def static(name):
    """A kernel static at its link address (`cargo xtask gdb` also loads the symbols at the
    physical load address, for the code before the MMU: that copy is skipped)."""
    for objfile in gdb.objfiles():
        sym = objfile.lookup_static_symbol(name) or objfile.lookup_global_symbol(name)
        if sym is not None and int(sym.value().address) >= PAGE_OFFSET:
            return sym.value()
    raise gdb.GdbError(f"no symbol {name}: is the kernel ELF loaded (`file target/.../kernel`)?")


def start_kernel_var(name):
    """A local of start_kernel (it never returns, so its frame is under every breakpoint)."""
    frame = gdb.newest_frame()
    while frame is not None and not (frame.name() or "").endswith("start_kernel"):
        frame = frame.older()
    if frame is None:
        raise NotYet("start_kernel is not on the stack yet")
    try:
        return frame.read_var(name)
    except ValueError:
        raise NotYet(f"start_kernel has not set `{name}` yet")


# ---------------------------------------------------------------------------------------------
# Where the kernel keeps things: field names live here and nowhere else.


def log_buf():
    """(text bytes [tail, head) of kernel::console::LOG_BUF, dropped lines)."""
    need_mmu("kernel::console::LOG_BUF")
    b = static("kernel::console::LOG_BUF")
    head, tail, dropped = num(b["head"]), num(b["tail"]), num(b["dropped"])
    text = int(b["text"].address)
    n = b["text"].type.sizeof
    out = bytearray()
    i = tail
    while i < head:
        start = i % n
        chunk = min(head - i, n - start)
        out += read(text + start, chunk)
        i += chunk
    return bytes(out), dropped


def memblock():
    need_mmu("kernel::arch::aarch64::setup::MEMBLOCK")
    return static("kernel::arch::aarch64::setup::MEMBLOCK")


def memblock_type(mb, kind):
    """(name, raw cnt, max, total_size, [(base, size, flags, nid)] of the raw cnt slots)."""
    t = mb[kind]
    cnt, total = num(t["cnt"]), num(t["total_size"])
    inline = t["inline"]
    region = inline.type.strip_typedefs().target()
    grown_ptr = u64(int(t["grown"].address))  # Option<&mut [Region]>: data pointer, 0 = None
    first = grown_ptr if grown_ptr else int(inline.address)
    slots = gdb.Value(first).cast(region.pointer())
    regions = []
    for i in range(cnt):
        r = slots[i]
        regions.append((num(r["base"]), num(r["size"]), num(r["flags"]), num(r["nid"])))
    return rust_str(t["name"]), cnt, num(t["max"]), total, regions, grown_ptr


def memstart():
    """memstart_addr once the linear map is live, else None."""
    need_mmu("the linear map")
    v = num(static("kernel::arch::aarch64::mmu::MEMSTART"))
    return None if v == (1 << 64) - 1 else v


def zones():
    """Every node's zones of kernel::page_alloc::ZONES (a spinning_top Spinlock: the value is
    in its `data` UnsafeCell), as dicts, read field by field (printing the whole static
    crashes gdb 13)."""
    need_mmu("kernel::page_alloc::ZONES")
    g = option(static("kernel::page_alloc::ZONES")["data"]["value"])
    if g is None:
        raise NotYet("the page allocator is not installed yet (mem_init)")
    out = []
    nodes = g["nodes"]
    for nid in range(nodes.type.sizeof // 8):
        ptr = u64(int(nodes[nid].address))  # Option<&mut NodeData>: 0 = None
        if not ptr:
            continue
        node = gdb.Value(ptr).cast(node_type().pointer()).dereference()
        zs = node["zones"]
        for i in range(zs.type.sizeof // zs[0].type.sizeof):
            z = zs[i]
            areas = z["free_area"]
            orders = areas.type.sizeof // areas[0].type.sizeof
            out.append({
                "nid": nid,
                "name": zone_name(z["ty"]),
                "start_pfn": num(z["zone_start_pfn"]),
                "spanned": num(z["spanned_pages"]),
                "present": num(z["present_pages"]),
                "managed": num(z["managed_pages"]),
                "free": num(z["free_pages"]),
                "nr_free": [num(areas[o]["nr_free"]) for o in range(orders)],
            })
    return out


def node_type():
    return gdb.lookup_type("kernel::mm::buddy::NodeData")


# Linux's zone_names[], by kernel::mm::buddy::ZoneType (a fieldless enum: Dma = 0 ..).
ZONE_NAMES = ["DMA", "DMA32", "Normal", "Movable"]


def zone_name(ty):
    """The name Linux prints for a ZoneType value."""
    return ZONE_NAMES[int(ty)]


def reserved_mem():
    """[(name, base, size, reusable, owner)] of the /reserved-memory table in start_kernel."""
    need_mmu("the reserved-memory table")
    table = start_kernel_var("reserved")
    entries = table["entries"]
    out = []
    for i in range(num(table["count"])):
        e = option(entries[i])
        if e is None:
            continue
        owner = option(e["owner"])
        out.append((rust_str(e["name"]), num(e["base"]), num(e["size"]), bool(e["reusable"]),
                    rust_str(owner) if owner is not None else None))
    return out


def symbol_pa(name, end=False):
    """Physical address of a kernel image symbol (Linux's __pa_symbol): gdb may find it in
    either copy of the symbols; a link address is translated by walking the tables. `end`:
    the symbol marks the end of something, and may lie just past the mapping."""
    lang = gdb.parameter("language")
    gdb.execute("set language c", to_string=True)  # linker symbols have no Rust type
    try:
        addr = int(gdb.parse_and_eval(f"(unsigned long)&{name}"))
    finally:
        gdb.execute(f"set language {lang}", to_string=True)
    if addr < PAGE_OFFSET:
        return addr
    steps = walk_va(addr - end)
    if steps[-1][0] is None:
        raise gdb.GdbError(f"{name} at {addr:#x} is not mapped")
    return steps[-1][0] + end


def ttbr(va):
    reg = "$TTBR1_EL1" if va >= PAGE_OFFSET else "$TTBR0_EL1"
    try:
        return int(gdb.parse_and_eval(reg)) & PTE_ADDR_MASK
    except gdb.error:
        raise gdb.GdbError(f"the gdb stub does not show {reg[1:]} (QEMU 5.2+ does)")


# ---------------------------------------------------------------------------------------------
# Formats


def pa(v):
    return f"0x{v:016x}"


def memblock_dump():
    """Lines of Linux's __memblock_dump_all, as kernel/src/mm/memblock/dump.rs prints them."""
    mb = memblock()
    types = [memblock_type(mb, k) for k in ("memory", "reserved")]
    lines = ["MEMBLOCK configuration:",
             f" memory size = {pa(types[0][3])} reserved size = {pa(types[1][3])}"]
    for name, cnt, _max, _total, regions, _grown in types:
        lines.append(f" {name}.cnt  = 0x{cnt:x}")
        for i, (base, size, flags, nid) in enumerate(regions):
            last = (base + size - 1) % (1 << 64)
            node = f" on node {nid}" if nid != MAX_NUMNODES else ""
            lines.append(f" {name}[{i:#x}]\t[{pa(base)}-{pa(last)}], {pa(size)} bytes{node} flags: {flags:#x}")
    return lines, types


def attrs(desc):
    """The attribute words of kernel/src/mm/pgtable/ptdump.rs (Linux's pte_bits)."""
    bits = [(1 << 0, " ", "F"), (1 << 6, "USR", "   "), (1 << 7, "ro", "RW"), (1 << 53, "NX", "x "),
            (3 << 8, "SHD", "   "), (1 << 10, "AF", "  "), (1 << 11, "NG", "  "), (1 << 52, "CON", "   "),
            (1 << 1, "   ", "BLK"), (1 << 54, "UXN", "   "), (1 << 50, "GP", "  ")]
    out = [s if desc & m == m else c for m, s, c in bits]
    mt = (desc >> 2) & 7
    out += [n for i, n in ((0, "DEVICE/nGnRE"), (2, "MEM/NORMAL-NC"), (1, "MEM/NORMAL")) if mt == i]
    return "".join(" " + s for s in out)


PROT_MASK = (1 | 1 << 6 | 1 << 7 | 1 << 53 | 3 << 8 | 1 << 10 | 1 << 11 | 1 << 52 | 1 << 1 | 1 << 54
             | 1 << 50 | 7 << 2)


def walk_va(va):
    """[(index, slot PA, descriptor, kind) per level visited] + [(final PA or None,)]."""
    tbl, steps = ttbr(va), []
    for level in range(4):
        idx = (va >> LEVEL_SHIFT[level]) & 511
        d = table(tbl)[idx]
        kind = "page" if level == 3 and d & 3 == 3 else "table" if d & 3 == 3 else \
            "block" if d & 3 == 1 and level > 0 else "invalid"
        steps.append((idx, tbl + idx * 8, d, kind))
        if kind == "invalid":
            return steps + [(None,)]
        if kind != "table":
            mask = (1 << LEVEL_SHIFT[level]) - 1
            return steps + [((d & PTE_ADDR_MASK & ~mask) | (va & mask),)]
        tbl = d & PTE_ADDR_MASK
    return steps + [(None,)]


def table(pa_):
    return struct.unpack("<512Q", read_phys(pa_, PAGE_SIZE))


def size_text(n):
    units, delta, unit = "KMGTPE", n >> 10, 0
    while delta & 1023 == 0 and unit + 1 < len(units) and delta:
        delta >>= 10
        unit += 1
    return f"{delta:>9}{units[unit]}"


def ptdump(root, start, end, markers):
    """Linux's ptdump walk over [start, end), as kernel/src/mm/pgtable/ptdump.rs prints it."""
    lines = []
    st = {"marker": 0, "start": 0, "level": None, "prot": 0}

    def next_marker():
        return markers[st["marker"] + 1][0] if st["marker"] + 1 < len(markers) else 1 << 64

    def print_marker():
        if st["marker"] < len(markers):
            lines.append(f"---[ {markers[st['marker']][1]} ]---")

    def note(addr, level, desc):
        prot = desc & PROT_MASK if level is not None else 0
        if st["level"] is None:
            st.update(level=level, prot=prot, start=addr)
            print_marker()
        elif prot != st["prot"] or level != st["level"] or addr >= next_marker():
            a = attrs(st["prot"]) if st["prot"] else ""
            lines.append(f"0x{st['start']:016x}-0x{addr:016x}   {size_text((addr - st['start']) % (1 << 64))} "
                         f"{LEVEL_NAMES[st['level']]}{a}")
            if addr >= next_marker():
                st["marker"] += 1
                print_marker()
            st.update(start=addr, prot=prot, level=level)
        if addr >= next_marker():
            st["marker"] += 1
            print_marker()

    def walk(tbl, level, base, lo, hi):
        size = 1 << LEVEL_SHIFT[level]
        entries = table(tbl)
        for idx in range((lo - base) // size, min((hi - 1 - base) // size, 511) + 1):
            va = base + idx * size
            addr, nxt = max(va, lo), min(va + size, hi)
            d = entries[idx]
            if level == 3:
                note(addr, 3, d)
            elif d == 0:
                note(addr, level, 0)
            elif d & 3 == 3:
                walk(d & PTE_ADDR_MASK, level + 1, va, addr, nxt)
            elif d & 3 == 1 and level > 0:
                note(addr, level, d)

    base = 0 if start < TTBR0_TOP else PAGE_OFFSET
    walk(root, 0, base, start, end)
    note(end % (1 << 64), None, 0)
    return lines


def iomem():
    """/proc/iomem's memory part, as Linux's arm64 request_standard_resources and
    reserve_memblock_reserved_regions build it: [(start, end_inclusive, name, children)]."""
    _, types = memblock_dump()
    memory, reserved = types[0][4], types[1][4]
    if types[0][1] == 1 and memory[0][1] == 0:
        raise NotYet("memblock.memory is empty: setup_arch has not scanned the memory nodes yet")
    down = lambda a: a & ~(PAGE_SIZE - 1)
    up = lambda a: down(a + PAGE_SIZE - 1)
    kernel = [(symbol_pa("_stext"), symbol_pa("_sdata", end=True) - 1, "Kernel code"),
              (symbol_pa("_sdata"), symbol_pa("_end", end=True) - 1, "Kernel data")]
    out = []
    for base, size, flags, _ in memory:
        if flags & MEMBLOCK_NOMAP:
            out.append((down(base), up(base + size) - 1, "reserved", []))
            continue
        s, e = up(base), down(base + size) - 1
        kids = [k for k in kernel if s <= k[0] and k[1] <= e]
        for rb, rs, _, _ in reserved:
            lo, hi = max(down(rb), s), min(up(rb + rs) - 1, e)
            # reserve_region_with_split: only the parts no child holds yet.
            for k in sorted(kids):
                if lo > hi:
                    break
                if k[1] < lo or k[0] > hi:
                    continue
                if k[0] > lo:
                    kids.append((lo, k[0] - 1, "reserved"))
                lo = max(lo, k[1] + 1)
            if lo <= hi:
                kids.append((lo, hi, "reserved"))
        out.append((s, e, "System RAM", sorted(kids)))
    return out


# ---------------------------------------------------------------------------------------------
# Commands


class MbCommand(gdb.Command):
    """Base: turns NotYet into one clear line."""

    def __init__(self, name):
        super().__init__(name, gdb.COMMAND_DATA)
        self.cmd = name

    def invoke(self, arg, from_tty):
        try:
            for line in self.lines(gdb.string_to_argv(arg)):
                gdb.write(line + "\n")
        except NotYet as e:
            gdb.write(f"{self.cmd}: not yet: {e}\n")
        except (gdb.error, gdb.MemoryError) as e:
            # One line, and a batch script goes on to the next command.
            gdb.write(f"{self.cmd}: error: {e}\n")


class MbDmesg(MbCommand):
    """Print the kernel log buffer (kernel::console::LOG_BUF) as dmesg does.

Usage: mb-dmesg
Every line the kernel logged, with its timestamp, also those loglevel= kept off the
console. When the ring dropped old lines, a first line says how many."""

    def __init__(self):
        super().__init__("mb-dmesg")

    def lines(self, argv):
        text, dropped = log_buf()
        if not text and not dropped:
            raise NotYet("the log buffer is empty: nothing has been logged")
        out = [f"mb-dmesg: {dropped} older lines dropped"] if dropped else []
        return out + text.decode("utf-8", "replace").splitlines()


class MbMemblock(MbCommand):
    """Print memblock's memory and reserved arrays in the memblock=debug dump format.

Usage: mb-memblock
The lines of Linux's __memblock_dump_all (kernel/src/mm/memblock/dump.rs), read from
kernel::arch::aarch64::setup::MEMBLOCK, from its static arrays or, once an array was
doubled, from the grown array in the linear map; a last line per array gives max and
where the array lives."""

    def __init__(self):
        super().__init__("mb-memblock")

    def lines(self, argv):
        lines, types = memblock_dump()
        for name, _cnt, mx, _t, _r, grown in types:
            where = f"grown array at {grown:#x}" if grown else "static array"
            lines.append(f" {name}.max  = {mx:#x} ({where})")
        return lines


class MbRmem(MbCommand):
    """Print the reserved-memory table: name, range, no-map/reusable, the claiming hook.

Usage: mb-rmem
One line per /reserved-memory region the kernel accepted (start_kernel's `reserved`):
its node name, [mem first-last], size, `no-map` when memblock.memory marks it NOMAP,
`reusable`, and the compatible whose init hook claimed it (`-` for none)."""

    def __init__(self):
        super().__init__("mb-rmem")

    def lines(self, argv):
        table = reserved_mem()
        nomap = [(b, b + s) for b, s, f, _ in memblock_type(memblock(), "memory")[4] if f & MEMBLOCK_NOMAP]
        out = []
        for name, base, size, reusable, owner in table:
            flags = []
            if any(b < base + size and base < e for b, e in nomap):
                flags.append("no-map")
            if reusable:
                flags.append("reusable")
            out.append(f"{name:<24} [mem {pa(base)}-{pa(base + size - 1)}] {size >> 10:>8}K "
                       f"{','.join(flags) or '-':<16} hook {owner or '-'}")
        if not out:
            out.append("mb-rmem: no reserved-memory regions")
        return out


class MbBuddyinfo(MbCommand):
    """Print /proc/buddyinfo: free blocks per order of every populated zone.

Usage: mb-buddyinfo
Read from kernel::page_alloc::ZONES (field by field) after mem_init."""

    def __init__(self):
        super().__init__("mb-buddyinfo")

    def lines(self, argv):
        return [f"Node {z['nid']}, zone {z['name']:>8} " + "".join(f"{n:>6} " for n in z["nr_free"])
                for z in zones() if z["present"]]


class MbZoneinfo(MbCommand):
    """Print a /proc/zoneinfo summary: spans, present, managed, free pages and free per order.

Usage: mb-zoneinfo"""

    def __init__(self):
        super().__init__("mb-zoneinfo")

    def lines(self, argv):
        out = []
        for z in zones():
            if not z["spanned"]:
                continue
            out += [f"Node {z['nid']}, zone {z['name']:>8}",
                    f"  pages free     {z['free']}",
                    f"        spanned  {z['spanned']}",
                    f"        present  {z['present']}",
                    f"        managed  {z['managed']}",
                    f"  start_pfn:           {z['start_pfn']}",
                    "  free per order: " + " ".join(str(n) for n in z["nr_free"])]
        return out


class MbPgwalk(MbCommand):
    """Walk the page tables for a virtual address.

Usage: mb-pgwalk VA
VA is any gdb expression. Prints each level's index, descriptor and its attributes (the
ptdump words), then the physical address, from TTBR1_EL1 (upper half) or TTBR0_EL1."""

    def __init__(self):
        super().__init__("mb-pgwalk")

    def lines(self, argv):
        if len(argv) != 1:
            raise gdb.GdbError("usage: mb-pgwalk VA")
        if not mmu_on():
            raise NotYet("the MMU is off: addresses are physical, there is no table to walk")
        va = int(gdb.parse_and_eval(argv[0])) % (1 << 64)
        out = [f"VA {va:#018x}: {'TTBR1' if va >= PAGE_OFFSET else 'TTBR0'} table at {pa(ttbr(va))}"]
        steps = walk_va(va)
        for level, (idx, slot, d, kind) in enumerate(steps[:-1]):
            line = f"  {LEVEL_NAMES[level]}[{idx:3d}] @ {pa(slot)} = 0x{d:016x} {kind}"
            out.append(line + (attrs(d & PROT_MASK) if kind in ("page", "block") else ""))
        final = steps[-1][0]
        out.append(f"  -> PA {pa(final)}" if final is not None else
                   f"  -> not mapped (level {len(steps) - 2} translation fault)")
        return out


class MbPtdump(MbCommand):
    """Print the kernel page tables in Linux's kernel_page_tables (ptdump) format.

Usage: mb-ptdump [START END]
Without arguments, the upper half from the linear map on, with Linux's markers, as the
`ptdump` boot option prints it; with START END (gdb expressions), that range only."""

    def __init__(self):
        super().__init__("mb-ptdump")

    def lines(self, argv):
        if not mmu_on():
            raise NotYet("the MMU is off: there are no page tables in use")
        if memstart() is None:
            raise NotYet("paging_init has not switched to the kernel's own tables yet")
        if len(argv) == 2:
            start, end = (int(gdb.parse_and_eval(a)) % (1 << 64) for a in argv)
            return ptdump(ttbr(start), start, end or 1 << 64, [])
        if argv:
            raise gdb.GdbError("usage: mb-ptdump [START END]")
        return ptdump(ttbr(PAGE_OFFSET), PAGE_OFFSET, 1 << 64, PTDUMP_MARKERS)


class MbIomem(MbCommand):
    """Print the /proc/iomem-style list of RAM and reserved ranges.

Usage: mb-iomem
System RAM per memblock memory region (no-map ones as `reserved`), the kernel's code and
data inside, and memblock's reservations as `reserved` children, as Linux's arm64
request_standard_resources and reserve_memblock_reserved_regions make them."""

    def __init__(self):
        super().__init__("mb-iomem")

    def lines(self, argv):
        out = []
        for s, e, name, kids in iomem():
            out.append(f"{s:08x}-{e:08x} : {name}")
            out += [f"  {ks:08x}-{ke:08x} : {kn}" for ks, ke, kn in kids]
        return out


def load_rust_printers():
    """rust-gdb's pretty-printers, from the toolchain this repository pins."""
    try:
        import gdb_lookup  # noqa: F401  (already on the path)
    except ImportError:
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        try:
            sysroot = subprocess.run(["rustc", "--print", "sysroot"], cwd=repo, capture_output=True,
                                     text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return
        etc = os.path.join(sysroot, "lib", "rustlib", "etc")
        if not os.path.isdir(etc):
            return
        sys.path.insert(0, etc)
        import gdb_lookup  # noqa: F811
    gdb_lookup.register_printers(gdb.current_progspace())


for command in (MbDmesg, MbMemblock, MbRmem, MbBuddyinfo, MbZoneinfo, MbPgwalk, MbPtdump, MbIomem):
    command()
load_rust_printers()
