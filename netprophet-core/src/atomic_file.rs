//! Atomic file replacement: write a temporary file in the target's
//! directory, flush it to disk, then rename it over the target.
//!
//! Rename within one directory is atomic on POSIX file systems, so readers
//! see the old content or the new, never a mix; a crash before the rename
//! leaves the old file untouched.
//!
//! What is replaced is the file a path finally names: a symlink is
//! followed to its target, which gets the new content while the link stays
//! a link. Only regular files are replaced; a device (`/dev/null`,
//! `/dev/full`), a FIFO, a socket or a directory at the path is refused
//! with an error, where a plain rename would have put a file in its place.
//! The new file keeps the old one's permission bits. The temporary file is
//! removed on every error path, a panic while filling it included.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Symlinks followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let unique = format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    path.with_file_name(unique)
}

/// The path `path` finally names: symlinks followed, one at a time, so a
/// link to a file that does not exist yet names that file.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::other(format!(
        "{}: more than {MAX_LINKS} levels of symbolic links",
        path.display()
    )))
}

/// What kind of non-regular file `t` is, for the refusal message.
fn kind(t: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Removes the temporary file unless the rename consumed it, including
/// when the caller's fill panics.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// Replaces `path` with `bytes` atomically (temp file, fsync, rename,
/// fsync of the directory). On error the temporary file is removed and
/// `path` is unchanged.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |f| f.write_all(bytes))
}

/// Like [`write()`], but the content is produced by `fill`, so large outputs
/// can be streamed without being held in memory.
///
/// Fails, before anything is written, when `path` (after following
/// symlinks) exists and is not a regular file.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let target = resolve(path)?;
    let permissions = match fs::metadata(&target) {
        Ok(m) if m.is_file() => Some(m.permissions()),
        Ok(m) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "refusing to replace {}: it is {}, not a regular file",
                    target.display(),
                    kind(m.file_type())
                ),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let tmp = temp_path(&target);
    // `create_new` never opens an existing file or follows a link planted
    // at the temporary name.
    let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let mut guard = TempGuard(Some(tmp.clone()));
    if let Some(p) = permissions {
        f.set_permissions(p)?;
    }
    fill(&mut f)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &target)?;
    guard.0 = None;
    // The rename itself lives in the directory; sync it so the new name
    // survives a power cut. Not every platform can open a directory.
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("np-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn failed_fill_keeps_old_content_and_leaves_no_temp() {
        let dir = dir("fail");
        let target = dir.join("model.json");
        write(&target, b"old").unwrap();
        let err = write_with(&target, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert!(leftovers(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_panicking_fill_leaves_no_temp() {
        let dir = dir("panic");
        let target = dir.join("out.csv");
        let t = target.clone();
        let r = std::panic::catch_unwind(move || {
            let _ = write_with(&t, |_| panic!("fill panicked"));
        });
        assert!(r.is_err());
        assert!(!target.exists());
        assert!(leftovers(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_and_kept_permissions_kept() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = dir("link");
        let real = dir.join("real.csv");
        write(&real, b"old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.join("link.csv");
        symlink("real.csv", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // A dangling link names the file to create; a chain of links too.
        let chain = dir.join("chain.csv");
        symlink(dir.join("link.csv"), &chain).unwrap();
        let dangling = dir.join("dangling.csv");
        symlink("new.csv", &dangling).unwrap();
        write(&chain, b"via chain").unwrap();
        write(&dangling, b"created").unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"via chain");
        assert_eq!(fs::read(dir.join("new.csv")).unwrap(), b"created");
        // A loop is an error, not a hang.
        let (a, b) = (dir.join("a"), dir.join("b"));
        symlink(&b, &a).unwrap();
        symlink(&a, &b).unwrap();
        assert!(write(&a, b"x").is_err());
        assert!(leftovers(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn devices_fifos_and_directories_are_refused() {
        let dir = dir("special");
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        let mut targets = vec![(dir.clone(), "a directory")];
        if made {
            targets.push((fifo.clone(), "a FIFO"));
        }
        let null_is_a_device = {
            use std::os::unix::fs::FileTypeExt;
            fs::metadata("/dev/null").is_ok_and(|m| m.file_type().is_char_device())
        };
        if null_is_a_device {
            targets.push((PathBuf::from("/dev/null"), "a character device"));
        }
        for (t, what) in targets {
            let err = write(&t, b"csv").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains(what), "{err}");
        }
        if made {
            use std::os::unix::fs::FileTypeExt;
            assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        }
        assert!(leftovers(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
