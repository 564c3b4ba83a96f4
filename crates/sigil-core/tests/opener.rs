//! One `Opener` over files of many directories, in an order that moves back and forth
//! between them, reads each file's own text and reports a failed open as `File::open` does.

use std::path::{Path, PathBuf};

use sigil_core::collection::find_rule_files;
use sigil_core::load::{load_file_with, Opener};
use sigil_core::ErrorKind;

#[test]
fn opener_reads_every_file_of_every_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let mut files = find_rule_files(std::slice::from_ref(&root)).unwrap();
    let dirs: std::collections::HashSet<_> = files.iter().filter_map(|p| p.parent()).collect();
    assert!(dirs.len() >= 3, "{} directories", dirs.len());
    // Back and forth: sorted, then reversed, then interleaved with a file name given bare
    // (no directory: opened as it is, relative to the working directory).
    let mut order: Vec<PathBuf> = files.clone();
    files.reverse();
    order.extend(files.iter().cloned());
    order.push(PathBuf::from("Cargo.toml"));
    order.extend(files.iter().step_by(3).cloned());
    let missing = [
        root.join("no-such-file.yml"),
        root.join("no-such-dir/rule.yml"),
        root.join("invalid"),
    ];
    order.extend(missing.iter().cloned());
    order.extend(files.iter().take(3).cloned());
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();

    let mut opener = Opener::default();
    for p in &order {
        let got = load_file_with(&mut opener, p);
        match std::fs::read(p) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                if got.errors.iter().any(|e| e.kind == ErrorKind::NotUtf8) {
                    assert!(std::str::from_utf8(&bytes).is_err(), "{}", p.display());
                } else {
                    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                    assert_eq!(&*got.source, text, "{}", p.display());
                }
            }
            Err(e) => {
                let want = std::fs::File::open(p)
                    .err()
                    .map_or_else(|| e.to_string(), |e| e.to_string());
                assert_eq!(got.errors.len(), 1, "{}", p.display());
                assert_eq!(got.errors[0].kind, ErrorKind::Io(want), "{}", p.display());
            }
        }
    }
}
