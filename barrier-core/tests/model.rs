//! Model-based test of the Rust API: random scripts of operations for both
//! sides of one barrier, run across two forked processes in lock step, with
//! every answer, every state and the open descriptors compared with a
//! reference model of the contract after every step. The harness and the
//! model are in `lockstep/`; `MODEL_CASES` (default 10000) and
//! `MODEL_SEED` repeat or widen a run.

mod common;
mod lockstep;

use barrier_core::{Barrier, Role};
use lockstep::{Backend, Kind, Outcome};
use std::os::fd::RawFd;
use std::time::Duration;

/// libbarrier through its Rust API, bounded waits included.
struct RustApi;

impl Backend for RustApi {
    type End = Barrier;

    fn name(&self) -> &str {
        "libbarrier (Rust API)"
    }

    fn bounded(&self) -> bool {
        true
    }

    fn create(&self) -> Barrier {
        Barrier::new().expect("creating the barrier")
    }

    fn set_role(&self, end: &mut Barrier, side: usize) {
        end.set_role([Role::Parent, Role::Child][side]);
    }

    fn place(&self, end: &mut Barrier) -> Outcome {
        Outcome::of(end.place())
    }

    fn abort(&self, end: &mut Barrier) -> Outcome {
        Outcome::of(end.abort())
    }

    fn wait(&self, b: &mut Barrier, kind: Kind, bound: Option<Duration>) -> Outcome {
        Outcome::of(match (kind, bound) {
            (Kind::WaitNext, None) => b.wait_next(),
            (Kind::WaitAbortion, None) => b.wait_abortion(),
            (Kind::SyncNext, None) => b.sync_next(),
            (Kind::Sync, None) => b.sync(),
            (Kind::PlaceAndSync, None) => b.place_and_sync(),
            (Kind::WaitNext, Some(t)) => b.wait_next_timeout(t),
            (Kind::WaitAbortion, Some(t)) => b.wait_abortion_timeout(t),
            (Kind::SyncNext, Some(t)) => b.sync_next_timeout(t),
            (Kind::Sync, Some(t)) => b.sync_timeout(t),
            (Kind::PlaceAndSync, Some(t)) => b.place().and_then(|()| b.sync_timeout(t)),
        })
    }

    fn raw(&self, end: &Barrier) -> (i64, [RawFd; 4]) {
        let r = end.as_raw();
        (r.barriers, [r.me, r.them, r.pipe[0], r.pipe[1]])
    }

    fn destroy(&self, end: Barrier) {
        drop(end);
    }
}

#[test]
fn scripts_match_the_model() {
    lockstep::run_scripts("model test", 10_000, || lockstep::start_all(&[RustApi]));
}
