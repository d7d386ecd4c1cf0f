//! Every input the fuzz target (`cargo xtask fuzz`) found a crash or a broken invariant with,
//! replayed through the same run and checks (`fuzz_input`): each file in
//! `testdata/fuzz-regressions/` must now pass. The file's name says what it found.

mod fuzz_input;

#[test]
fn fuzz_regressions_pass() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("testdata/fuzz-regressions").map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "bin"));
    files.sort();
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        if let Err(e) = fuzz_input::run(&data) {
            failed.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The fuzz target's seeds (`fuzz/seeds/`: QEMU's trees and a small hand-written one, each
/// with a command line) pass too, and the small one goes all the way to the buddy allocator,
/// so the checks are not vacuous.
#[test]
fn fuzz_seeds_pass_and_reach_the_buddy_allocator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/seeds") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        assert_eq!(fuzz_input::run(&data), Ok(()), "{}", path.display());
        n += 1;
    }
    assert!(n >= 5, "the seeds are gone from {}", dir.display());
    let mini = std::fs::read(dir.join("seed-mini-0")).unwrap();
    assert_eq!(fuzz_input::reached_buddy(&mini), Some(true));
}
