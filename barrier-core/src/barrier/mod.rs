//! The two-party barrier.

mod env;
mod owned;
mod raw;
mod state;
#[cfg(feature = "tokio")]
mod tokio;

pub use owned::{Barrier, Role};
pub use raw::RawBarrier;
pub use state::State;
#[cfg(feature = "tokio")]
pub use tokio::AsyncBarrier;
