//! Fault injection: builds the injector (c-tests/fault/inject.c, an
//! LD_PRELOAD library that makes the n-th call of a syscall fail) and the
//! drivers (c-tests/fault/barrier-driver.c for the two-party barrier,
//! group-driver.c for barrier groups), and runs each against the release
//! libbarrier.a and libbarrier.so. A driver tries every fault at every
//! position its call is made in; see each driver for what each case must
//! end with.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod support;

use support::{library_dir, out_dir, root};

/// The C compiler for the injector and the driver.
fn compiler() -> Command {
    support::strict_c()
}

fn fault_dir() -> PathBuf {
    let dir = out_dir().join("fault");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn injector() -> &'static Path {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| {
        let so = fault_dir().join("inject.so");
        let status = compiler()
            .args(["-fPIC", "-shared"])
            .arg(root().join("c-tests/fault/inject.c"))
            .arg("-o")
            .arg(&so)
            .arg("-ldl")
            .status()
            .expect("running the C compiler");
        assert!(status.success(), "compiling inject.c failed");
        so
    })
}

/// Builds c-tests/fault/`name`.c, with the drivers' common part
/// (driver-common.c), against the shared or the static library.
fn driver(name: &str, shared: bool) -> PathBuf {
    let lib = library_dir();
    let exe = fault_dir().join(format!(
        "{name}-{}",
        if shared { "shared" } else { "static" }
    ));
    let mut cmd = compiler();
    cmd.arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("c-tests/fault"))
        .arg("-I")
        .arg(root().join("c-tests/lib"))
        .arg(root().join(format!("c-tests/fault/{name}.c")))
        .arg(root().join("c-tests/fault/driver-common.c"))
        .arg("-o")
        .arg(&exe);
    if shared {
        cmd.arg("-L")
            .arg(lib)
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-lbarrier");
    } else {
        cmd.arg(lib.join("libbarrier.a"));
    }
    cmd.arg("-ldl");
    assert!(
        cmd.status().expect("running the C compiler").success(),
        "compiling {name}.c failed"
    );
    exe
}

/// Runs a driver; returns its output, once its summary says that no case
/// failed.
fn run_driver(name: &str, shared: bool) -> String {
    let exe = driver(name, shared);
    let out = Command::new(&exe)
        .env("LD_PRELOAD", injector())
        .env("LD_LIBRARY_PATH", library_dir())
        .output()
        .expect("running the fault driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.ends_with(" passed, 0 failed") && out.status.success(),
        "{}: {summary} (exit {})",
        exe.display(),
        out.status
    );
    stdout.into_owned()
}

/// How many positions the driver's output lists for `call` in `scenario`,
/// over every fault tried there.
fn positions(stdout: &str, scenario: &str, call: &str) -> u32 {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(scenario)?.strip_prefix(": "))
        .filter(|l| l.starts_with(&format!("{call} ")))
        .map(|l| {
            l.rsplit(": ")
                .next()
                .and_then(|n| n.strip_suffix(" positions"))
                .and_then(|n| n.parse::<u32>().ok())
                .expect("a positions line")
        })
        .sum()
}

fn run(shared: bool) {
    let stdout = run_driver("barrier-driver", shared);
    let positions = |scenario: &str, call: &str| positions(&stdout, scenario, call);
    // Every call the library makes in a scenario was made to fail at least
    // once there: the injector really reached the library.
    for scenario in ["fork-as-parent", "fork-as-child"] {
        for call in ["eventfd", "pipe2", "ppoll", "read", "write", "close"] {
            assert!(
                positions(scenario, call) > 0,
                "{scenario}: no fault reached {call}"
            );
        }
    }
    for call in ["eventfd", "pipe2", "fcntl", "close"] {
        assert!(positions("pair", call) > 0, "pair: no fault reached {call}");
    }
}

#[test]
fn every_fault_at_every_position_static() {
    run(false);
}

#[test]
fn every_fault_at_every_position_shared() {
    run(true);
}

/// The group driver: every call a group call makes was made to fail at
/// least once, in the scenario that makes it. (No group call reads: a
/// doorbell is watched edge-triggered and never read.)
fn run_group(shared: bool) {
    let stdout = run_driver("group-driver", shared);
    let positions = |scenario: &str, call: &str| positions(&stdout, scenario, call);
    for call in [
        "memfd_create",
        "ftruncate",
        "fcntl",
        "mmap",
        "munmap",
        "eventfd",
        "pipe2",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "write",
        "close",
    ] {
        assert!(
            positions("group", call) > 0,
            "group: no fault reached {call}"
        );
    }
    for call in [
        "fcntl", "mmap", "munmap", "fstat", "readlink", "write", "close",
    ] {
        assert!(
            positions("import", call) > 0,
            "import: no fault reached {call}"
        );
    }
}

#[test]
fn group_every_fault_at_every_position_static() {
    run_group(false);
}

#[test]
fn group_every_fault_at_every_position_shared() {
    run_group(true);
}
