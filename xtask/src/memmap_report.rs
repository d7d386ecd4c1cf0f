//! The memory map the kernel prints (`kernel::memmap`: the dry-run after the boot's
//! lines, the console monitor's `memmap`), read back into [`Map`], and the JSON document of
//! `cargo xtask memmap --json` ([`json`], schema `docs/memmap.schema.json`).
//!
//! Both the dry-run and a real boot go through the same parser, so `--svg` draws the same
//! picture from either. The lines are the kernel's; nothing here adds facts to them.

use crate::Result;
use serde_json::{json, Value};

/// The version of the JSON document's shape (`docs/memmap.schema.json`'s `version`).
pub const SCHEMA_VERSION: u64 = 1;

/// Who placed a range, as the kernel names it: a class word, then what names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// `kernel`, `dtb`, `initrd`, `memreserve`, `reserved-memory`, `page-tables`, `memmap`,
    /// `memmap-links`, `node-data`, `cma`, `swiotlb`, `memblock-array`, `buddy` (free),
    /// `page-shared`, `unattributed`, or `-` (a hole nobody claims).
    pub class: String,
    /// The whole owner column.
    pub label: String,
}

impl Owner {
    /// The words after the class.
    fn words(&self) -> Vec<&str> {
        self.label.split_whitespace().skip(1).collect()
    }
}

/// One range of the map: `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
    /// `hole`, `free`, `reserved`, `nomap`, `partial`.
    pub kind: String,
    pub nid: Option<i32>,
    pub zone: Option<String>,
    pub owner: Owner,
}

impl Range {
    pub fn size(&self) -> u64 {
        self.end - self.start
    }
}

/// A node's or a zone's span: `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub name: String,
    pub nid: i32,
    pub start: u64,
    pub end: u64,
}

/// The whole map, as printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Map {
    pub nodes: Vec<Span>,
    pub zones: Vec<Span>,
    pub ranges: Vec<Range>,
    /// `ram`, `nomap`, `reserved`, `free`, in bytes (printed in KiB).
    pub totals: Vec<(String, u64)>,
}

fn hex(s: &str) -> Result<u64> {
    let digits = s.strip_prefix("0x").ok_or_else(|| format!("'{s}' is not 0x-hex"))?;
    u64::from_str_radix(digits, 16).map_err(|e| format!("'{s}': {e}"))
}

/// `0xSTART-0xEND` (inclusive end) → `[start, end)`.
fn inclusive(s: &str) -> Result<(u64, u64)> {
    let (a, b) = s.split_once('-').ok_or_else(|| format!("'{s}' is not START-END"))?;
    let (a, b) = (hex(a)?, hex(b)?);
    if b < a {
        return Err(format!("'{s}' ends before it starts"));
    }
    Ok((a, b.saturating_add(1)))
}

/// `[mem 0xSTART-0xEND]` at the end of `s`.
fn mem_span(s: &str) -> Result<(&str, (u64, u64))> {
    let (head, tail) = s.split_once(" [mem ").ok_or_else(|| format!("no [mem ...] in '{s}'"))?;
    Ok((head, inclusive(tail.strip_suffix(']').ok_or_else(|| format!("unclosed [mem in '{s}'"))?)?))
}

