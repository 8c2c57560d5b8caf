//! Builds the shipped libbarrier.a and libbarrier.so (release, panic=abort,
//! exactly as installed) and runs every C test program of c-tests/ against
//! each. The programs are found by their file names, c-tests/test-*.c and
//! c-tests/DIR/test-*.c, and built as their directory says:
//!
//! - barrier/: the two-party API, with lib/harness.c. These also run
//!   against systemd's own barrier (`systemd::barrier`), through
//!   c-tests/reference/shim.c, which loads it from libsystemd-shared at run
//!   time; there each skips the tests its source marks with
//!   TEST_ENTRY_NOT_SYSTEMD, and prints why.
//! - group/: barrier groups, with lib/harness.c and lib/group-harness.c.
//! - loop/: event loops, test-loop-LOOP.c built with LOOP's library.
//! - c-tests/ itself: what covers the whole library (test-noalloc.c).
//!
//! Each test runs the programs of one directory against one library, one
//! after the other, and names every program that failed. To run only some
//! programs: `C_SUITE_PROGRAMS=test-scenarios,test-group-kill cargo test
//! -p barrier-capi --test c_suite`.
//!
//! The C compiler is the one the `cc` crate picks for this target; the
//! programs must compile warning-free as strict C11.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;

use support::{library_dir, out_dir, root, strict_c, strict_cxx};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Link {
    Static,
    Shared,
    /// No libbarrier: the names of barrier.h come from the shim, which
    /// forwards them to systemd's library.
    Systemd,
}

/// What a program tests, from the directory it is in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// c-tests/barrier/
    Barrier,
    /// c-tests/group/
    Group,
    /// c-tests/loop/
    Loop,
    /// c-tests/ itself
    Library,
}

struct Program {
    /// The file name without .c, e.g. "test-scenarios".
    name: String,
    source: PathBuf,
}

/// Every C test program of `kind`, by name; those of C_SUITE_PROGRAMS
/// only, where it is set.
fn programs(kind: Kind) -> Vec<Program> {
    let tests = root().join("c-tests");
    let mut all = Vec::new();
    let mut dirs = vec![(tests.clone(), Kind::Library)];
    for entry in std::fs::read_dir(&tests).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let kind = match path.file_name().unwrap().to_str().unwrap() {
                "barrier" => Kind::Barrier,
                "group" => Kind::Group,
                "loop" => Kind::Loop,
                // the harnesses, the reference, the fault injection
                _ => {
                    assert!(
                        sources(&path).is_empty(),
                        "{}: test programs in a directory c_suite.rs does not build",
                        path.display()
                    );
                    continue;
                }
            };
            dirs.push((path, kind));
        }
    }
    for (dir, dir_kind) in dirs {
        for source in sources(&dir) {
            let name = source.file_stem().unwrap().to_str().unwrap().to_string();
            assert!(
                all.iter().all(|(p, _): &(Program, Kind)| p.name != name),
                "two programs named {name}"
            );
            all.push((Program { name, source }, dir_kind));
        }
    }
    let only = std::env::var("C_SUITE_PROGRAMS").ok();
    let selected: Vec<Program> = all
        .into_iter()
        .filter(|(p, k)| {
            *k == kind
                && only
                    .as_deref()
                    .is_none_or(|only| only.split([',', ' ']).any(|n| n == p.name))
        })
        .map(|(p, _)| p)
        .collect();
    assert!(
        only.is_some() || !selected.is_empty(),
        "no {kind:?} programs found in {}",
        tests.display()
    );
    selected
}

/// The test-*.c files in `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("test-") && name.ends_with(".c")
        })
        .collect();
    found.sort();
    found
}

