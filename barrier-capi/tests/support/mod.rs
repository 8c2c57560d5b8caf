//! What the tests that build C against the shipped library share: the
//! release library built once into `<target>/c-suite`, and the C compiler
//! the `cc` crate picks for this target.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where these tests build: a target directory of their own, so the nested
/// cargo never waits on the one running the tests.
pub fn out_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("c-suite")
}

/// Builds the release library (release profile, panic=abort, exactly as
/// shipped) once per test binary; returns its directory.
pub fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args([
                "build",
                "--release",
                "--locked",
                "-p",
                "barrier-capi",
                "--target-dir",
            ])
            .arg(out_dir())
            .status()
            .expect("running cargo");
        assert!(status.success(), "building the release library failed");
        let dir = out_dir().join("release");
        for lib in ["libbarrier.a", "libbarrier.so"] {
            assert!(dir.join(lib).exists(), "{lib} was not built");
        }
        dir
    })
}

fn cc_command(cpp: bool) -> Command {
    cc::Build::new()
        .cargo_metadata(false)
        .cpp(cpp)
        .target(env!("BARRIER_BUILD_TARGET"))
        .host(env!("BARRIER_BUILD_HOST"))
        .opt_level(2)
        .debug(false)
        .get_compiler()
        .to_command()
}

/// The C compiler, with no flags of ours.
pub fn compiler() -> Command {
    cc_command(false)
}

/// The C compiler set to strict C11 with every warning an error, as every
/// C program of the project is built.
pub fn strict_c() -> Command {
    let mut cmd = compiler();
    cmd.args([
        "-std=c11",
        "-pthread",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
    ]);
    cmd
}

/// The C++ compiler set to strict C++17.
pub fn strict_cxx() -> Command {
    let mut cmd = cc_command(true);
    cmd.args(["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]);
    cmd
}
