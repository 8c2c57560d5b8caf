//! The benchmark (bench/bench.c) keeps compiling against the header and
//! the release library, warning-free as strict C11, and every case of it
//! still runs with every method: `--check` runs each briefly and measures
//! nothing (`bash scripts/bench.sh` measures). One of its methods is
//! systemd's shipped barrier, loaded from libsystemd-shared at run time;
//! where that library is missing the benchmark leaves the method out with
//! a message, except in CI (the variable `CI` set), where it fails.
//!
//! The group benchmark (bench/bench-group.c) likewise: it compiles as
//! strict C11, and `--check` runs every group size with every method (the
//! group and the two process-shared pthread barriers) for a few rounds,
//! measuring nothing.

mod support;

use std::process::Command;
use support::{library_dir, out_dir, root, strict_c};

#[test]
fn benchmark_compiles_and_runs_every_method() {
    let dir = out_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("bench-static");
    let status = strict_c()
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("c-tests/reference"))
        .arg(root().join("bench/bench.c"))
        .arg(root().join("c-tests/reference/reference.c"))
        .arg(library_dir().join("libbarrier.a"))
        .arg("-ldl")
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "bench/bench.c does not compile");

    let mut so = std::ffi::OsString::from("--so=");
    so.push(library_dir().join("libbarrier.so"));
    let out = Command::new(&exe)
        .arg("--check")
        .arg(so)
        .output()
        .expect("running the benchmark");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "bench --check failed");
    if stdout.contains("systemd (shipped): skipped") {
        println!("skipped: no libsystemd-shared (the benchmark ran without systemd's method)");
    }
}

#[test]
fn group_benchmark_compiles_and_runs_every_size() {
    let dir = out_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("bench-group-static");
    let status = strict_c()
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("bench/bench-group.c"))
        .arg(library_dir().join("libbarrier.a"))
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "bench/bench-group.c does not compile");

    let out = Command::new(&exe)
        .arg("--check")
        .output()
        .expect("running the group benchmark");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "bench-group --check failed");
    assert!(
        stdout.contains("bench-group --check: every size ran with 3 methods"),
        "bench-group --check did not run every method"
    );
}
