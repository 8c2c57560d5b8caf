//! Handing a barrier end or a group member to a program that
//! `std::process::Command` starts: its environment variable, and the
//! descriptors that must survive `execve()`.

use crate::error::{Error, Misuse};
use libc::c_int;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Spawns `command` with `var=value` in its environment, keeping `keep`
/// open across `execve()` in the child (every other descriptor of the
/// library stays close-on-exec). [`Misuse::StdioDescriptor`] if a
/// descriptor to keep is 0, 1 or 2, which the command's stdio set-up would
/// replace; `Os` with the error of starting the program (an error of
/// `std::process` that has no errno reads as `EINVAL`).
pub(crate) fn spawn(
    command: &mut Command,
    var: &str,
    value: &[u8],
    keep: &[c_int],
) -> Result<Child, Error> {
    if keep.iter().any(|&fd| fd < 3) {
        return Err(Misuse::StdioDescriptor.into());
    }
    // The values are made of digits, commas and a minus sign.
    command.env(
        var,
        std::str::from_utf8(value).map_err(|_| Misuse::Malformed)?,
    );
    let keep = keep.to_vec();
    // SAFETY: the closure only calls fcntl, which is async-signal-safe, and
    // reads memory it owns; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            for &fd in &keep {
                crate::sys::set_cloexec(fd, false).map_err(io::Error::from_raw_os_error)?;
            }
            Ok(())
        });
    }
    command
        .spawn()
        .map_err(|e| Error::Os(e.raw_os_error().unwrap_or(libc::EINVAL)))
}
