//! Builds the shipped libbarrier.a and libbarrier.so (release, panic=abort,
//! exactly as installed) and runs every C program of c-tests/ against each.
//! The programs of the two-party API also run against systemd's own
//! barrier (`mod systemd`), through c-tests/reference/shim.c, which loads
//! it from libsystemd-shared at run time.
//!
//! The C compiler is the one the `cc` crate picks for this target; the
//! programs must compile warning-free as strict C11.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

mod support;

use support::{library_dir, out_dir, root, strict_c, strict_cxx};

#[derive(Clone, Copy)]
enum Link {
    Static,
    Shared,
    /// No libbarrier: the names of barrier.h come from the shim, which
    /// forwards them to systemd's library.
    Systemd,
}

/// c-tests/DIR/test-NAME.c.
fn source_of(name: &str) -> PathBuf {
    let dir = match name {
        "noalloc" => "",
        _ if name.starts_with("group-") => "group",
        _ if name.starts_with("loop-") => "loop",
        _ => "barrier",
    };
    root()
        .join("c-tests")
        .join(dir)
        .join(format!("test-{name}.c"))
}

/// Compiles c-tests/DIR/test-NAME.c with lib/harness.c against the library (and
/// lib/group-harness.c for the programs of barrier groups, test-group-*).
fn build_program(name: &str, link: Link) -> PathBuf {
    build_program_with(name, link, &[])
}

/// The same, with `extra` (libraries, from pkg-config) after the sources.
fn build_program_with(name: &str, link: Link, extra: &[String]) -> PathBuf {
    let bin_dir = out_dir().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let suffix = match link {
        Link::Static => "static",
        Link::Shared => "shared",
        Link::Systemd => "systemd",
    };
    let exe = bin_dir.join(format!("test-{name}-{suffix}"));
    let tests = root().join("c-tests");
    let mut cmd = strict_c();
    cmd.arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(tests.join("lib"))
        .arg(source_of(name))
        .arg(tests.join("lib/harness.c"))
        .arg("-o")
        .arg(&exe);
    if name.starts_with("group-") {
        cmd.arg(tests.join("lib/group-harness.c"));
    }
    match link {
        Link::Static => {
            cmd.arg(library_dir().join("libbarrier.a"));
        }
        Link::Shared => {
            let lib = library_dir();
            cmd.arg("-L")
                .arg(lib)
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .arg("-lbarrier");
        }
        Link::Systemd => {
            cmd.arg("-DHARNESS_REFERENCE")
                .arg("-I")
                .arg(tests.join("reference"))
                .arg(tests.join("reference/shim.c"))
                .arg(tests.join("reference/reference.c"))
                .arg("-ldl");
        }
    }
    cmd.args(extra);
    let status = cmd.status().expect("running the C compiler");
    assert!(status.success(), "compiling {name} ({suffix}) failed");
    exe
}

/// Runs a C test program; it must exit 0 after printing "N passed, 0 failed".
fn run_program(name: &str, link: Link) {
    run_program_with(name, link, &[]);
}

fn run_program_with(name: &str, link: Link, extra: &[String]) {
    let exe = build_program_with(name, link, extra);
    // cargo points LD_LIBRARY_PATH at its own target directory, which would
    // win over the rpath and load a library built for the test profile.
    let out = Command::new(&exe)
        .env("LD_LIBRARY_PATH", library_dir())
        .output()
        .expect("running the C program");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    check_summary(&exe, &stdout, &out.status, false);
}

/// `pkg-config --cflags --libs` of an event loop's library; None (a
/// printed skip) if it is not installed, except in CI, where that fails.
fn loop_flags(package: &str) -> Option<Vec<String>> {
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", package])
        .output();
    match out {
        Ok(out) if out.status.success() => Some(
            String::from_utf8(out.stdout)
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect(),
        ),
        _ => {
            assert!(
                reference_optional(),
                "pkg-config finds no {package}, and CI is set (scripts/setup.sh installs it)"
            );
            println!("skipped: pkg-config finds no {package} (scripts/setup.sh installs it)");
            None
        }
    }
}

/// Runs c-tests/loop/test-loop-NAME.c, built with its loop's library.
fn run_loop_program(name: &str, package: &str, link: Link) {
    if let Some(flags) = loop_flags(package) {
        run_program_with(&format!("loop-{name}"), link, &flags);
    }
}

/// Whether systemd's library may be missing (a skip) rather than a
/// failure: outside CI only, as the C side decides (reference_required()).
fn reference_optional() -> bool {
    !matches!(std::env::var_os("CI"), Some(v) if !v.is_empty())
}

