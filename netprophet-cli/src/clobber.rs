//! Refusing an output that is one of the command's own inputs.
//!
//! Outputs are replaced atomically once they are complete, so writing the
//! features of `day.ndjson` to `day.ndjson`, or a model over the rows it
//! was trained on, would succeed and destroy the data it came from. Each
//! command checks its outputs against its inputs before it reads
//! anything; the same file under another name (a symlink, a hard link,
//! `./x` for `x`) counts as the same.

use std::path::Path;

use anyhow::bail;

/// Fails, naming both, when an output (`(flag, path)`) is the same file or
/// directory as an input. Paths that do not exist yet are new outputs and
/// pass; `-` (standard output) passes.
pub fn refuse_inputs_as_outputs<'a>(
    outputs: impl IntoIterator<Item = (&'a str, &'a Path)>,
    inputs: impl IntoIterator<Item = &'a Path> + Clone,
) -> anyhow::Result<()> {
    for (flag, out) in outputs {
        if out == Path::new("-") {
            continue;
        }
        for input in inputs.clone() {
            if same_file(out, input) {
                bail!(
                    "{flag} {} is the input {}: writing it would replace what is being read; nothing was written",
                    out.display(),
                    input.display()
                );
            }
        }
    }
    Ok(())
}

/// Whether `a` and `b` name one existing file (following symlinks).
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("np-clobber-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_same_file_under_any_name_is_refused() {
        let d = dir("names");
        let data = d.join("rows.csv");
        std::fs::write(&data, "a\n1\n").unwrap();
        let dotted = d.join(".").join("rows.csv");
        let err = refuse_inputs_as_outputs([("--out", dotted.as_path())], [data.as_path()])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--out "), "{err}");
        assert!(
            err.contains("is the input") && err.contains("rows.csv"),
            "{err}"
        );
        #[cfg(unix)]
        {
            let link = d.join("link.csv");
            std::os::unix::fs::symlink(&data, &link).unwrap();
            let hard = d.join("hard.csv");
            std::fs::hard_link(&data, &hard).unwrap();
            for out in [&link, &hard] {
                assert!(
                    refuse_inputs_as_outputs([("--output", out.as_path())], [data.as_path()])
                        .is_err(),
                    "{}",
                    out.display()
                );
            }
        }
        assert_eq!(std::fs::read_to_string(&data).unwrap(), "a\n1\n");
    }

    #[test]
    fn new_outputs_other_files_and_stdout_pass() {
        let d = dir("pass");
        let data = d.join("rows.csv");
        std::fs::write(&data, "a\n").unwrap();
        let other = d.join("other.csv");
        std::fs::write(&other, "b\n").unwrap();
        let new = d.join("new.json");
        let inputs = [data.as_path()];
        for out in [new.as_path(), other.as_path(), Path::new("-")] {
            refuse_inputs_as_outputs([("--out", out)], inputs).unwrap();
        }
    }
}
