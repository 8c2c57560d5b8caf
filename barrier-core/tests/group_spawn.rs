//! Group members handed to spawned programs: this test binary re-runs
//! itself as each member, selecting the `spawned_member` test.

use barrier_core::{Error, Group, Misuse, RawGroup};
use std::process::{Command, Stdio};

const ROLE: &str = "BARRIER_TEST_GROUP_MEMBER";

/// A spawned member: syncs once; told to stay, it then waits for a second
/// round, which rank 2 leaves before. Run normally it has nothing to do
/// and passes.
#[test]
fn spawned_member() {
    let Some(role) = std::env::var_os(ROLE) else {
        return;
    };
    // SAFETY: alarm takes an integer and only arms a timer (a hang guard).
    unsafe { libc::alarm(300) };
    // SAFETY: this process runs this one test on one thread, and nothing
    // else in it owns the descriptors the variable names.
    let mut g = unsafe { Group::from_env() }.expect("import");
    assert!(
        std::env::var_os(RawGroup::ENV_VAR).is_none(),
        "variable left behind"
    );
    assert_eq!(g.size(), 3);
    let rank = g.rank().expect("joined");
    assert!(rank == 1 || rank == 2);
    let [p] = g.pollfds().unwrap();
    // SAFETY: F_GETFD only queries.
    assert_ne!(
        unsafe { libc::fcntl(p.fd, libc::F_GETFD) } & libc::FD_CLOEXEC,
        0
    );
    g.place_and_sync().unwrap();
    if role == "stay" {
        assert_eq!(g.place_and_sync(), Err(Error::Aborted));
        assert_eq!(g.aborted_by(), Some(2));
    }
}

fn spawn(group: &Group, rank: usize, role: &str) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "spawned_member", "--test-threads=1", "--quiet"])
        .env(ROLE, role);
    // Its own test summary would read like this run's; failures still show
    // on stderr.
    cmd.stdout(Stdio::null());
    group.spawn(rank, &mut cmd).unwrap()
}

#[test]
fn spawn_hands_members_to_programs() {
    if std::env::var_os(ROLE).is_some() {
        return;
    }
    // A hang guard only.
    // SAFETY: alarm takes an integer and only arms a timer.
    unsafe { libc::alarm(300) };
    let mut g = Group::new(3).unwrap();
    let mut stays = spawn(&g, 1, "stay");
    let mut leaves = spawn(&g, 2, "leave");
    g.join(0).unwrap();
    g.place_and_sync().unwrap();
    // Rank 2 leaves after the first round: the second needs it.
    g.place().unwrap();
    assert_eq!(g.sync(), Err(Error::Aborted));
    assert_eq!(g.aborted_by(), Some(2));
    assert!(leaves.wait().unwrap().success(), "rank 2 failed");
    // Rank 1 waits for the second round too, and sees the same exit.
    assert!(stays.wait().unwrap().success(), "rank 1 failed");
}

#[test]
fn a_spawned_rank_is_taken() {
    let g = Group::new(3).unwrap();
    // A program that cannot start gives its rank back.
    let missing = g.spawn(1, &mut Command::new("/nonexistent/program"));
    assert_eq!(missing.unwrap_err(), Error::Os(libc::ENOENT));
    let mut child = g.spawn(1, &mut Command::new("true")).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        g.spawn(1, &mut Command::new("true")).unwrap_err(),
        Error::Misuse(Misuse::RankTaken)
    );
    let mut g = g;
    assert_eq!(g.join(1), Err(Error::Misuse(Misuse::RankTaken)));
    g.join(0).unwrap();
}

#[test]
fn spawn_needs_an_unjoined_handle_and_a_rank() {
    let mut g = Group::new(2).unwrap();
    let err = g.spawn(2, &mut Command::new("true")).unwrap_err();
    assert_eq!(err, Error::Misuse(Misuse::Rank));
    g.join(0).unwrap();
    let err = g.spawn(1, &mut Command::new("true")).unwrap_err();
    assert_eq!(err, Error::Misuse(Misuse::NotFresh));
}

#[test]
fn from_env_without_the_variable() {
    if std::env::var_os(RawGroup::ENV_VAR).is_none() {
        // SAFETY: with the variable unset, nothing is adopted and the
        // environment is only read.
        assert_eq!(
            unsafe { Group::from_env() }.unwrap_err(),
            Error::Misuse(Misuse::Unset)
        );
    }
}
