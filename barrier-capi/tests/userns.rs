//! examples/userns-run.c, built against the shipped libbarrier.so: runs a
//! command as root in a new user namespace, and every failure on either
//! side ends both with a message and a non-zero status, and the command
//! never runs (each failure injected with USERNS_RUN_FAIL). Where user
//! namespaces are unavailable, it says so and checks only what needs none.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use support::{library_dir, out_dir, root, strict_c};

/// Builds it once for all the tests of this file.
fn build() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(compile)
}

fn compile() -> PathBuf {
    let lib = library_dir();
    let exe = out_dir().join("bin").join("userns-run");
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    let status = strict_c()
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("examples/userns-run.c"))
        .arg("-L")
        .arg(lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lbarrier")
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "compiling examples/userns-run.c failed");
    exe
}

/// Runs it; output() returns once every holder of its output pipes is
/// gone, the child too when the parent died first.
fn run(exe: &Path, fail: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(exe);
    cmd.args(args).env("LD_LIBRARY_PATH", library_dir());
    match fail {
        Some(step) => cmd.env("USERNS_RUN_FAIL", step),
        None => cmd.env_remove("USERNS_RUN_FAIL"),
    };
    cmd.output().expect("running userns-run")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn user_namespaces_work() -> bool {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn usage_and_exec_failure() {
    let exe = build();
    let out = run(exe, None, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("usage: userns-run"));
    if !user_namespaces_work() {
        println!("skipped: user namespaces are unavailable here");
        return;
    }
    let out = run(exe, None, &["--", "/nonexistent/command"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("/nonexistent/command: No such file"));
}

#[test]
fn runs_as_root_with_the_mapping() {
    let exe = build();
    if !user_namespaces_work() {
        println!("skipped: user namespaces are unavailable here");
        return;
    }
    let out = run(exe, None, &["id", "-u"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0\n");

    let out = run(exe, None, &["--", "cat", "/proc/self/uid_map"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let map: Vec<String> = text(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    // SAFETY: getuid takes nothing and cannot fail.
    let uid = unsafe { libc::getuid() };
    assert_eq!(map, ["0", &uid.to_string(), "1"]);
}

#[test]
fn every_failure_ends_both_and_never_runs_the_command() {
    let exe = build();
    if !user_namespaces_work() {
        println!("skipped: user namespaces are unavailable here");
        return;
    }
    let cases: [(&str, Option<i32>, &str); 4] = [
        ("unshare", Some(1), "unshare: Operation not permitted"),
        (
            "child-crash",
            Some(1),
            "the child failed before its namespace was ready",
        ),
        ("map", Some(1), "writing the id maps"),
        (
            "parent-dies",
            None,
            "the parent failed or went away before mapping the ids",
        ),
    ];
    for (step, code, message) in cases {
        let marker = out_dir().join(format!("userns-run-ran-{step}"));
        let _ = std::fs::remove_file(&marker);
        let out = run(exe, Some(step), &["touch", marker.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        match code {
            Some(code) => assert_eq!(out.status.code(), Some(code), "{step}: {stderr}"),
            None => {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{step}: {stderr}");
            }
        }
        assert!(stderr.contains(message), "{step}: {stderr}");
        assert!(!marker.exists(), "{step}: the command ran");
    }
}
