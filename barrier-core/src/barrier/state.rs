//! The barrier's state machine: plain integer logic, no I/O.
//!
//! The whole state of one end of a barrier is a single signed 64-bit
//! counter. Outside the three reserved "aborted" values near `i64::MIN` it
//! holds (barriers this side placed) minus (barriers of the other side this
//! side consumed): positive means we are ahead, negative that they are.
//!
//! [`State`] records what the syscall layer did (a value written, a value
//! read, a fatal error) and answers the questions the operations ask (is
//! this wait satisfied, did anybody abort). Keeping it free of I/O lets the
//! tests drive every transition directly.

/// One barrier placed.
pub(crate) const SINGLE: i64 = 1;
/// The value written to signal an abort; anything read at or above it is an
/// abort of the other side.
pub(crate) const ABORTION: i64 = i64::MAX;
/// The base of the reserved range of aborted states.
pub(crate) const BIAS: i64 = i64::MIN;
/// Both sides aborted.
pub(crate) const WE_ABORTED: i64 = BIAS + 1;
/// Only the other side aborted (or exited, or crashed).
pub(crate) const THEY_ABORTED: i64 = BIAS + 2;
/// Only this side aborted.
pub(crate) const I_ABORTED: i64 = BIAS + 3;

/// The lowest value an ordinary counter may take; below it lie the aborted
/// states. Counting saturates here instead of wrapping into them.
pub(crate) const COUNTER_MIN: i64 = I_ABORTED + 1;

/// The state of one end of a barrier: a counter or one of the aborted states.
///
/// The representation is exactly the `barriers` field of the C structure,
/// so a `State` can be loaded from and stored into caller-owned memory
/// without translation.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct State(i64);

/// `State(3)` for a counter, `State(THEY_ABORTED)` and the like for the
/// aborted states, named as in the C header.
impl core::fmt::Debug for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            WE_ABORTED => f.write_str("State(WE_ABORTED)"),
            THEY_ABORTED => f.write_str("State(THEY_ABORTED)"),
            I_ABORTED => f.write_str("State(I_ABORTED)"),
            n => write!(f, "State({n})"),
        }
    }
}

impl State {
    /// A fresh barrier: nothing placed, nothing consumed.
    pub const NEW: State = State(0);

    /// Interprets a raw `barriers` value.
    pub const fn from_raw(raw: i64) -> State {
        State(raw)
    }

    /// The raw `barriers` value.
    pub const fn raw(self) -> i64 {
        self.0
    }

    /// This side aborted (alone or as well as the other side).
    pub const fn i_aborted(self) -> bool {
        self.0 == I_ABORTED || self.0 == WE_ABORTED
    }

    /// The other side aborted, exited or crashed (alone or as well as us).
    pub const fn they_aborted(self) -> bool {
        self.0 == THEY_ABORTED || self.0 == WE_ABORTED
    }

    /// Both sides aborted.
    pub const fn we_aborted(self) -> bool {
        self.0 == WE_ABORTED
    }

    /// Either side aborted.
    pub const fn is_aborted(self) -> bool {
        self.i_aborted() || self.they_aborted()
    }

    /// Barriers placed here and not yet matched by the other side (positive),
    /// or barriers of theirs we consumed beyond our own (negative). `None`
    /// once either side aborted.
    pub const fn counter(self) -> Option<i64> {
        if self.is_aborted() {
            None
        } else {
            Some(self.0)
        }
    }

    /// Records a successful write of `value` to our eventfd.
    pub(crate) fn wrote(&mut self, value: u64) {
        if value >= ABORTION as u64 {
            self.0 = if self.they_aborted() {
                WE_ABORTED
            } else {
                I_ABORTED
            };
        } else if !self.is_aborted() {
            // `value` is below i64::MAX here, so the cast is exact.
            self.0 = self.0.saturating_add(value as i64);
        }
    }

