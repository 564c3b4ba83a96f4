//! Replacing a file without ever leaving it half-written: `convert -o` and `check --fix`
//! both write through here.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Write `bytes` to `path` through a temporary file in the same directory and a rename.
/// A failed run leaves the previous file as it was: the temporary file is created
/// exclusively (an existing file of that name is never touched) and removed if anything
/// fails. A file being replaced keeps its permissions. `durable` also syncs the data to
/// disk before the rename (a single output file, a fixed rule: yes; thousands of per-rule
/// files: no, the rename alone keeps each file whole).
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(
            ".{name}.sigil-tmp-{}-{attempt}",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1
            }
            Err(e) => return Err(e).with_context(|| format!("creating {}", tmp.display())),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| if durable { file.sync_all() } else { Ok(()) })
        .with_context(|| format!("writing {}", tmp.display()))
        .and_then(|()| match std::fs::metadata(path) {
            Ok(meta) => std::fs::set_permissions(&tmp, meta.permissions())
                .with_context(|| format!("setting the permissions of {}", tmp.display())),
            Err(_) => Ok(()),
        })
        .and_then(|()| {
            std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sigil-atomic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn replaces_content_and_leaves_nothing_behind() {
        let dir = scratch("replace");
        let p = dir.join("r.yml");
        std::fs::write(&p, "old").expect("write");
        write_atomic(&p, b"new", true).expect("atomic write");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "new");
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[cfg(unix)]
    #[test]
    fn keeps_permissions_of_the_replaced_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("perm");
        let p = dir.join("hook.sh");
        std::fs::write(&p, "old").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        write_atomic(&p, b"new", false).expect("atomic write");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o750);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_failed_rename_keeps_the_target_and_removes_the_temporary() {
        let dir = scratch("fail");
        // A non-empty directory cannot be replaced by a file.
        let target = dir.join("out");
        std::fs::create_dir_all(target.join("inner")).expect("mkdir");
        assert!(write_atomic(&target, b"x", false).is_err());
        assert!(target.join("inner").is_dir());
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
