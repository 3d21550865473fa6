//! Receiving a terminal's master side over a console socket, as containerd does.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Reads one message from `conn` and returns the descriptor it carried.
pub fn recv_fd(conn: &UnixStream) -> Option<OwnedFd> {
    let mut data = [0u8; 4096];
    let (n, fds) = berth_sys::recv_with_fds(conn.as_fd(), &mut data).ok()?;
    (n > 0).then(|| fds.into_iter().next())?
}