    /// Records `value` read from the other side's eventfd, or
    /// [`ABORTION`] when the other side is gone.
    pub(crate) fn received(&mut self, value: u64) {
        if value >= ABORTION as u64 {
            self.0 = if self.i_aborted() {
                WE_ABORTED
            } else {
                THEY_ABORTED
            };
        } else if !self.is_aborted() {
            self.0 = self.0.saturating_sub(value as i64).max(COUNTER_MIN);
        }
    }

    /// Records an unrecoverable error: the barrier can no longer be trusted
    /// in either direction.
    pub(crate) fn failed(&mut self) {
        self.0 = WE_ABORTED;
    }

    /// Whether a wait with the given limit is over: a read loop runs while
    /// the state is above its limit.
    pub(crate) const fn reached(self, limit: i64) -> bool {
        self.0 <= limit
    }

    /// The limit for `wait_next`: one more barrier of theirs, whatever we
    /// placed.
    pub(crate) const fn next_limit(self) -> i64 {
        self.0.saturating_sub(1)
    }

    /// The limit for `sync_next`: their next barrier that matches one of
    /// ours, or nothing at all if none of ours is unmatched.
    pub(crate) const fn sync_next_limit(self) -> i64 {
        let limit = self.0.saturating_sub(1);
        if limit > 0 {
            limit
        } else {
            0
        }
    }

    /// The limit for `sync`: they placed at least as many as we did.
    pub(crate) const SYNC_LIMIT: i64 = 0;

    /// The limit for `wait_abortion`: only an abort of theirs ends it.
    pub(crate) const ABORTION_LIMIT: i64 = THEY_ABORTED;
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ABORTED: [i64; 3] = [WE_ABORTED, THEY_ABORTED, I_ABORTED];

    #[test]
    fn constants_match_the_c_abi() {
        assert_eq!(SINGLE, 1);
        assert_eq!(ABORTION, 9_223_372_036_854_775_807);
        assert_eq!(BIAS, -9_223_372_036_854_775_808);
        assert_eq!(WE_ABORTED, -9_223_372_036_854_775_807);
        assert_eq!(THEY_ABORTED, -9_223_372_036_854_775_806);
        assert_eq!(I_ABORTED, -9_223_372_036_854_775_805);
    }

    #[test]
    fn predicates() {
        let s = State::from_raw;
        assert!(!s(0).is_aborted() && !s(5).is_aborted() && !s(-5).is_aborted());
        assert!(s(WE_ABORTED).i_aborted() && s(WE_ABORTED).they_aborted());
        assert!(s(WE_ABORTED).we_aborted() && s(WE_ABORTED).is_aborted());
        assert!(s(I_ABORTED).i_aborted() && !s(I_ABORTED).they_aborted());
        assert!(!s(I_ABORTED).we_aborted() && s(I_ABORTED).is_aborted());
        assert!(!s(THEY_ABORTED).i_aborted() && s(THEY_ABORTED).they_aborted());
        assert!(!s(THEY_ABORTED).we_aborted() && s(THEY_ABORTED).is_aborted());
        assert!(!s(BIAS).is_aborted());
        assert_eq!(s(3).counter(), Some(3));
        assert_eq!(s(I_ABORTED).counter(), None);
    }

    #[test]
    fn writing_counts_up() {
        let mut s = State::NEW;
        s.wrote(1);
        s.wrote(1);
        assert_eq!(s.raw(), 2);
        let mut s = State::from_raw(-3);
        s.wrote(1);
        assert_eq!(s.raw(), -2);
    }

    #[test]
    fn writing_an_abort_replaces_the_count() {
        for start in [0, 7, -7] {
            let mut s = State::from_raw(start);
            s.wrote(ABORTION as u64);
            assert_eq!(s.raw(), I_ABORTED);
        }
        let mut s = State::from_raw(THEY_ABORTED);
        s.wrote(ABORTION as u64);
        assert_eq!(s.raw(), WE_ABORTED);
        let mut s = State::from_raw(I_ABORTED);
        s.wrote(ABORTION as u64);
        assert_eq!(s.raw(), I_ABORTED);
        // Values above ABORTION (a sum of abort and barriers) abort too.
        let mut s = State::NEW;
        s.wrote(u64::MAX - 1);
        assert_eq!(s.raw(), I_ABORTED);
    }