/// A test in a program's table, as its source lists it.
struct Entry {
    name: String,
    /// For TEST_ENTRY_NOT_SYSTEMD(name, why): the first string literal of
    /// `why`, which the reason the program prints starts with.
    not_systemd: Option<String>,
}

/// The tests of a C program, from the TEST_ENTRY(name) and
/// TEST_ENTRY_NOT_SYSTEMD(name, why) lines of its source, in their order.
fn entries(source: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(source).unwrap();
    let mut entries = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        at += line.len();
        let line = line.trim_start();
        let (args, skips) = if let Some(args) = line.strip_prefix("TEST_ENTRY_NOT_SYSTEMD(") {
            (args, true)
        } else if let Some(args) = line.strip_prefix("TEST_ENTRY(") {
            (args, false)
        } else {
            continue;
        };
        let end = args
            .find([',', ')'])
            .unwrap_or_else(|| panic!("{}: {line}", source.display()));
        let name = args[..end].trim().to_string();
        let not_systemd = skips.then(|| {
            // the reason may start on a later line
            let after = &text[at - args.len() + end..];
            let open = after.find('"').expect("a reason in quotes");
            let literal = &after[open + 1..];
            literal[..literal.find('"').expect("a closing quote")].to_string()
        });
        entries.push(Entry { name, not_systemd });
    }
    assert!(!entries.is_empty(), "{}: no TEST_ENTRY", source.display());
    entries
}

/// Runs a C test program against systemd: it must pass as against
/// libbarrier, and skip exactly the tests that its source marks with
/// TEST_ENTRY_NOT_SYSTEMD, in their order, each with the reason given
/// there (if every test is so marked, it runs none).
/// Without libsystemd-shared it says so and is a skip, except in CI.
fn run_against_systemd(name: &str) {
    let source = source_of(name);
    let entries = entries(&source);
    let exe = build_program(name, Link::Systemd);
    let out = Command::new(&exe).output().expect("running the C program");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    if stdout.starts_with("skipped: no libsystemd-shared") {
        assert!(
            reference_optional(),
            "{}: no libsystemd-shared, and CI is set",
            exe.display()
        );
        assert_eq!(out.status.code(), Some(77), "{}", exe.display());
        return;
    }
    if out.status.code() == Some(99) {
        panic!(
            "{}: systemd's library is required here (CI is set) and cannot be loaded",
            exe.display()
        );
    }
    let mut seen = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("skip ") {
            let (test, reason) = rest
                .split_once(": skipped against systemd: ")
                .unwrap_or_else(|| panic!("{}: a skip without a reason: {line}", exe.display()));
            assert!(!reason.trim().is_empty(), "{}: {line}", exe.display());
            seen.push((test, reason));
        }
    }
    let marked: Vec<_> = entries
        .iter()
        .filter_map(|e| Some((e.name.as_str(), e.not_systemd.as_deref()?)))
        .collect();
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        marked.iter().map(|m| m.0).collect::<Vec<_>>(),
        "{}: the tests skipped against systemd, and those {} marks",
        exe.display(),
        source.display()
    );
    for ((test, reason), (_, why)) in seen.iter().zip(&marked) {
        assert!(
            reason.starts_with(why),
            "{}: {test} says it is skipped because \"{reason}\", its source \"{why}...\"",
            exe.display()
        );
    }
    let runs_none = entries.iter().all(|e| e.not_systemd.is_some());
    check_summary(&exe, &stdout, &out.status, runs_none);
}

/// Checks the summary line "N passed, 0 failed" (with N > 0 unless
/// `may_run_none`) and the exit status.
fn check_summary(exe: &Path, stdout: &str, status: &ExitStatus, may_run_none: bool) {
    let summary = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = summary
        .strip_suffix(" failed")
        .and_then(|s| s.split_once(" passed, "))
        .unwrap_or_else(|| panic!("{}: no summary line in its output", exe.display()));
    assert_eq!(failed, "0", "{}: {summary}", exe.display());
    assert!(
        may_run_none || passed.parse::<u32>().unwrap() > 0,
        "{}: ran no test",
        exe.display()
    );
    assert!(status.success(), "{} exited with {}", exe.display(), status);
}

