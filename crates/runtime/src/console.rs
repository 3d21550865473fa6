//! The container's terminal: a pty from the container's own devpts, whose
//! master side goes to the caller over the console socket (SCM_RIGHTS), as
//! runc sends it and containerd's go-runc receives it.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

use crate::error::{Context, Result};

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub slave_path: PathBuf,
}

/// Opens a new pty through /dev/ptmx (in the container, after pivot_root).
pub fn open_pty(size: Option<(u16, u16)>) -> Result<Pty> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "opening /dev/ptmx")?;
    grantpt(&master).ctx(|| "grantpt")?;
    unlockpt(&master).ctx(|| "unlockpt")?;
    let name = ptsname_r(&master).ctx(|| "ptsname")?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("opening {name}"))?;
    if let Some((rows, cols)) = size {
        berth_sys::set_winsize(slave.as_raw_fd(), rows, cols)
            .ctx(|| "setting the terminal size")?;
    }
    let master = OwnedFd::from(master);
    Ok(Pty {
        master,
        slave,
        slave_path: PathBuf::from(name),
    })
}

/// Sends the master side over the connected console socket.
pub fn send_master(socket: RawFd, pty: &Pty) -> Result<()> {
    let fds = [pty.master.as_raw_fd()];
    // runc sends the name "/dev/ptmx"; go-runc wants a non-empty payload and
    // exactly one descriptor.
    let iov = [std::io::IoSlice::new(b"/dev/ptmx")];
    sendmsg::<()>(
        socket,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .ctx(|| "sending the terminal over the console socket")?;
    Ok(())
}

/// Makes the slave side the process's stdio and controlling terminal.
pub fn attach_stdio(slave: &OwnedFd) -> Result<()> {
    nix::unistd::setsid().ctx(|| "setsid")?;
    berth_sys::set_controlling_terminal(slave.as_raw_fd()).ctx(|| "TIOCSCTTY")?;
    for target in 0..3 {
        berth_sys::dup_onto(slave.as_raw_fd(), target).ctx(|| "dup2 of the terminal")?;
    }
    Ok(())
}

/// Receives the master side a runtime sent over a console socket (the
/// other end of [`send_master`]).
pub fn receive_fd(stream: &std::os::unix::net::UnixStream) -> std::io::Result<OwnedFd> {
    use std::os::fd::AsFd;
    let mut buf = [0u8; 4096];
    let (_, fds) = berth_sys::recv_with_fds(stream.as_fd(), &mut buf)?;
    fds.into_iter()
        .next()
        .ok_or_else(|| std::io::Error::other("the console socket carried no descriptor"))
}