    #[test]
    fn plain_writes_leave_aborted_states_alone() {
        for start in ALL_ABORTED {
            let mut s = State::from_raw(start);
            s.wrote(1);
            assert_eq!(s.raw(), start);
        }
    }

    #[test]
    fn reading_counts_down() {
        let mut s = State::from_raw(2);
        s.received(1);
        assert_eq!(s.raw(), 1);
        s.received(3);
        assert_eq!(s.raw(), -2);
    }

    #[test]
    fn reading_an_abort_replaces_the_count() {
        for start in [0, 7, -7] {
            let mut s = State::from_raw(start);
            s.received(ABORTION as u64);
            assert_eq!(s.raw(), THEY_ABORTED);
        }
        let mut s = State::from_raw(I_ABORTED);
        s.received(ABORTION as u64);
        assert_eq!(s.raw(), WE_ABORTED);
        let mut s = State::from_raw(THEY_ABORTED);
        s.received(ABORTION as u64);
        assert_eq!(s.raw(), THEY_ABORTED);
        // Two barriers followed by an abort arrive as one sum: only the
        // abort is seen.
        let mut s = State::from_raw(1);
        s.received(2 + ABORTION as u64);
        assert_eq!(s.raw(), THEY_ABORTED);
    }

    #[test]
    fn plain_reads_leave_aborted_states_alone() {
        for start in ALL_ABORTED {
            let mut s = State::from_raw(start);
            s.received(4);
            assert_eq!(s.raw(), start);
        }
    }

    #[test]
    fn failure_is_a_double_abort() {
        for start in [0, 3, -3, WE_ABORTED, THEY_ABORTED, I_ABORTED] {
            let mut s = State::from_raw(start);
            s.failed();
            assert!(s.we_aborted());
        }
    }

    #[test]
    fn counting_never_reaches_the_aborted_range() {
        let mut s = State::from_raw(COUNTER_MIN + 1);
        s.received(10);
        assert_eq!(s.raw(), COUNTER_MIN);
        assert!(!s.is_aborted());
        let mut s = State::from_raw(i64::MAX - 1);
        s.wrote(5);
        assert_eq!(s.raw(), i64::MAX);
        assert!(!s.is_aborted());
    }

    #[cfg(feature = "std")]
    #[test]
    fn debug_names_the_aborted_states() {
        use std::format;
        assert_eq!(format!("{:?}", State::from_raw(-3)), "State(-3)");
        assert_eq!(
            format!("{:?}", State::from_raw(THEY_ABORTED)),
            "State(THEY_ABORTED)"
        );
        assert_eq!(
            format!("{:?}", State::from_raw(WE_ABORTED)),
            "State(WE_ABORTED)"
        );
        assert_eq!(
            format!("{:?}", State::from_raw(I_ABORTED)),
            "State(I_ABORTED)"
        );
    }

    #[test]
    fn limits() {
        let s = State::from_raw;
        assert_eq!(s(3).next_limit(), 2);
        assert_eq!(s(0).next_limit(), -1);
        assert_eq!(s(-4).next_limit(), -5);
        assert_eq!(s(3).sync_next_limit(), 2);
        assert_eq!(s(1).sync_next_limit(), 0);
        assert_eq!(s(0).sync_next_limit(), 0);
        assert_eq!(s(-4).sync_next_limit(), 0);
        assert!(s(0).reached(State::SYNC_LIMIT));
        assert!(!s(1).reached(State::SYNC_LIMIT));
        assert!(s(-1).reached(State::SYNC_LIMIT));
        assert!(!s(I_ABORTED).reached(State::ABORTION_LIMIT));
        assert!(!s(0).reached(State::ABORTION_LIMIT));
        assert!(s(THEY_ABORTED).reached(State::ABORTION_LIMIT));
        assert!(s(WE_ABORTED).reached(State::ABORTION_LIMIT));
    }
}
