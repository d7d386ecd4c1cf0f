//! The memory map's outputs on real trees (`cargo xtask test memmap-output`): for QEMU's own
//! tree and every `dts/` overlay on it,
//! - the JSON document of `cargo xtask memmap --json` matches `docs/memmap.schema.json`
//!   (checked with the `jsonschema` crate), its regions tile the address space from 0 in
//!   order, and its free total is the sum of its free regions;
//! - the SVG renders with a real renderer (`rsvg-convert` to PNG: exit 0, a PNG of the
//!   picture's width), and every region's label (true size, kind, owner) is a text element of
//!   the picture;
//!
//! then a real boot (the reserved-memory overlay, console monitor `memmap`) reports the very
//! map the dry-run prints for the tree QEMU handed over, and its picture renders too. The
//! pictures and PNGs stay in `target/xtask/test/memmap/`.

use crate::memmap_report::{self, Map};
use crate::memmap_svg;
use crate::qemu::{BootOptions, Machine};
use crate::{build, memmap, tools, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Regions in address order from 0, each starting where the one before ends; the free
/// total is what the free regions add up to.
fn check_tiling(map: &Map) -> Result<()> {
    let mut at = 0;
    for r in &map.ranges {
        if r.start != at {
            return Err(format!("a region starts at {:#x}, expected {at:#x}", r.start));
        }
        at = r.end;
    }
    let free: u64 = map.ranges.iter().filter(|r| r.kind == "free").map(|r| r.size()).sum();
    let total = map.totals.iter().find(|(k, _)| k == "free").map(|t| t.1);
    if total != Some(free) {
        return Err(format!("free total {total:?}, the free regions add up to {free}"));
    }
    Ok(())
}

/// Draw `map` into `svg`, render it to PNG with rsvg-convert, check every label is there.
fn render_checked(map: &Map, svg: &Path) -> Result<()> {
    let text = memmap_svg::render(map, &svg.display().to_string());
    std::fs::write(svg, &text).map_err(|e| format!("{}: {e}", svg.display()))?;
    for r in &map.ranges {
        let label = memmap_svg::label(r).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        if !text.contains(&format!(">{label}</text>")) {
            return Err(format!("{}: no text element '{label}'", svg.display()));
        }
    }
    let png = svg.with_extension("png");
    let out = Command::new(tools::RSVG.binary).arg("-o").arg(&png).arg(svg).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("rsvg-convert {}: {}", svg.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    let bytes = std::fs::read(&png).map_err(|e| format!("{}: {e}", png.display()))?;
    // The PNG signature, then the IHDR chunk whose first field is the width.
    let width = text.split_once("width=\"").and_then(|(_, w)| w.split_once('"')?.0.parse::<u32>().ok());
    let png_width = bytes.get(16..20).map(|w| u32::from_be_bytes(w.try_into().expect("4 bytes")));
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || png_width.is_none() || png_width != width {
        return Err(format!("{}: not a PNG of the picture's width {width:?} (got {png_width:?})", png.display()));
    }
    Ok(())
}

pub fn run(built: &build::Built, dry_run: &Path, corpus: &Path, out: &Path) -> Result<(Duration, usize)> {
    let start = Instant::now();
    tools::ensure(&[tools::RSVG])?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut trees: Vec<PathBuf> = std::fs::read_dir(corpus)
        .map_err(|e| format!("{}: {e}", corpus.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dtb"))
        .collect();
    trees.sort();
    let mut drawn = 0;
    for dtb in &trees {
        let name = dtb.file_stem().and_then(|s| s.to_str()).unwrap_or("tree");
        let args = memmap::MemmapArgs { dtb: dtb.clone(), json: true, ..Default::default() };
        let report = memmap_report::document(&mut memmap::command(dry_run, &args, built), &args)?;
        memmap_report::validate(&report.doc).map_err(|e| format!("{name}: {e}"))?;
        if report.status == 0 {
            let map = report.map.map_err(|e| format!("{name}: {e}"))?;
            check_tiling(&map).map_err(|e| format!("{name}: {e}"))?;
            render_checked(&map, &out.join(format!("{name}.svg")))?;
            drawn += 1;
        }
    }
    if drawn == 0 {
        return Err("no tree of the corpus completed its dry-run".into());
    }

    // A real boot's map is the dry-run's of the tree QEMU handed over.
    let opts = BootOptions { mem: "1G".into(), smp: 1, cpu: "max".into(), overlay: Some("reserved-memory".into()), ..Default::default() };
    let (booted, _) = memmap_report::from_boot(&opts, &built.image, Duration::from_secs(60))?;
    let machine = Machine::new(&BootOptions { monitor: true, ..opts }, &built.image)?;
    let dtb = out.join("booted.dtb");
    machine.dump_dtb(&dtb)?;
    let args = memmap::MemmapArgs { dtb, ..Default::default() };
    let dry = memmap_report::document(&mut memmap::command(dry_run, &args, built), &args)?.map?;
    if booted != dry {
        let at = booted.ranges.iter().zip(&dry.ranges).position(|(a, b)| a != b);
        return Err(format!(
            "the boot's memmap differs from the dry-run's: first at range {at:?}: boot {:?}, dry-run {:?}",
            at.and_then(|i| booted.ranges.get(i)),
            at.and_then(|i| dry.ranges.get(i))
        ));
    }
    render_checked(&booted, &out.join("qemu-reserved-memory.svg"))?;
    Ok((start.elapsed(), drawn))
}
