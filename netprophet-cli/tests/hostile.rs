//! The binary against hostile input and flags: every failure is exit 1
//! with one line on stderr that says why (exit 2 for a bad flag), never a
//! hang, a panic, a replaced device or a model that cannot be right.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{fixtures, s, stderr, tmp};

fn real_csv() -> PathBuf {
    fixtures().join("data/training_data.csv")
}

/// Runs the binary, killing it (and failing) after `secs`.
fn run_within(secs: u64, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netprophet"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run netprophet");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netprophet {args:?} did not finish within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A failure as the README promises it: exit 1, one stderr line, no panic.
fn fails_with(out: &Output, needles: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    assert!(lines[0].starts_with("netprophet: error: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "missing {n:?} in {err}");
    }
    lines[0].to_string()
}

#[test]
fn a_line_longer_than_a_read_block_does_not_hang_features() {
    let input = tmp("big.ndjson");
    let mut text = "x".repeat((1 << 20) + 1);
    text.push('\n');
    std::fs::write(&input, &text).unwrap();
    let output = tmp("big.csv");
    let out = run_within(
        60,
        &["features", "--input", s(&input), "--output", s(&output)],
    );
    fails_with(&out, &["big.ndjson", "no usable ping sample", "line 1"]);
    // With a real result after it, the result is used.
    let good =
        std::fs::read_to_string(fixtures().join("data/ping-firmware-variants.ndjson")).unwrap();
    text.push_str(&good);
    std::fs::write(&input, &text).unwrap();
    let out = run_within(
        60,
        &["features", "--input", s(&input), "--output", s(&output)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("malformed 1"), "{}", stderr(&out));
}

#[test]
fn smote_with_no_neighbours_is_an_error_not_a_panic() {
    let model = tmp("k0.json");
    let out = run_within(
        120,
        &[
            "train",
            "--input",
            s(&real_csv()),
            "--out",
            s(&model),
            "--smote-k",
            "0",
        ],
    );
    fails_with(&out, &["SMOTE", "k >= 1"]);
    assert!(!model.exists());
    let out = run_within(
        120,
        &["evaluate", "--input", s(&real_csv()), "--smote-k", "0"],
    );
    fails_with(&out, &["k >= 1"]);
}

#[test]
fn every_bad_training_parameter_is_named_and_nothing_is_written() {
    let model = tmp("inf.json");
    let out = run_within(
        120,
        &[
            "train",
            "--input",
            s(&real_csv()),
            "--out",
            s(&model),
            "--learning-rate",
            "inf",
            "--subsample",
            "0",
            "--lambda",
            "NaN",
            "--no-smote",
        ],
    );
    fails_with(
        &out,
        &[
            "learning_rate = inf",
            "subsample = 0",
            "lambda = NaN",
            "invalid training parameters",
        ],
    );
    assert!(!model.exists(), "no model full of null");
}

#[test]
fn numeric_flags_must_be_finite_and_in_range() {
    let archive = fixtures().join("data/ping-firmware-variants.ndjson");
    let csv = tmp("flags.csv");
    for (flag, value) in [
        ("--k", "nan"),
        ("--k", "inf"),
        ("--k", "0"),
        ("--window", "0"),
        ("--horizon", "99999999999999999999"),
    ] {
        let out = run_within(
            30,
            &[
                "features",
                "--input",
                s(&archive),
                "--output",
                s(&csv),
                flag,
                value,
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {value}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(flag), "{}", stderr(&out));
    }
    for (flag, value) in [
        ("--threshold", "nan"),
        ("--test-fraction", "1"),
        ("--test-fraction", "nan"),
    ] {
        let out = run_within(
            30,
            &[
                "train",
                "--input",
                s(&real_csv()),
                "--out",
                s(&tmp("never.json")),
                flag,
                value,
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {value}: {}",
            stderr(&out)
        );
    }
    for (flag, value) in [
        ("--timeout", "inf"),
        ("--backoff", "1e300"),
        ("--chunk-hours", "nan"),
    ] {
        let out = run_within(30, &["refresh", "--cache", s(&tmp("c.json")), flag, value]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {value}: {}",
            stderr(&out)
        );
    }
    let out = run_within(30, &["serve", "--refresh-every", "99999999999999999999h"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // evaluate refuses a NaN threshold when parsing its flags, too.
    let out = run_within(
        120,
        &[
            "evaluate",
            "--input",
            s(&real_csv()),
            "--threshold",
            "nan",
            "--no-smote",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--threshold"), "{}", stderr(&out));
}

/// The shipped model with `base_score` (a string in XGBoost 3 files)
/// replaced.
fn model_with_base_score(base: &str, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixtures().join("tournament_model.json")).unwrap();
    let patched = text.replacen("\"[5E-1]\"", &format!("\"[{base}]\""), 1);
    assert_ne!(text, patched);
    let path = tmp(name);
    std::fs::write(&path, patched).unwrap();
    path
}

#[test]
fn models_whose_base_score_has_no_logit_are_refused_as_xgboost_does() {
    for (i, base) in ["NaN", "inf", "2", "-1", "0", "1"].iter().enumerate() {
        let model = model_with_base_score(base, &format!("base{i}.json"));
        let out = run_within(
            30,
            &["predict", "--model", s(&model), "--input", s(&real_csv())],
        );
        fails_with(&out, &["base_score", "in (0, 1)", "binary:logistic"]);
        assert!(out.stdout.is_empty(), "no 3e-39 rows for base_score {base}");
    }
    let fine = model_with_base_score("2.5E-1", "base_ok.json");
    let out = run_within(
        30,
        &["predict", "--model", s(&fine), "--input", s(&real_csv())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn duplicate_feature_names_are_refused_in_models_flags_and_headers() {
    let text = std::fs::read_to_string(fixtures().join("tournament_model.json")).unwrap();
    let dup = text.replacen("\"jitter\"", "\"avg_latency\"", 1);
    assert_ne!(text, dup);
    let model = tmp("dup_names.json");
    std::fs::write(&model, dup).unwrap();
    let out = run_within(
        30,
        &["predict", "--model", s(&model), "--input", s(&real_csv())],
    );
    fails_with(&out, &["avg_latency", "more than once"]);

    // A nameless model given a schema that repeats a name.
    let nameless = fixtures().join("boost/tournament_model.json");
    let out = run_within(
        30,
        &[
            "predict",
            "--model",
            s(&nameless),
            "--input",
            s(&real_csv()),
            "--features",
            "avg_latency,avg_latency,rtt_min,rtt_max,packet_count,latency_change_5m,rolling_mean,rolling_std",
        ],
    );
    fails_with(&out, &["more than once"]);

    // A CSV whose header repeats a column: which one is meant is unknown.
    let csv = std::fs::read_to_string(real_csv()).unwrap();
    let (head, rest) = csv.split_once('\n').unwrap();
    let doubled = tmp("dup_header.csv");
    std::fs::write(
        &doubled,
        format!(
            "{head},jitter\n{}",
            rest.lines().map(|l| format!("{l},0\n")).collect::<String>()
        ),
    )
    .unwrap();
    let out = run_within(
        60,
        &[
            "train",
            "--input",
            s(&doubled),
            "--out",
            s(&tmp("never2.json")),
        ],
    );
    fails_with(&out, &["dup_header.csv", "`jitter` appears more than once"]);
}

#[test]
fn labels_other_than_0_and_1_are_refused_with_file_and_line() {
    let csv = std::fs::read_to_string(real_csv()).unwrap();
    for (bad, what) in [
        ("2", "is_degraded"),
        ("-1", "is_degraded"),
        ("0.5", "target"),
    ] {
        let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
        // Line 11 of the file: change its is_degraded or target cell.
        let mut cells: Vec<String> = lines[10].split(',').map(str::to_owned).collect();
        let n = cells.len();
        let at = if what == "target" { n - 1 } else { n - 2 };
        cells[at] = bad.to_string();
        lines[10] = cells.join(",");
        let path = tmp(&format!("labels_{what}_{bad}.csv"));
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let out = run_within(
            60,
            &[
                "train",
                "--input",
                s(&path),
                "--out",
                s(&tmp("never3.json")),
            ],
        );
        fails_with(&out, &[s(&path), "line 11", what, "is not a label"]);
    }
}

#[test]
fn errors_are_one_line_that_says_why() {
    let out = run_within(
        30,
        &[
            "predict",
            "--model",
            "no-such-model.json",
            "--input",
            s(&real_csv()),
        ],
    );
    fails_with(&out, &["no-such-model.json", "No such file"]);
}

#[cfg(unix)]
fn mkfifo(path: &Path) -> bool {
    Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(unix)]
#[test]
fn outputs_follow_symlinks_and_never_replace_devices_or_fifos() {
    use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};
    let archive = fixtures().join("data/ping-firmware-variants.ndjson");
    let features = |output: &Path| {
        run_within(
            60,
            &["features", "--input", s(&archive), "--output", s(output)],
        )
    };
    // A symlink: the target gets the rows, the link stays, so do the
    // target's permissions.
    let real = tmp("real.csv");
    std::fs::write(&real, "old").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = tmp("link.csv");
    let _ = std::fs::remove_file(&link);
    symlink(&real, &link).unwrap();
    let out = features(&link);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .starts_with("timestamp,"));
    assert_eq!(
        std::fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A FIFO stays a FIFO (and nothing blocks on it).
    let fifo = tmp("out.fifo");
    let _ = std::fs::remove_file(&fifo);
    if mkfifo(&fifo) {
        let out = features(&fifo);
        fails_with(&out, &["a FIFO", "not a regular file"]);
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }
    // A device stays a device (as root, /dev/null used to be replaced).
    for dev in ["/dev/null", "/dev/full"] {
        // Only where the node really is a device (a process elsewhere may
        // have replaced it with a file, as this used to).
        if std::fs::metadata(dev).is_ok_and(|m| m.file_type().is_char_device()) {
            let out = features(Path::new(dev));
            fails_with(&out, &[dev, "a character device"]);
            assert!(std::fs::metadata(dev).unwrap().file_type().is_char_device());
        }
    }
    // And `train --out` goes through the same writer.
    let dir_out = tmp("a_directory");
    std::fs::create_dir_all(&dir_out).unwrap();
    let out = run_within(
        120,
        &[
            "train",
            "--input",
            s(&real_csv()),
            "--out",
            s(&dir_out),
            "--n-estimators",
            "2",
        ],
    );
    fails_with(&out, &["a directory"]);
    assert!(dir_out.is_dir());
    let leftovers: Vec<_> = std::fs::read_dir(dir_out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(unix)]
#[test]
fn a_model_path_naming_a_device_or_fifo_is_refused_not_read() {
    let fifo = tmp("model.fifo");
    let _ = std::fs::remove_file(&fifo);
    let mut paths = vec![PathBuf::from("/dev/zero")];
    if mkfifo(&fifo) {
        paths.push(fifo);
    }
    for model in paths {
        let out = run_within(
            30,
            &["predict", "--model", s(&model), "--input", s(&real_csv())],
        );
        fails_with(&out, &[s(&model), "not a regular file"]);
    }
}

#[cfg(unix)]
#[test]
fn an_input_without_line_breaks_fails_at_once_instead_of_reading_forever() {
    use std::os::unix::fs::FileTypeExt;
    // /dev/zero never ends and holds no line break: read as an archive, the
    // over-long line used to be skipped for ever; read as a CSV, one record
    // grew until memory ran out.
    if !std::fs::metadata("/dev/zero").is_ok_and(|m| m.file_type().is_char_device()) {
        return;
    }
    let zero_csv = tmp("zero.csv");
    let _ = std::fs::remove_file(&zero_csv);
    std::os::unix::fs::symlink("/dev/zero", &zero_csv).unwrap();
    let model = fixtures().join("tournament_model.json");
    let output = tmp("from_zero.csv");
    let _ = std::fs::remove_file(&output);
    let archive = ["runs past 64 MiB without a line break", "line 1"];
    let csv = ["longer than 1048576 bytes without a line break", "line 1"];
    let cases: [(Vec<&str>, &str, &[&str]); 6] = [
        (
            vec!["features", "--input", "/dev/zero", "--output", s(&output)],
            "/dev/zero",
            &archive,
        ),
        (
            vec!["train", "--input", "/dev/zero", "--out", s(&output)],
            "/dev/zero",
            &archive,
        ),
        (
            vec!["evaluate", "--model", s(&model), "--input", "/dev/zero"],
            "/dev/zero",
            &archive,
        ),
        (
            vec!["predict", "--model", s(&model), "--input", "/dev/zero"],
            "/dev/zero",
            &csv,
        ),
        (
            vec!["predict", "--model", s(&model), "--input", s(&zero_csv)],
            s(&zero_csv),
            &csv,
        ),
        (
            vec!["train", "--input", s(&zero_csv), "--out", s(&output)],
            s(&zero_csv),
            &["line 1", "longer than"],
        ),
    ];
    for (args, input, needles) in cases {
        let out = run_within(60, &args);
        let line = fails_with(&out, needles);
        assert!(line.contains(input), "{args:?}: {line}");
        assert!(!output.exists(), "{args:?} wrote its output");
    }
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    // Outputs are renamed over their targets once complete, so these used
    // to succeed and replace the archive, the rows or the model read.
    let archive = tmp("own.ndjson");
    std::fs::copy(
        fixtures().join("data/ping-firmware-variants.ndjson"),
        &archive,
    )
    .unwrap();
    let rows = tmp("own_rows.csv");
    std::fs::copy(real_csv(), &rows).unwrap();
    let model = tmp("own_model.json");
    std::fs::copy(fixtures().join("tournament_model.json"), &model).unwrap();
    let dotted = archive.parent().unwrap().join(".").join("own.ndjson");
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "features",
                "--input",
                s(&archive),
                "--all",
                "--output",
                s(&archive),
            ],
            "--output",
        ),
        (
            vec!["features", "--input", s(&archive), "--output", s(&dotted)],
            "--output",
        ),
        (
            vec![
                "evaluate",
                "--model",
                s(&model),
                "--input",
                s(&rows),
                "--plot",
                s(&model),
            ],
            "--plot",
        ),
        (
            vec!["refresh", "--model", s(&model), "--cache", s(&model)],
            "--cache",
        ),
    ];
    // The rows, and on Unix a symlink to them.
    let link = tmp("own_link.csv");
    let _ = std::fs::remove_file(&link);
    let mut row_names = vec![rows.clone()];
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&rows, &link).unwrap();
        row_names.push(link.clone());
    }
    for out in &row_names {
        let args = ["train", "--input", s(&rows), "--no-smote", "--out", s(out)];
        cases.push((args.to_vec(), "--out"));
    }
    let before: Vec<Vec<u8>> = [&archive, &rows, &model]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    for (args, flag) in cases {
        let out = run_within(60, &args);
        let line = fails_with(&out, &[flag, "is the input", "nothing was written"]);
        assert!(!line.contains("panicked"), "{args:?}: {line}");
    }
    for (p, bytes) in [&archive, &rows, &model].iter().zip(&before) {
        assert_eq!(&std::fs::read(p).unwrap(), bytes, "{} changed", p.display());
    }
}

#[test]
fn serve_with_refreshes_refuses_a_model_that_does_not_load() {
    // It used to start, serve a cache nobody refreshed and log a warning
    // every cycle.
    let missing = tmp("no_such_model.json");
    let _ = std::fs::remove_file(&missing);
    let garbage = tmp("garbage_model.json");
    std::fs::write(&garbage, "{\"learner\": 3").unwrap();
    let cache = tmp("never_served.json");
    for model in [&missing, &garbage] {
        let out = run_within(
            30,
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--cache",
                s(&cache),
                "--refresh-every",
                "10m",
                "--model",
                s(model),
            ],
        );
        fails_with(&out, &["--model", s(model), "in-process refreshes"]);
    }
}
