//! Builds the shipped libbarrier.a and libbarrier.so (release, panic=abort,
//! exactly as installed) and runs every C program of c-tests/ against each.
//!
//! The C compiler is the one the `cc` crate picks for this target; the
//! programs must compile warning-free as strict C11.

use std::path::PathBuf;
use std::process::Command;

mod support;

use support::{library_dir, out_dir, root, strict_c, strict_cxx};

#[derive(Clone, Copy)]
enum Link {
    Static,
    Shared,
}

/// Compiles c-tests/test-NAME.c with the harness against the library.
fn build_program(name: &str, link: Link) -> PathBuf {
    let lib = library_dir();
    let bin_dir = out_dir().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let suffix = match link {
        Link::Static => "static",
        Link::Shared => "shared",
    };
    let exe = bin_dir.join(format!("test-{name}-{suffix}"));
    let tests = root().join("c-tests");
    let mut cmd = strict_c();
    cmd.arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(&tests)
        .arg(tests.join(format!("test-{name}.c")))
        .arg(tests.join("harness.c"))
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Static => {
            cmd.arg(lib.join("libbarrier.a"));
        }
        Link::Shared => {
            cmd.arg("-L")
                .arg(lib)
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .arg("-lbarrier");
        }
    }
    let status = cmd.status().expect("running the C compiler");
    assert!(status.success(), "compiling {name} ({suffix}) failed");
    exe
}

/// Runs a C test program; it must exit 0 after printing "N passed, 0 failed".
fn run_program(name: &str, link: Link) {
    let exe = build_program(name, link);
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
    let summary = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = summary
        .strip_suffix(" failed")
        .and_then(|s| s.split_once(" passed, "))
        .unwrap_or_else(|| panic!("{}: no summary line in its output", exe.display()));
    assert_eq!(failed, "0", "{}: {summary}", exe.display());
    assert!(
        passed.parse::<u32>().unwrap() > 0,
        "{}: ran no test",
        exe.display()
    );
    assert!(
        out.status.success(),
        "{} exited with {}",
        exe.display(),
        out.status
    );
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

c_programs! {
    scenarios => "scenarios",
    semantics => "semantics",
    lifecycle => "lifecycle",
    pairs => "pairs",
    pollfds => "pollfds",
    exec => "exec",
    noalloc => "noalloc",
    misuse => "misuse",
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