/// `4K`, `2112K`, `64G`, `8441B` → bytes.
fn size(s: &str) -> Result<u64> {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let shift = match unit {
        "B" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        "E" => 60,
        _ => return Err(format!("'{s}' has no size unit")),
    };
    let n: u64 = n.parse().map_err(|_| format!("'{s}' is not a size"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("'{s}' overflows"))
}

fn node(s: &str) -> Result<Option<i32>> {
    match s {
        "-" => Ok(None),
        n => n.parse().map(Some).map_err(|_| format!("'{n}' is not a node")),
    }
}

/// Read the map from console or dry-run lines (timestamps allowed; other lines skipped).
pub fn parse<'l>(lines: impl IntoIterator<Item = &'l str>) -> Result<Map> {
    let mut map = Map::default();
    let mut seen_header = false;
    for line in lines {
        let Some(rest) = crate::test::message(line).strip_prefix("memmap: ") else { continue };
        let bad = |e: String| format!("memmap line '{rest}': {e}");
        if rest == "physical memory map at the end of mem_init" {
            seen_header = true;
        } else if let Some(t) = rest.strip_prefix("total: ") {
            for item in t.split(", ") {
                let (name, kib) = item.split_once(' ').ok_or_else(|| bad("not NAME NK".into()))?;
                let kib: u64 = kib.strip_suffix('K').and_then(|k| k.parse().ok()).ok_or_else(|| bad("not NK".into()))?;
                map.totals.push((name.to_string(), kib << 10));
            }
        } else if let Some(z) = rest.strip_prefix("zone ") {
            let (head, (start, end)) = mem_span(z).map_err(bad)?;
            let (name, nid) = head.split_once(" node ").ok_or_else(|| bad("no node".into()))?;
            let nid = nid.parse().map_err(|_| bad("bad node".into()))?;
            map.zones.push(Span { name: name.into(), nid, start, end });
        } else if let Some(n) = rest.strip_prefix("node ") {
            let (nid, (start, end)) = mem_span(n).map_err(bad)?;
            let nid = nid.parse().map_err(|_| bad("bad node".into()))?;
            map.nodes.push(Span { name: format!("node {nid}"), nid, start, end });
        } else {
            let w: Vec<&str> = rest.split_whitespace().collect();
            if w.len() < 6 {
                return Err(bad("fewer than six columns".into()));
            }
            let (start, end) = inclusive(w[0]).map_err(bad)?;
            if size(w[1]).map_err(bad)? != end - start {
                return Err(bad(format!("size {} is not the range's", w[1])));
            }
            let label = w[5..].join(" ");
            map.ranges.push(Range {
                start,
                end,
                kind: w[2].into(),
                nid: node(w[3]).map_err(bad)?,
                zone: (w[4] != "-").then(|| w[4].to_string()),
                owner: Owner { class: w[5].into(), label },
            });
        }
    }
    if !seen_header {
        return Err("no memory map in the output (no 'memmap: physical memory map' line)".into());
    }
    Ok(map)
}

fn addr(a: u64) -> Value {
    Value::String(format!("{a:#018x}"))
}

/// An owner as a JSON object: its class and label, and the fields its class names.
fn owner_json(o: &Owner) -> Value {
    let w = o.words();
    let mut v = json!({ "class": o.class, "label": o.label });
    let m = v.as_object_mut().expect("an object");
    match o.class.as_str() {
        "kernel" => {
            m.insert("section".into(), json!(w.first().copied().unwrap_or("image")));
        }
        "memreserve" => {
            let index = w.first().and_then(|i| i.strip_prefix('#')).and_then(|i| i.parse::<u64>().ok());
            m.insert("index".into(), json!(index));
        }
        "reserved-memory" if w.len() >= 5 => {
            let opt = |s: &str| if s == "-" { Value::Null } else { json!(s) };
            m.insert("path".into(), json!(w[0]));
            m.insert("mapping".into(), opt(w[1]));
            m.insert("placement".into(), json!(w[2]));
            m.insert("use".into(), opt(w[3]));
            m.insert("hook".into(), opt(w[4].strip_prefix("hook=").unwrap_or("-")));
        }
        "memmap" | "memmap-links" | "node-data" => {
            let nid = w.get(1).and_then(|n| n.parse::<i64>().ok());
            m.insert("nid".into(), json!(nid));
        }
        _ => {}
    }
    v
}

/// What the dry-run was given (`inputs` of the document).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub source: String,
    pub dtb: Option<String>,
    pub args: Vec<String>,
}

/// A line of the boot's log with its level (`<N>` before it, as /dev/kmsg writes it).
#[derive(Clone, Debug)]
pub struct LogLine {
    pub level: u8,
    pub text: String,
}

/// `<N>text` → (N, text); a line without a level is `info` (6).
pub fn leveled(line: &str) -> LogLine {
    let parsed = line.strip_prefix('<').and_then(|r| r.split_once('>')).and_then(|(n, t)| Some((n.parse().ok()?, t)));
    match parsed {
        Some((level, text)) => LogLine { level, text: text.to_string() },
        None => LogLine { level: 6, text: line.to_string() },
    }
}

const LEVEL_NAMES: [&str; 8] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

fn level_name(level: u8) -> &'static str {
    LEVEL_NAMES.get(level as usize).copied().unwrap_or("debug")
}

