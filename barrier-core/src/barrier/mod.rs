//! The two-party barrier.

pub mod env;
pub(crate) mod owned;
pub mod raw;
pub mod state;
#[cfg(feature = "tokio")]
mod tokio;

pub use owned::{Barrier, Role};
pub use raw::RawBarrier;
pub use state::State;
#[cfg(feature = "tokio")]
pub use tokio::AsyncBarrier;
