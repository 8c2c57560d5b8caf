//! A group's pure logic: what one member knows, and what a look at the
//! other members means for a wait. No I/O.
//!
//! The protocol ([`RawGroup`](super::RawGroup)) gathers, for every other member, how many
//! barriers it placed, whether it aborted, and whether its pipe hung up;
//! [`judge`] turns that into a verdict, and [`Knowledge`] records what the
//! member learnt. Keeping this apart lets the tests drive every case
//! directly.

/// The largest number of members (the C header's `BARRIER_GROUP_MAX`): the
/// members' set of exits fits one 64-bit mask.
pub(crate) const MAX: usize = 64;

/// What one member has observed so far. Its own counts live in the shared
/// page; this is the part only it knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Knowledge {
    i_aborted: bool,
    /// The first other member seen to abort or exit.
    aborted_by: Option<u8>,
}

impl Knowledge {
    /// A member that has seen nothing yet.
    pub const NEW: Knowledge = Knowledge {
        i_aborted: false,
        aborted_by: None,
    };

    /// This member aborted, or a syscall of its failed.
    pub const fn i_aborted(self) -> bool {
        self.i_aborted
    }

    /// This member saw another one abort or exit (when it mattered).
    pub const fn they_aborted(self) -> bool {
        self.aborted_by.is_some()
    }

    /// Either of the above.
    pub const fn is_aborted(self) -> bool {
        self.i_aborted() || self.they_aborted()
    }

    /// The rank of the first other member seen to abort or exit.
    pub fn aborted_by(self) -> Option<usize> {
        self.aborted_by.map(usize::from)
    }

    /// Records this member's own abort (or fatal error).
    pub(crate) fn aborted(&mut self) {
        self.i_aborted = true;
    }

    /// Records that member `rank` was seen to abort or exit; only the
    /// first one seen is kept.
    pub(crate) fn saw(&mut self, rank: usize) {
        if self.aborted_by.is_none() {
            // Ranks are below MAX, which fits a u8.
            self.aborted_by = Some(rank as u8);
        }
    }

    /// The two flags as bits (1: this member aborted, 2: another one did),
    /// for the environment variable.
    pub(crate) fn bits(self) -> u8 {
        u8::from(self.i_aborted) | (u8::from(self.they_aborted()) << 1)
    }

    /// The inverse of [`Knowledge::bits`] with the rank; `None` if the two
    /// disagree (bit 2 without a rank, or a rank without it) or a bit is
    /// unknown.
    pub(crate) fn from_parts(bits: u8, aborted_by: Option<usize>) -> Option<Knowledge> {
        let by = match aborted_by {
            Some(r) if r < MAX => Some(r as u8),
            Some(_) => return None,
            None => None,
        };
        if bits > 3 || (bits & 2 != 0) != by.is_some() {
            return None;
        }
        Some(Knowledge {
            i_aborted: bits & 1 != 0,
            aborted_by: by,
        })
    }
}

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Wait {
    /// Every other member placed at least this many barriers.
    Sync(u64),
    /// Some other member aborted or exited.
    Abortion,
}

/// One other member, as one look saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Peer {
    /// Its rank.
    pub(crate) rank: usize,
    /// Barriers it placed.
    pub(crate) placed: u64,
    /// It aborted (or a syscall of its failed).
    pub(crate) aborted: bool,
    /// Its pipe hung up: it exited, crashed or freed its handle. What it
    /// placed before is final.
    pub(crate) gone: bool,
}

/// What a look means for a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Verdict {
    /// A sync is satisfied.
    Done,
    /// The wait ends on this member's abort or exit: the lowest rank among
    /// those that end it.
    Ended(usize),
    /// Nothing decided yet: wait for a doorbell or a hang-up.
    Pending,
}

/// Judges one look at the other members, given in any order.
///
/// An abort ends every wait, even one whose counts are satisfied. An exit
/// ends a sync only when the member placed fewer barriers than it needs
/// (pending beats exit), and ends a wait for an abortion at once.
pub(crate) fn judge(wait: Wait, peers: impl IntoIterator<Item = Peer>) -> Verdict {
    let mut ended: Option<usize> = None;
    let mut short = false;
    for p in peers {
        let needed = match wait {
            Wait::Sync(target) => p.placed < target,
            Wait::Abortion => true,
        };
        if p.aborted || (p.gone && needed) {
            ended = Some(ended.map_or(p.rank, |r| r.min(p.rank)));
        } else if needed && matches!(wait, Wait::Sync(_)) {
            short = true;
        }
    }
    match (ended, short, wait) {
        (Some(rank), _, _) => Verdict::Ended(rank),
        (None, false, Wait::Sync(_)) => Verdict::Done,
        _ => Verdict::Pending,
    }
}

