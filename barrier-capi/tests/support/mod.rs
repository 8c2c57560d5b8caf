//! What the footprint and benchmark tests share with the C suite's way of
//! working: the release library built once into `<target>/c-suite`, and
//! the C compiler the `cc` crate picks for this target.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The C suite's target directory (tests/c_suite.rs): the release library
/// built there is the one measured, and sharing it avoids a second build.
pub fn out_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("c-suite")
}

/// Builds the release library once per test binary; returns its directory.
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
        out_dir().join("release")
    })
}

pub fn compiler() -> Command {
    cc::Build::new()
        .cargo_metadata(false)
        .target(env!("BARRIER_BUILD_TARGET"))
        .host(env!("BARRIER_BUILD_HOST"))
        .opt_level(2)
        .debug(false)
        .get_compiler()
        .to_command()
}
