//! `sigil check --fix` on a file that starts with a UTF-8 byte-order mark: the rule loads
//! (the mark is not read into the first key), the fix is applied at the right place, and
//! the rewritten file keeps its mark and every other byte.

use std::process::Command;

const RULE: &str = "title: Whoami
id: 0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e11
status: experimental
description: Detects whoami being run
author: sigil
date: 2024-01-05
tags:
    - attack.T1033   # upper case: fixable
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
falsepositives:
    - Administrators
level: medium
";

#[test]
fn fix_keeps_the_byte_order_mark() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("whoami.yml");
    std::fs::write(&path, format!("\u{feff}{RULE}")).expect("write");

    let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["check", "--no-config", "--color", "never", "--fix"])
        .arg(&path)
        .output()
        .expect("run sigil");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 ok, 0 errors") && stderr.contains("fixed 1"),
        "{stdout}\n{stderr}"
    );

    let after = std::fs::read_to_string(&path).expect("read back");
    let expected = format!("\u{feff}{}", RULE.replace("attack.T1033", "attack.t1033"));
    assert_eq!(after, expected);
}