/// The JSON document: inputs, how the run ended, warnings (the boot's lines of warning level
/// or worse, then the dry-run's own messages), the boot's lines, nodes, zones, the map's
/// ranges with their owners, and the totals.
pub fn json(inputs: &Inputs, exit_status: i32, log: &[LogLine], stderr: &str, map: &Map) -> Value {
    let boot: Vec<&LogLine> = log.iter().filter(|l| !l.text.starts_with("memmap: ")).collect();
    let warnings: Vec<Value> = boot
        .iter()
        .filter(|l| l.level <= 4)
        .map(|l| json!({ "source": "boot", "level": level_name(l.level), "message": l.text }))
        .chain(stderr.lines().filter(|l| !l.trim().is_empty()).map(|l| json!({ "source": "dry-run", "level": "warning", "message": l })))
        .collect();
    let ending = match exit_status {
        0 => "complete",
        2 => "refused",
        3 => "panic",
        _ => "error",
    };
    let span = |s: &Span| json!({ "nid": s.nid, "start": addr(s.start), "end": addr(s.end), "size": s.end - s.start });
    json!({
        "version": SCHEMA_VERSION,
        "inputs": { "source": inputs.source, "dtb": inputs.dtb, "args": inputs.args },
        "ending": ending,
        "exit_status": exit_status,
        "warnings": warnings,
        "lines": boot.iter().map(|l| json!({ "level": level_name(l.level), "text": l.text })).collect::<Vec<_>>(),
        "nodes": map.nodes.iter().map(span).collect::<Vec<_>>(),
        "zones": map.zones.iter().map(|z| {
            let mut v = span(z);
            v.as_object_mut().expect("an object").insert("name".into(), json!(z.name));
            v
        }).collect::<Vec<_>>(),
        "regions": map.ranges.iter().map(|r| json!({
            "start": addr(r.start),
            "end": addr(r.end),
            "size": r.size(),
            "kind": r.kind,
            "nid": r.nid,
            "zone": r.zone,
            "owner": owner_json(&r.owner),
        })).collect::<Vec<_>>(),
        "totals": map.totals.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
    })
}

/// The schema file, relative to the workspace root.
pub const SCHEMA_PATH: &str = "docs/memmap.schema.json";

/// Check `doc` against the schema in the repository; every violation in the error.
pub fn validate(doc: &Value) -> Result<()> {
    let path = crate::root().join(SCHEMA_PATH);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let schema: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| format!("{SCHEMA_PATH}: {e}"))?;
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("the document does not match {SCHEMA_PATH}:\n  {}", errors.join("\n  ")))
    }
}

/// How long the dry-run of one tree may take (it takes well under a second).
const DRY_RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Run the dry-run `cmd` for `cargo xtask memmap --json/--svg`: print the JSON document (or,
/// without `--json`, the lines as usual) and draw the SVG; the dry-run's exit status.
pub fn run(cmd: &mut std::process::Command, args: &crate::memmap::MemmapArgs) -> Result<i32> {
    let run = document(cmd, args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run.doc).map_err(|e| e.to_string())?);
    } else {
        for l in &run.log {
            println!("{}", l.text);
        }
        eprint!("{}", run.stderr);
    }
    if let Some(svg) = &args.svg {
        let map = run.map.map_err(|e| format!("no picture: {e}"))?;
        let title = format!("Physical memory map of {} (cargo xtask memmap)", args.dtb.display());
        write_svg(svg, &map, &title)?;
    }
    Ok(run.status)
}

/// One dry-run, read back: its exit status, lines, messages, map and JSON document.
pub struct DryRunReport {
    pub status: i32,
    pub log: Vec<LogLine>,
    pub stderr: String,
    pub map: Result<Map>,
    pub doc: Value,
}

/// Run the dry-run `cmd` (for `args`) with levels on and read everything it says.
pub fn document(cmd: &mut std::process::Command, args: &crate::memmap::MemmapArgs) -> Result<DryRunReport> {
    let out = crate::qemu::run_captured(cmd.arg("--levels"), DRY_RUN_LIMIT)?;
    let status = match out.status {
        Some(s) => s.code().unwrap_or(1),
        None => return Err(format!("the dry-run did not end within {DRY_RUN_LIMIT:?}")),
    };
    let log: Vec<LogLine> = out.stdout.lines().map(leveled).collect();
    let map = parse(log.iter().map(|l| l.text.as_str()));
    let inputs = Inputs {
        source: "dry-run".into(),
        dtb: Some(args.dtb.display().to_string()),
        args: cmd.get_args().skip(1).filter(|a| *a != "--levels").map(|a| a.to_string_lossy().into_owned()).collect(),
    };
    let doc = match (&map, status) {
        (Ok(m), 0) => json(&inputs, status, &log, &out.stderr, m),
        (Err(e), 0) => return Err(format!("the dry-run completed without a readable map: {e}")),
        _ => json(&inputs, status, &log, &out.stderr, &Map::default()),
    };
    Ok(DryRunReport { status, log, stderr: out.stderr, map, doc })
}

