//! The C library: systemd's `barrier.h` API over `barrier-core`
//! (`barrier.rs`), and barrier groups (`group.rs`); `ffi.rs` holds what
//! every entry point needs to meet C.
//!
//! Each entry point checks its pointer and hands the caller's structure to
//! the core, which works on it in place. Nothing here allocates, nothing
//! here can panic into C (and the panic handler aborts regardless), and a
//! NULL pointer gets the documented answer instead of a crash.
//!
//! Every `Barrier *` a C caller passes is, by the API's contract, NULL or
//! an object initialised with `BARRIER_NULL` or by this library, whose
//! descriptors it owns: that is the ownership the core's unsafe methods
//! require, and what "forwarded from the caller" means below.
//!
//! The doc comments of the exported functions are the C documentation:
//! cbindgen copies them into `include/barrier.h`, and `man/man.py`
//! makes the man pages from that header. So they speak C (pointers that
//! must be NULL or point to a `Barrier`, negative errno), and each is a
//! description followed by paragraphs that begin with "Returns", which
//! become the page's RETURN VALUE. Rust-only notes go in `//` comments.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
// Each function's safety contract is the pointer rule its doc states in C
// terms, and the rule of the module doc above; a `# Safety` heading would
// end up in the C header.
#![allow(clippy::missing_safety_doc)]

mod barrier;
mod ffi;
mod group;

barrier_core::panic_handler_unless_std!();