macro_rules! c_programs {
    ($($name:ident => $file:literal,)*) => {
        mod static_lib {
            $(#[test] fn $name() { super::run_program($file, super::Link::Static) })*
        }
        mod shared_lib {
            $(#[test] fn $name() { super::run_program($file, super::Link::Shared) })*
        }
    };
}

/// The event-loop programs (extensions: not run against systemd), each
/// with its pkg-config package.
macro_rules! loop_programs {
    ($($name:ident => $package:literal,)*) => {
        mod loops {
            mod static_lib {
                $(#[test] fn $name() {
                    super::super::run_loop_program(stringify!($name), $package, super::super::Link::Static)
                })*
            }
            mod shared_lib {
                $(#[test] fn $name() {
                    super::super::run_loop_program(stringify!($name), $package, super::super::Link::Shared)
                })*
            }
        }
    };
}

c_programs! {
    scenarios => "scenarios",
    semantics => "semantics",
    lifecycle => "lifecycle",
    pairs => "pairs",
    pollfds => "pollfds",
    exec => "exec",
    noalloc => "noalloc",
    misuse => "misuse",
    loop_epoll => "loop-epoll",
    // Barrier groups
    group_args => "group-args",
    group_rounds => "group-rounds",
    group_timeouts => "group-timeouts",
    group_abort => "group-abort",
    group_exit => "group-exit",
    group_kill => "group-kill",
    group_stop => "group-stop",
    group_loop => "group-loop",
    group_exec => "group-exec",
    group_fds => "group-fds",
}

loop_programs! {
    sdevent => "libsystemd",
    glib => "glib-2.0",
    uv => "libuv",
}

/// The programs of the two-party API, against systemd's barrier; each
/// skips there the tests its source marks with TEST_ENTRY_NOT_SYSTEMD,
/// printing why. Not here: noalloc (both APIs) and the loop-* programs
/// (extensions only).
mod systemd {
    #[test]
    fn scenarios() {
        super::run_against_systemd("scenarios");
    }

    #[test]
    fn semantics() {
        super::run_against_systemd("semantics");
    }

    #[test]
    fn lifecycle() {
        super::run_against_systemd("lifecycle");
    }

    /// All misuse that systemd asserts on, or extensions: it runs no test
    /// there, but says for each why.
    #[test]
    fn misuse() {
        super::run_against_systemd("misuse");
    }

    /// Extensions only (barrier_create_pair, barrier_get_pollfds, the
    /// hand-off across execve()): each runs no test there, but says for
    /// each why.
    #[test]
    fn pairs() {
        super::run_against_systemd("pairs");
    }

    #[test]
    fn pollfds() {
        super::run_against_systemd("pollfds");
    }

    #[test]
    fn exec() {
        super::run_against_systemd("exec");
    }
}

/// The header also compiles warning-free as C++17, inside `extern "C"`.
#[test]
fn header_compiles_as_cxx17() {
    let obj = out_dir().join("header-cxx.o");
    std::fs::create_dir_all(out_dir()).unwrap();
    let status = strict_cxx()
        .arg("-c")
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("c-tests/header-cxx.cc"))
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("running the C++ compiler");
    assert!(status.success(), "barrier.h does not compile as C++17");
}

/// examples/loop-*.c compile as strict C11 against the shared library and
/// run: three rounds through the loop, then the child's exit.
mod loop_examples {
    use super::*;

    fn run_example(name: &str, package: &str) {
        let flags = match package {
            "" => Vec::new(),
            _ => match loop_flags(package) {
                Some(flags) => flags,
                None => return,
            },
        };
        let bin_dir = out_dir().join("bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        let exe = bin_dir.join(format!("example-{name}"));
        let lib = library_dir();
        let status = strict_c()
            .arg("-I")
            .arg(root().join("include"))
            .arg(root().join(format!("examples/{name}.c")))
            .arg("-o")
            .arg(&exe)
            .arg("-L")
            .arg(lib)
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-lbarrier")
            .args(&flags)
            .status()
            .expect("running the C compiler");
        assert!(status.success(), "compiling examples/{name}.c failed");
        let out = Command::new(&exe)
            .env("LD_LIBRARY_PATH", lib)
            .output()
            .expect("running the example");
        let stdout = String::from_utf8_lossy(&out.stdout);
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{name} exited with {}", out.status);
        assert!(stdout.contains("round 3 synced"), "{name}: {stdout}");
        assert!(!stdout.contains("round 4"), "{name}: {stdout}");
    }

    #[test]
    fn sdevent() {
        run_example("loop-sdevent", "libsystemd");
    }

    #[test]
    fn glib() {
        run_example("loop-glib", "glib-2.0");
    }

    #[test]
    fn uv() {
        run_example("loop-uv", "libuv");
    }

    #[test]
    fn epoll() {
        run_example("loop-epoll", "");
    }
}