fn write_svg(path: &std::path::Path, map: &Map, title: &str) -> Result<()> {
    std::fs::write(path, crate::memmap_svg::render(map, title)).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("xtask: wrote {} ({} ranges)", path.display(), map.ranges.len());
    Ok(())
}

/// The map a real boot reports: boot `opts` with the console monitor, type `memmap`, read
/// it back, power off. The console, boot and answer, is returned too.
pub fn from_boot(opts: &crate::qemu::BootOptions, image: &std::path::Path, limit: std::time::Duration) -> Result<(Map, String)> {
    crate::tools::ensure(&[crate::tools::QEMU])?;
    let mut s = crate::monitor_test::Session::start(opts, image, limit)?;
    let result = (|| {
        s.until(crate::monitor_test::PROMPT)?;
        let answer = s.cmd("memmap")?;
        let map = parse(answer.lines())?;
        s.poweroff()?;
        Ok(map)
    })();
    let console = s.seen().to_string();
    result.map(|m| (m, console.clone())).map_err(|e: String| format!("{e}\n--- console ---\n{console}"))
}

/// `cargo xtask qemu --svg FILE`: the picture of a real boot's memory map.
pub fn qemu_svg(opts: &crate::qemu::BootOptions, svg: &std::path::Path, limit: std::time::Duration) -> Result<i32> {
    let built = crate::build::build(opts.release)?;
    let (map, console) = from_boot(opts, &built.image, limit)?;
    print!("{console}");
    let what = match (&opts.dtb, &opts.overlay) {
        (Some(d), _) => d.display().to_string(),
        (None, Some(o)) => format!("QEMU virt + {o}"),
        (None, None) => "QEMU virt".to_string(),
    };
    write_svg(svg, &map, &format!("Physical memory map of {what}, --mem {} (cargo xtask qemu)", opts.mem))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = "\
[    0.010000] Memory: 948352K/1048576K available
[    0.010000] memmap: physical memory map at the end of mem_init
[    0.010000] memmap: node 0 [mem 0x0000000040000000-0x000000007fffffff]
[    0.010000] memmap: zone DMA node 0 [mem 0x0000000040000000-0x000000007fffffff]
[    0.010000] memmap: 0x0000000000000000-0x000000003fffffff       1G hole     -  -       -
[    0.010000] memmap: 0x0000000040000000-0x0000000040000fff       4K reserved 0  DMA     reserved-memory /reserved-memory/fw@40000000 no-map static - hook=-
[    0.010000] memmap: 0x0000000040001000-0x000000007fffffff 1048572K free     0  DMA     buddy
[    0.010000] memmap: total: ram 1048576K, nomap 0K, reserved 4K, free 1048572K";

    #[test]
    fn a_map_reads_back_with_its_owners() {
        let map = parse(LINES.lines()).unwrap();
        assert_eq!(map.nodes, [Span { name: "node 0".into(), nid: 0, start: 0x4000_0000, end: 0x8000_0000 }]);
        assert_eq!(map.zones.len(), 1);
        assert_eq!(map.ranges.len(), 3);
        let fw = &map.ranges[1];
        assert_eq!((fw.start, fw.end, fw.kind.as_str(), fw.nid), (0x4000_0000, 0x4000_1000, "reserved", Some(0)));
        let o = owner_json(&fw.owner);
        assert_eq!(o["path"], "/reserved-memory/fw@40000000");
        assert_eq!(o["mapping"], "no-map");
        assert_eq!(o["placement"], "static");
        assert_eq!(o["use"], Value::Null);
        assert_eq!(o["hook"], Value::Null);
        assert_eq!(map.totals[3], ("free".into(), 1048572 << 10));
    }

    #[test]
    fn a_size_that_is_not_the_ranges_is_refused() {
        let bad = LINES.replace("      4K reserved", "      8K reserved");
        assert!(parse(bad.lines()).unwrap_err().contains("size 8K"));
    }

    #[test]
    fn output_without_a_map_is_an_error() {
        assert!(parse(["Memory: 1K/1K available"]).is_err());
    }
}
