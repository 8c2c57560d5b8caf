//! A privileged program takes no barrier from its environment: a
//! set-user-ID-root copy of this test binary, started by an unprivileged
//! user with a valid BARRIER_FDS and BARRIER_GROUP in its environment,
//! must refuse both as unset, while the same copy without the
//! set-user-ID bit takes both over. Needs root (to make the copy); where
//! the environment variable CI is set, not being root is a failure.

use barrier_core::{Barrier, Error, Group, Misuse};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Set in the environment of the copy, which then runs `copy_imports`.
const ROLE: &str = "BARRIER_TEST_SECURE_ENV";

/// What the copy answers for `from_env`, one word per kind.
fn answer<T>(r: Result<T, Error>) -> &'static str {
    match r {
        Ok(_) => "taken",
        Err(Error::Misuse(Misuse::Unset)) => "unset",
        Err(_) => "other",
    }
}

/// Run as the copy: tries both imports and prints what each answered.
#[test]
fn copy_imports() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    // SAFETY: this process runs this one test on one thread, and nothing
    // else in it owns the descriptors the variables name.
    let pair = answer(unsafe { Barrier::from_env() });
    // SAFETY: as above.
    let group = answer(unsafe { Group::from_env() });
    print!("pair={pair} group={group} ");
}

/// The copy of this test binary in a directory every user can read, with
/// or without the set-user-ID bit.
fn copy(setuid: bool) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("secure-env");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join(if setuid { "setuid" } else { "plain" });
    std::fs::copy(std::env::current_exe().unwrap(), &path).unwrap();
    let mode = if setuid { 0o4755 } else { 0o755 };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Starts `exe` as user and group nobody (65534) through setpriv, handing
/// it one end of a fresh barrier (`group` false) or member 1 of a fresh
/// group of two (`group` true) in its environment; returns what it
/// printed.
fn run_as_nobody(exe: &Path, group: bool) -> String {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(exe)
        .args([
            "--exact",
            "copy_imports",
            "--test-threads=1",
            "--quiet",
            "--nocapture",
        ])
        .env(ROLE, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = if group {
        Group::new(2).unwrap().spawn(1, &mut cmd)
    } else {
        Barrier::new().unwrap().spawn(&mut cmd)
    };
    let out = child.expect("spawn").wait_with_output().expect("wait");
    assert!(out.status.success(), "the copy failed: {:?}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_set_user_id_program_takes_no_barrier_from_its_environment() {
    if std::env::var_os(ROLE).is_some() {
        return;
    }
    // SAFETY: geteuid takes nothing.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            "not root, and CI is set: the set-user-ID copy cannot be made"
        );
        println!("skipped: not root, so no set-user-ID-root copy can be made");
        return;
    }
    let (plain, setuid) = (copy(false), copy(true));
    let pair = run_as_nobody(&plain, false);
    assert!(pair.contains("pair=taken"), "plain copy, pair: {pair}");
    let group = run_as_nobody(&plain, true);
    assert!(group.contains("group=taken"), "plain copy, group: {group}");
    let pair = run_as_nobody(&setuid, false);
    assert!(
        pair.contains("pair=unset"),
        "set-user-ID copy, pair: {pair}"
    );
    let group = run_as_nobody(&setuid, true);
    assert!(
        group.contains("group=unset"),
        "set-user-ID copy, group: {group}"
    );
}