/// Whether a member whose `place` took its count to `count` must ring the
/// doorbell of a member that publishes `waiting`, given that every other
/// member has placed at least `count` (it was the last to get there).
///
/// Only the member that completes a level rings, and only for the members
/// waiting for exactly that level: a member waiting for a lower one was
/// released when that level completed, or saw it complete before it slept.
pub(crate) const fn rings(waiting: u64, count: u64) -> bool {
    waiting == count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(rank: usize, placed: u64, aborted: bool, gone: bool) -> Peer {
        Peer {
            rank,
            placed,
            aborted,
            gone,
        }
    }

    #[test]
    fn sync_waits_for_every_count() {
        let all = [peer(0, 3, false, false), peer(2, 2, false, false)];
        assert_eq!(judge(Wait::Sync(2), all), Verdict::Done);
        assert_eq!(judge(Wait::Sync(3), all), Verdict::Pending);
        assert_eq!(judge(Wait::Sync(0), all), Verdict::Done);
        assert_eq!(judge(Wait::Sync(1), []), Verdict::Done);
    }

    #[test]
    fn abort_supersedes_satisfied_counts() {
        let all = [peer(1, 5, false, false), peer(3, 5, true, false)];
        assert_eq!(judge(Wait::Sync(1), all), Verdict::Ended(3));
        assert_eq!(judge(Wait::Sync(0), all), Verdict::Ended(3));
    }

    #[test]
    fn pending_beats_exit() {
        let all = [peer(1, 2, false, true), peer(2, 3, false, false)];
        assert_eq!(judge(Wait::Sync(2), all), Verdict::Done);
        assert_eq!(judge(Wait::Sync(3), all), Verdict::Ended(1));
        // Gone and short, while another is merely short: the exit decides.
        let all = [peer(4, 0, false, false), peer(5, 0, false, true)];
        assert_eq!(judge(Wait::Sync(1), all), Verdict::Ended(5));
    }

    #[test]
    fn the_lowest_rank_seen_in_one_look() {
        let all = [
            peer(6, 0, true, false),
            peer(2, 0, false, true),
            peer(4, 9, true, true),
        ];
        assert_eq!(judge(Wait::Sync(1), all), Verdict::Ended(2));
        assert_eq!(judge(Wait::Abortion, all), Verdict::Ended(2));
    }

    #[test]
    fn abortion_ends_on_any_abort_or_exit() {
        assert_eq!(
            judge(Wait::Abortion, [peer(1, 9, false, false)]),
            Verdict::Pending
        );
        assert_eq!(
            judge(Wait::Abortion, [peer(1, 9, false, true)]),
            Verdict::Ended(1)
        );
        assert_eq!(
            judge(Wait::Abortion, [peer(1, 0, true, false)]),
            Verdict::Ended(1)
        );
        assert_eq!(judge(Wait::Abortion, []), Verdict::Pending);
    }

    #[test]
    fn knowledge_keeps_the_first() {
        let mut k = Knowledge::NEW;
        assert!(!k.is_aborted() && k.aborted_by().is_none());
        k.saw(5);
        k.saw(1);
        assert_eq!(k.aborted_by(), Some(5));
        assert!(k.they_aborted() && !k.i_aborted());
        k.aborted();
        assert!(k.i_aborted() && k.is_aborted());
        assert_eq!(k.bits(), 3);
    }

    #[test]
    fn knowledge_round_trips_through_its_parts() {
        let mut samples = [Knowledge::NEW; 4];
        samples[1].aborted();
        samples[2].saw(63);
        samples[3].aborted();
        samples[3].saw(0);
        for k in samples {
            assert_eq!(Knowledge::from_parts(k.bits(), k.aborted_by()), Some(k));
        }
        assert_eq!(Knowledge::from_parts(2, None), None);
        assert_eq!(Knowledge::from_parts(0, Some(1)), None);
        assert_eq!(Knowledge::from_parts(4, None), None);
        assert_eq!(Knowledge::from_parts(2, Some(64)), None);
    }

    #[test]
    fn rings_only_the_level() {
        assert!(rings(3, 3) && !rings(2, 3) && !rings(u64::MAX, 3) && !rings(0, 3));
    }
}
