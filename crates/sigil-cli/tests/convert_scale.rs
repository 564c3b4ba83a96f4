//! `sigil convert` over directories: parallel runs print exactly what sequential runs
//! print, and `-o FILE` / `-o DIR` write atomically without clobbering unrelated files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus_rules() -> PathBuf {
    let p = workspace().join("../shared/corpus/sigmahq/rules");
    assert!(
        p.is_dir(),
        "SigmaHQ corpus missing at {}: the corpus tests need ../shared/corpus next to the checkout",
        p.display()
    );
    p
}

fn sigil(threads: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .current_dir(workspace())
        .output()
        .expect("run sigil")
}

#[test]
fn parallel_output_is_identical_to_sequential() {
    let rules = corpus_rules();
    let rules = rules.to_str().expect("utf-8 path");
    for args in [
        vec!["convert", "-t", "lucene", rules],
        vec!["convert", "-t", "lucene", "-f", "json", rules],
        vec!["convert", "-t", "sqlite", "--skip-unsupported", rules],
    ] {
        let seq = sigil("1", &args);
        let par = sigil("4", &args);
        assert!(
            seq.stdout.len() > 100_000,
            "{args:?}: suspiciously little output ({} bytes)",
            seq.stdout.len()
        );
        assert_eq!(seq.status.code(), par.status.code(), "{args:?}");
        assert!(
            seq.stdout == par.stdout,
            "{args:?}: stdout differs between 1 and 4 threads"
        );
        assert_eq!(
            String::from_utf8_lossy(&seq.stderr),
            String::from_utf8_lossy(&par.stderr),
            "{args:?}"
        );
        // Sorted by path: the rule file of each JSON line never goes backwards.
        if args.contains(&"json") {
            let paths: Vec<String> = String::from_utf8_lossy(&seq.stdout)
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).expect("json line")["path"]
                        .as_str()
                        .expect("path")
                        .to_string()
                })
                .collect();
            assert!(paths.windows(2).all(|w| {
                let (a, b) = (Path::new(&w[0]), Path::new(&w[1]));
                a <= b
            }));
        }
    }
}

#[test]
fn output_file_is_replaced_atomically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("queries.txt");
    std::fs::write(&out, "old content\n").expect("write");
    let o = sigil(
        "2",
        &[
            "convert",
            "-t",
            "lucene",
            "rules",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty());
    let text = std::fs::read_to_string(&out).expect("read");
    assert!(text.contains("eventName:GetCallerIdentity"), "{text}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, ["queries.txt"], "temporary files left behind");
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).expect("ls") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().to_string());
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn output_directory_gets_one_file_per_rule_and_spares_user_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("queries");
    std::fs::create_dir(&out).expect("mkdir");
    let out_s = out.to_str().unwrap();

    let o = sigil("2", &["convert", "-t", "lucene", "rules", "-o", out_s]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let files = files_under(&out);
    let rule_files: Vec<&String> = files.iter().filter(|f| f.ends_with(".lucene")).collect();
    let sources = sigil_core_rule_count();
    assert_eq!(rule_files.len(), sources, "{files:?}");
    assert!(files.contains(&".sigil-convert-manifest".to_string()));
    // The file of the seed rule holds exactly its query.
    let seed = std::fs::read_to_string(out.join("cloudtrail/sts_get_caller_identity.lucene"))
        .expect("seed rule output");
    assert_eq!(
        seed,
        "eventSource:*.sts.amazonaws.com AND eventName:GetCallerIdentity\n"
    );

    // A second run replaces its own files.
    let again = sigil("2", &["convert", "-t", "lucene", "rules", "-o", out_s]);
    assert!(again.status.success());
    assert_eq!(files_under(&out), files);

    // A user's file where a rule's output would go is never overwritten, and the run
    // fails before writing anything.
    let victim = out.join("cloudtrail/sts_get_caller_identity.lucene");
    std::fs::remove_file(out.join(".sigil-convert-manifest")).expect("rm manifest");
    std::fs::write(&victim, "my notes\n").expect("write");
    let refused = sigil("2", &["convert", "-t", "lucene", "rules", "-o", out_s]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("was not written by sigil convert"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "my notes\n");
}

/// Number of rule files in the bundled `rules/` directory (one rule each).
fn sigil_core_rule_count() -> usize {
    fn walk(d: &Path) -> usize {
        std::fs::read_dir(d)
            .expect("ls")
            .map(|e| {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    walk(&p)
                } else {
                    usize::from(p.extension().is_some_and(|x| x == "yml"))
                }
            })
            .sum()
    }
    walk(&workspace().join("rules"))
}

#[test]
fn stale_outputs_of_a_previous_run_are_removed_but_user_files_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("q/");
    let out_s = out.to_str().unwrap();
    let o = sigil("2", &["convert", "-t", "lucene", "rules", "-o", out_s]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = files_under(&out);
    // Pretend an earlier run also wrote `gone.lucene`; a user put `notes.txt` there.
    std::fs::write(out.join("gone.lucene"), "x").unwrap();
    std::fs::write(out.join("notes.txt"), "keep").unwrap();
    let manifest = out.join(".sigil-convert-manifest");
    let mut m = std::fs::read_to_string(&manifest).unwrap();
    m.push_str("gone.lucene\n");
    std::fs::write(&manifest, m).unwrap();
    let o = sigil("2", &["convert", "-t", "lucene", "rules", "-o", out_s]);
    assert!(o.status.success());
    let mut expected = before.clone();
    expected.push("notes.txt".into());
    expected.sort();
    assert_eq!(files_under(&out), expected);
}
