//! An inter-process barrier compatible with systemd's.
//!
//! Two processes, usually a parent and the child it just forked, place
//! numbered sync points and wait for each other to reach them. Either side
//! can abort, which the other side sees; the other side's exit or crash
//! counts as an abort too, but only once every barrier it placed before
//! exiting has been consumed.
//!
//! The barrier is two eventfds, one per direction, and a pipe whose hang-up
//! reveals that the other side is gone. Its whole state is one signed
//! counter (see [`State`]).
//!
//! - [`Barrier`] is the owned Rust API.
//! - [`RawBarrier`] works in place on the C layout; the C library is a thin
//!   layer over it.
//! - [`state`] is the pure state machine; a private module holds every
//!   syscall.
//!
//! The crate is `no_std` apart from the `std` feature (on by default), which
//! adds conversions into `std::io::Error`. The `tokio` feature (off by
//! default) adds [`AsyncBarrier`], whose waits are futures on tokio's
//! reactor.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "tokio")]
mod async_barrier;
mod barrier;
pub mod env;
mod error;
pub mod raw;
pub mod state;
mod sys;

#[cfg(feature = "tokio")]
pub use async_barrier::AsyncBarrier;
pub use barrier::{Barrier, Role};
pub use error::{Errno, Error};
pub use raw::RawBarrier;
pub use state::State;

/// Defines a `#[panic_handler]` that aborts, unless this crate was built
/// with its `std` feature, in which case std provides the handler.
///
/// For no_std libraries built on this crate (such as the C library): the
/// decision must follow this crate's features, which a workspace build may
/// turn on for every crate at once.
#[cfg(not(feature = "std"))]
#[macro_export]
macro_rules! panic_handler_unless_std {
    () => {
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
            // SAFETY: abort takes no arguments and never returns.
            unsafe { $crate::__libc::abort() }
        }
    };
}

/// Defines a `#[panic_handler]` that aborts, unless this crate was built
/// with its `std` feature, in which case std provides the handler.
#[cfg(feature = "std")]
#[macro_export]
macro_rules! panic_handler_unless_std {
    () => {};
}

#[doc(hidden)]
pub use libc as __libc;
