//! `--svg FILE`: the physical address space as a picture, from a [`Map`].
//!
//! One row per range of the map, top to bottom in address order: the start address on the
//! left, the zone and node brackets, a bar coloured by kind and owner (holes pale, free memory
//! green, no-map hatched, each owner class its colour), and on the right the true size, the
//! kind and the owner's label. A row's height grows with the logarithm of its size (a 4 KiB
//! reservation next to 64 GiB keeps a readable row; the label gives the true size), so the
//! scale is not linear and says so under the title. A legend lists the classes present.

use crate::memmap_report::{Map, Range};
use std::fmt::Write;

const BAR_X: u32 = 330;
const BAR_W: u32 = 200;
const LABEL_X: u32 = BAR_X + BAR_W + 12;
/// Width of a character of the 12 px monospace font, a little generous.
const CHAR_W: f64 = 7.4;
const ROW_MIN: f64 = 18.0;
const ROW_MAX: f64 = 110.0;

/// The colour of a range: by kind for free memory, holes and shared pages, else by owner class.
fn colour(r: &Range) -> &'static str {
    match (r.kind.as_str(), r.owner.class.as_str()) {
        ("free", _) => "#a8ddb5",
        ("hole", "-") => "#f4f4f4",
        ("partial", _) => "#fde0ef",
        (_, "kernel") => "#4e79a7",
        (_, "dtb") => "#f28e2b",
        (_, "initrd") => "#e15759",
        (_, "memreserve") => "#76b7b2",
        (_, "reserved-memory") => "#edc948",
        (_, "page-tables") => "#b07aa1",
        (_, "memmap") => "#ff9da7",
        (_, "memmap-links") => "#f7b6d2",
        (_, "node-data") => "#9c755f",
        (_, "cma") => "#59a14f",
        (_, "swiotlb") => "#bab0ac",
        (_, "memblock-array") => "#d37295",
        (_, "unattributed") => "#ff0000",
        _ => "#cccccc",
    }
}

