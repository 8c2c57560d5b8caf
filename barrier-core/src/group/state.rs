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

/// Judges a look of member `me` of a group of `n` at the others:
/// `aborted` holds the members that aborted, `gone` those whose pipe it
/// saw hang up (bit `k` for rank `k`; its own bit is ignored), and
/// `placed(k)` reads member `k`'s count. The counts are read in rank
/// order, and only as far as they can matter: with no abort and no member
/// gone, a sync is pending at the first member short of its target; a
/// wait for an abortion reads none.
///
/// An abort ends every wait, even one whose counts are satisfied. An exit
/// ends a sync only when the member placed fewer barriers than it needs
/// (pending beats exit), and ends a wait for an abortion at once.
pub(crate) fn judge(
    wait: Wait,
    me: usize,
    n: usize,
    aborted: u64,
    gone: u64,
    mut placed: impl FnMut(usize) -> u64,
) -> Verdict {
    let others = !(1u64 << me);
    let (aborted, gone) = (aborted & others, gone & others);
    let mut ends = aborted;
    let mut short = false;
    match wait {
        Wait::Abortion => ends |= gone,
        Wait::Sync(target) => {
            let mut k = 0;
            while k < n {
                if k != me && placed(k) < target {
                    if aborted | gone == 0 {
                        return Verdict::Pending;
                    }
                    short = true;
                    ends |= gone & (1 << k);
                }
                k += 1;
            }
        }
    }
    if ends != 0 {
        Verdict::Ended(ends.trailing_zeros() as usize)
    } else if short || wait == Wait::Abortion {
        Verdict::Pending
    } else {
        Verdict::Done
    }
}

/// Whether a member whose `place` took its count to `count` must ring for
/// a member that publishes `waiting`, given that every other member has
/// placed at least `count` (it was the last to get there).
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
    use std::{vec, vec::Vec};

    /// Judges member 0's look at members of the given counts (index 0
    /// is member 0 itself), recording which counts it read.
    fn judge_all(wait: Wait, placed: &[u64], aborted: u64, gone: u64) -> (Verdict, Vec<usize>) {
        let mut read = Vec::new();
        let verdict = judge(wait, 0, placed.len(), aborted, gone, |k| {
            read.push(k);
            placed[k]
        });
        (verdict, read)
    }

    #[test]
    fn sync_waits_for_every_count() {
        let counts = [2, 3, 9, 2];
        assert_eq!(judge_all(Wait::Sync(2), &counts, 0, 0).0, Verdict::Done);
        assert_eq!(judge_all(Wait::Sync(3), &counts, 0, 0).0, Verdict::Pending);
        assert_eq!(judge_all(Wait::Sync(0), &counts, 0, 0).0, Verdict::Done);
        // Alone in the group: nothing to wait for.
        assert_eq!(judge_all(Wait::Sync(1), &[0], 0, 0).0, Verdict::Done);
        // Its own count and its own bits do not count.
        assert_eq!(judge_all(Wait::Sync(2), &[0, 2], 1, 1).0, Verdict::Done);
    }

    #[test]
    fn a_plain_look_stops_at_the_first_short_member() {
        let (verdict, read) = judge_all(Wait::Sync(3), &[3, 3, 1, 0, 0], 0, 0);
        assert_eq!((verdict, read), (Verdict::Pending, vec![1, 2]));
        // With a member gone or aborted, every count is read.
        let (verdict, read) = judge_all(Wait::Sync(3), &[3, 3, 1, 0, 0], 0, 1 << 4);
        assert_eq!((verdict, read), (Verdict::Ended(4), vec![1, 2, 3, 4]));
        let (verdict, read) = judge_all(Wait::Sync(3), &[3, 3, 1, 0, 0], 1 << 1, 0);
        assert_eq!((verdict, read), (Verdict::Ended(1), vec![1, 2, 3, 4]));
        // A wait for an abortion reads none.
        let (verdict, read) = judge_all(Wait::Abortion, &[3, 3, 1], 0, 1 << 2);
        assert_eq!((verdict, read), (Verdict::Ended(2), vec![]));
    }

    #[test]
    fn abort_supersedes_satisfied_counts() {
        let counts = [0, 5, 5, 5];
        assert_eq!(
            judge_all(Wait::Sync(1), &counts, 1 << 3, 0).0,
            Verdict::Ended(3)
        );
        assert_eq!(
            judge_all(Wait::Sync(0), &counts, 1 << 3, 0).0,
            Verdict::Ended(3)
        );
    }

    #[test]
    fn pending_beats_exit() {
        let counts = [0, 2, 3];
        assert_eq!(
            judge_all(Wait::Sync(2), &counts, 0, 1 << 1).0,
            Verdict::Done
        );
        assert_eq!(
            judge_all(Wait::Sync(3), &counts, 0, 1 << 1).0,
            Verdict::Ended(1)
        );
        // Gone and short, while another is merely short: the exit decides.
        let counts = [0, 0, 0, 0, 0, 0];
        assert_eq!(
            judge_all(Wait::Sync(1), &counts, 0, 1 << 5).0,
            Verdict::Ended(5)
        );
    }

    #[test]
    fn the_lowest_rank_seen_in_one_look() {
        let counts = [0, 0, 0, 0, 9, 0, 0];
        let (aborted, gone) = ((1 << 6) | (1 << 4), (1 << 2) | (1 << 4));
        assert_eq!(
            judge_all(Wait::Sync(1), &counts, aborted, gone).0,
            Verdict::Ended(2)
        );
        assert_eq!(
            judge_all(Wait::Abortion, &counts, aborted, gone).0,
            Verdict::Ended(2)
        );
    }

    #[test]
    fn abortion_ends_on_any_abort_or_exit() {
        assert_eq!(judge_all(Wait::Abortion, &[0, 9], 0, 0).0, Verdict::Pending);
        assert_eq!(
            judge_all(Wait::Abortion, &[0, 9], 0, 1 << 1).0,
            Verdict::Ended(1)
        );
        assert_eq!(
            judge_all(Wait::Abortion, &[0, 0], 1 << 1, 0).0,
            Verdict::Ended(1)
        );
        assert_eq!(judge_all(Wait::Abortion, &[0], 0, 0).0, Verdict::Pending);
        // Its own abort does not end it.
        assert_eq!(judge_all(Wait::Abortion, &[0, 0], 1, 0).0, Verdict::Pending);
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