/// Compiles a program against the library (or the shim) with its
/// harnesses, and `extra` (libraries, from pkg-config) after the sources.
fn build(program: &Program, kind: Kind, link: Link, extra: &[String]) -> Result<PathBuf, String> {
    let bin_dir = out_dir().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let suffix = match link {
        Link::Static => "static",
        Link::Shared => "shared",
        Link::Systemd => "systemd",
    };
    let exe = bin_dir.join(format!("{}-{suffix}", program.name));
    let tests = root().join("c-tests");
    let mut cmd = strict_c();
    cmd.arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(tests.join("lib"))
        .arg(&program.source)
        .arg(tests.join("lib/harness.c"))
        .arg("-o")
        .arg(&exe);
    if kind == Kind::Group {
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
    if !status.success() {
        return Err(format!("compiling {} ({suffix}) failed", program.name));
    }
    Ok(exe)
}

/// Runs a built program and prints its output.
fn run(exe: &Path) -> Output {
    // cargo points LD_LIBRARY_PATH at its own target directory, which would
    // win over the rpath and load a library built for the test profile.
    let out = Command::new(exe)
        .env("LD_LIBRARY_PATH", library_dir())
        .output()
        .expect("running the C program");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Builds and runs a program against libbarrier; it must exit 0 after
/// printing "N passed, 0 failed" with N > 0.
fn run_program(program: &Program, kind: Kind, link: Link) -> Result<(), String> {
    let extra = match kind {
        Kind::Loop => match loop_flags(&program.name)? {
            Some(flags) => flags,
            None => return Ok(()),
        },
        _ => Vec::new(),
    };
    let exe = build(program, kind, link, &extra)?;
    let out = run(&exe);
    check_summary(&exe, &out, false)
}

/// Runs every program of `kind` against `link`; fails naming each program
/// that failed.
fn run_all(kind: Kind, link: Link) {
    let mut failed = Vec::new();
    for program in programs(kind) {
        let result = match link {
            Link::Systemd => run_against_systemd(&program),
            _ => run_program(&program, kind, link),
        };
        match result {
            Ok(()) => println!("c_suite: {} ({link:?}) passed", program.name),
            Err(why) => {
                println!("c_suite: {} ({link:?}) FAILED: {why}", program.name);
                failed.push(format!("{}: {why}", program.name));
            }
        }
    }
    assert!(failed.is_empty(), "failed:\n{}", failed.join("\n"));
}

/// The pkg-config package of an event loop's library ("" for none).
fn loop_package(name: &str) -> Result<&'static str, String> {
    match name.strip_prefix("test-loop-") {
        Some("sdevent") => Ok("libsystemd"),
        Some("glib") => Ok("glib-2.0"),
        Some("uv") => Ok("libuv"),
        Some("epoll") => Ok(""),
        _ => Err(format!(
            "{name}: no pkg-config package known for this loop (loop_package in c_suite.rs)"
        )),
    }
}

/// `pkg-config --cflags --libs` of a loop program's library; None (a
/// printed skip) if it is not installed, except in CI, where that fails.
fn loop_flags(name: &str) -> Result<Option<Vec<String>>, String> {
    match loop_package(name)? {
        "" => Ok(Some(Vec::new())),
        package => Ok(pkg_config(package)),
    }
}

/// `pkg-config --cflags --libs` of a package; None (a printed skip) if it
/// is not installed, except in CI, where that fails.
fn pkg_config(package: &str) -> Option<Vec<String>> {
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

/// Runs a program of the two-party API against systemd: it must pass as
/// against libbarrier, and skip exactly the tests that its source marks
/// with TEST_ENTRY_NOT_SYSTEMD, in their order, each with the reason given
/// there (if every test is so marked, it runs none).
/// Without libsystemd-shared it says so and is a skip, except in CI.
fn run_against_systemd(program: &Program) -> Result<(), String> {
    let entries = entries(&program.source);
    let exe = build(program, Kind::Barrier, Link::Systemd, &[])?;
    let out = run(&exe);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.starts_with("skipped: no libsystemd-shared") {
        if !reference_optional() {
            return Err("no libsystemd-shared, and CI is set".into());
        }
        if out.status.code() != Some(77) {
            return Err(format!("a skip that exited with {}", out.status));
        }
        return Ok(());
    }
    if out.status.code() == Some(99) {
        return Err("systemd's library is required here (CI is set) and cannot be loaded".into());
    }
    let mut seen = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("skip ") {
            match rest.split_once(": skipped against systemd: ") {
                Some((test, reason)) if !reason.trim().is_empty() => seen.push((test, reason)),
                _ => return Err(format!("a skip without a reason: {line}")),
            }
        }
    }
    let marked: Vec<_> = entries
        .iter()
        .filter_map(|e| Some((e.name.as_str(), e.not_systemd.as_deref()?)))
        .collect();
    let seen_names: Vec<_> = seen.iter().map(|s| s.0).collect();
    let marked_names: Vec<_> = marked.iter().map(|m| m.0).collect();
    if seen_names != marked_names {
        return Err(format!(
            "skipped against systemd: {seen_names:?}; marked in {}: {marked_names:?}",
            program.source.display()
        ));
    }
    for ((test, reason), (_, why)) in seen.iter().zip(&marked) {
        if !reason.starts_with(why) {
            return Err(format!(
                "{test} says it is skipped because \"{reason}\", its source \"{why}...\""
            ));
        }
    }
    let runs_none = entries.iter().all(|e| e.not_systemd.is_some());
    check_summary(&exe, &out, runs_none)
}

/// Checks the summary line "N passed, 0 failed" (with N > 0 unless
/// `may_run_none`) and the exit status.
fn check_summary(exe: &Path, out: &Output, may_run_none: bool) -> Result<(), String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout.lines().last().unwrap_or_default();
    let Some((passed, failed)) = summary
        .strip_suffix(" failed")
        .and_then(|s| s.split_once(" passed, "))
    else {
        return Err(format!("{}: no summary line in its output", exe.display()));
    };
    if failed != "0" || !out.status.success() {
        return Err(format!("{}: {summary} ({})", exe.display(), out.status));
    }
    if !may_run_none && passed.parse::<u32>().unwrap_or(0) == 0 {
        return Err(format!("{}: ran no test", exe.display()));
    }
    Ok(())
}

/// One test per directory (`Kind`) and library (`Link`); systemd's
/// barrier has the two-party API only.
macro_rules! tests {
    ($($module:ident => $link:ident: $($test:ident => $kind:ident),*;)*) => {$(
        mod $module {
            $(#[test]
            fn $test() {
                super::run_all(super::Kind::$kind, super::Link::$link);
            })*
        }
    )*};
}

tests! {
    static_lib => Static: barrier => Barrier, group => Group, loops => Loop, library => Library;
    shared_lib => Shared: barrier => Barrier, group => Group, loops => Loop, library => Library;
    systemd => Systemd: barrier => Barrier;
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
            _ => match pkg_config(package) {
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