/// What the legend calls a colour.
fn legend_name(r: &Range) -> String {
    match r.kind.as_str() {
        "free" => "free (buddy allocator)".into(),
        "hole" if r.owner.class == "-" => "hole (no RAM)".into(),
        "partial" => "free bytes in a reserved page".into(),
        _ => r.owner.class.clone(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A row's height: logarithmic in the size, from `ROW_MIN` (4 KiB and less) to `ROW_MAX`.
fn row_height(size: u64) -> f64 {
    let pages = (size as f64 / 4096.0).max(1.0);
    (ROW_MIN + 3.8 * pages.log2()).clamp(ROW_MIN, ROW_MAX)
}

/// A size in the largest binary unit that divides it.
pub fn human(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "K", "M", "G", "T", "P", "E"];
    let (mut n, mut u) = (size, 0);
    while n != 0 && n % 1024 == 0 && u + 1 < UNITS.len() {
        n /= 1024;
        u += 1;
    }
    format!("{n}{}", UNITS[u])
}

/// The text next to a range: its true size, its kind and its owner.
pub fn label(r: &Range) -> String {
    match (r.kind.as_str(), r.owner.class.as_str()) {
        ("free", _) | ("hole", "-") => format!("{} {}", human(r.size()), r.kind),
        _ => format!("{} {} {}", human(r.size()), r.kind, r.owner.label),
    }
}

/// The SVG document for `map`, titled `title`.
pub fn render(map: &Map, title: &str) -> String {
    let mut legend: Vec<(String, &'static str)> = Vec::new();
    for r in &map.ranges {
        let entry = (legend_name(r), colour(r));
        if !legend.contains(&entry) {
            legend.push(entry);
        }
    }
    if map.ranges.iter().any(|r| r.kind == "nomap") {
        legend.push(("no-map (hatched: not in the linear map)".into(), "url(#nomap)"));
    }
    let legend_rows = legend.len().div_ceil(3) as f64;
    let top = 70.0 + legend_rows * 20.0 + 20.0;
    let mut ys = Vec::with_capacity(map.ranges.len() + 1);
    let mut y = top;
    for r in &map.ranges {
        ys.push(y);
        y += row_height(r.size());
    }
    ys.push(y);
    let height = y + 40.0;
    let longest = map.ranges.iter().map(|r| label(r).chars().count()).max().unwrap_or(0);
    let width = (LABEL_X as f64 + longest as f64 * CHAR_W + 20.0).max(1160.0) as u32;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0}" viewBox="0 0 {width} {height:.0}" font-family="DejaVu Sans Mono, monospace" font-size="12">"#
    );
    s.push_str(
        r##"<defs><pattern id="nomap" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#8c1c13"/><line x1="0" y1="0" x2="0" y2="8" stroke="#ffffff" stroke-width="3"/></pattern></defs>
<rect width="100%" height="100%" fill="#ffffff"/>
"##,
    );
    let _ = writeln!(s, r#"<text x="10" y="24" font-size="16" font-weight="bold">{}</text>"#, escape(title));
    let _ = writeln!(
        s,
        r##"<text x="10" y="44" fill="#555555">Row height grows with log2(size), not with size: the label gives each range's true size.</text>"##
    );
    for (i, (name, fill)) in legend.iter().enumerate() {
        let (x, y) = (10 + (i % 3) as u32 * 380, 66.0 + (i / 3) as f64 * 20.0);
        let _ = writeln!(s, r##"<rect x="{x}" y="{:.1}" width="14" height="14" fill="{fill}" stroke="#333333"/>"##, y - 11.0);
        let _ = writeln!(s, r#"<text x="{}" y="{y:.1}">{}</text>"#, x + 20, escape(name));
    }
    for (r, w) in map.ranges.iter().zip(ys.windows(2)) {
        let (y0, y1) = (w[0], w[1]);
        let fill = if r.kind == "nomap" { "url(#nomap)" } else { colour(r) };
        let dash = if r.kind == "hole" { r#" stroke-dasharray="4 3""# } else { "" };
        let _ = writeln!(
            s,
            r##"<rect x="{BAR_X}" y="{y0:.1}" width="{BAR_W}" height="{:.1}" fill="{fill}" stroke="#333333" stroke-width="0.6"{dash}/>"##,
            y1 - y0
        );
        let mid = (y0 + y1) / 2.0 + 4.0;
        let _ = writeln!(s, r#"<text x="10" y="{:.1}">{:#018x}</text>"#, y0 + 12.0, r.start);
        let _ = writeln!(s, r#"<text x="{LABEL_X}" y="{mid:.1}">{}</text>"#, escape(&label(r)));
    }
    let _ = writeln!(s, r#"<text x="10" y="{:.1}">{:#018x}</text>"#, y + 12.0, map.ranges.last().map_or(0, |r| r.end));
    // Zone and node brackets: from the row where each starts to the row where it ends.
    let y_of = |addr: u64| -> Option<f64> {
        let i = map.ranges.iter().position(|r| r.start == addr).or_else(|| {
            map.ranges.iter().position(|r| r.end == addr).map(|i| i + 1)
        })?;
        ys.get(i).copied()
    };
    // Node labels on the first line of their span, zone labels on the second.
    for (spans, x, stroke, dy) in [(&map.zones, BAR_X - 14, "#1f77b4", 28.0), (&map.nodes, BAR_X - 28, "#7f7f7f", 14.0)] {
        for z in spans.iter() {
            let (Some(a), Some(b)) = (y_of(z.start), y_of(z.end)) else { continue };
            let name = if z.name.starts_with("node") { z.name.clone() } else { format!("{} (node {})", z.name, z.nid) };
            let _ = writeln!(
                s,
                r#"<path d="M {} {a:.1} H {x} V {b:.1} H {}" fill="none" stroke="{stroke}" stroke-width="2"/>"#,
                x + 8,
                x + 8
            );
            let _ = writeln!(
                s,
                r#"<line x1="{}" y1="{a:.1}" x2="{}" y2="{a:.1}" stroke="{stroke}" stroke-width="1.5"/>"#,
                BAR_X,
                BAR_X + BAR_W
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{:.1}" fill="{stroke}" text-anchor="end">{}</text>"#,
                x - 4,
                a + dy,
                escape(&name)
            );
        }
    }
    let totals: Vec<String> = map.totals.iter().map(|(k, v)| format!("{k} {}", human(*v))).collect();
    let _ = writeln!(s, r#"<text x="10" y="{:.1}">{}</text>"#, height - 10.0, escape(&totals.join(", ")));
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memmap_report::Owner;

    fn range(start: u64, end: u64, kind: &str, class: &str, label: &str) -> Range {
        Range { start, end, kind: kind.into(), nid: Some(0), zone: None, owner: Owner { class: class.into(), label: label.into() } }
    }

    #[test]
    fn a_page_next_to_64_gib_keeps_a_readable_row() {
        // log2 of the page count: 0 for 4 KiB (the minimum row), 24 for 64 GiB: 18 + 3.8 * 24
        // = 109.2 px, six times the page's row, where a linear scale would need 2^24 times.
        assert_eq!(row_height(4096), ROW_MIN);
        assert!((row_height(64 << 30) - 109.2).abs() < 1e-9);
        assert_eq!(row_height(1 << 50), ROW_MAX, "capped");
        assert!(row_height(2 << 20) > ROW_MIN && row_height(2 << 20) < ROW_MAX);
    }

    #[test]
    fn labels_carry_the_true_size_and_are_escaped() {
        let map = Map {
            ranges: vec![
                range(0x8000_0000, 0x8000_1000, "reserved", "memreserve", "memreserve #0"),
                range(0x8000_1000, 0x10_8000_0000, "free", "buddy", "buddy"),
                range(0x10_8000_0000, 0x10_8000_1000, "reserved", "reserved-memory", "reserved-memory /reserved-memory/a<b> - static - hook=-"),
            ],
            ..Map::default()
        };
        let svg = render(&map, "t");
        assert!(svg.contains(">4K reserved memreserve #0<"));
        assert!(svg.contains(">67108860K free<"), "64 GiB less a page, in K");
        assert!(svg.contains("a&lt;b&gt;"));
    }
}
