//! The benchmark (bench/bench.c) keeps compiling against the header and
//! the release library, warning-free as strict C11, and every case of it
//! still runs with every method: `--check` runs each briefly and measures
//! nothing (`bash bench/bench.sh` measures). One of its methods is
//! systemd's shipped barrier, loaded from libsystemd-shared at run time;
//! where that library is missing the benchmark leaves the method out with
//! a message, except in CI (the variable `CI` set), where it fails.
//!
//! The group benchmark (bench/bench-group.c) likewise: it compiles as
//! strict C11, and `--check` runs every group size with every method (the
//! group and the two process-shared pthread barriers) for a few rounds,
//! measuring nothing.

mod support;

use std::ffi::OsString;
use std::process::Command;
use support::{library_dir, out_dir, root, strict_c};

/// Builds benchmark `name` (`<out>/bench/<name>-static`) from `sources`,
/// paths under the root, as strict C11 against the header, the directories
/// `include` and the static library, then `libs`; runs it with `--check`
/// and `args`, and returns what it printed once it succeeded.
fn build_and_check(
    name: &str,
    sources: &[&str],
    include: &[&str],
    libs: &[&str],
    args: &[OsString],
) -> String {
    let dir = out_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(format!("{name}-static"));
    let mut cc = strict_c();
    for inc in std::iter::once(&"include").chain(include) {
        cc.arg("-I").arg(root().join(inc));
    }
    for src in sources {
        cc.arg(root().join(src));
    }
    let status = cc
        .arg(library_dir().join("libbarrier.a"))
        .args(libs)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "{} does not compile", sources[0]);

    let out = Command::new(&exe)
        .arg("--check")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} --check failed");
    stdout
}

#[test]
fn benchmark_compiles_and_runs_every_method() {
    let mut so = OsString::from("--so=");
    so.push(library_dir().join("libbarrier.so"));
    let stdout = build_and_check(
        "bench",
        &[
            "bench/bench.c",
            "bench/bench-common.c",
            "c-tests/reference/reference.c",
        ],
        &["c-tests/reference"],
        &["-ldl"],
        &[so],
    );
    if stdout.contains("systemd (shipped): skipped") {
        println!("skipped: no libsystemd-shared (the benchmark ran without systemd's method)");
    }
}

#[test]
fn group_benchmark_compiles_and_runs_every_size() {
    let stdout = build_and_check(
        "bench-group",
        &["bench/bench-group.c", "bench/bench-common.c"],
        &[],
        &[],
        &[],
    );
    assert!(
        stdout.contains("bench-group --check: every size ran with 4 methods"),
        "bench-group --check did not run every method"
    );
}
