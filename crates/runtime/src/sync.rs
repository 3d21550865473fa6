//! The channel between the runtime process and the container's init while the
//! container is made: a close-on-exec SEQPACKET socket pair, one message per
//! step, so a crash on either side reads as end-of-file rather than a hang.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, sendmsg, socketpair,
};

use crate::error::{Context, Error, Result};

/// The steps of the handshake.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// Parent to child: ids are mapped and the cgroup joined; go on.
    Go,
    /// Child to parent: namespaces exist; run the createRuntime hooks now.
    Hooks,
    /// Child to parent: the container is set up and waits for `start`.
    Ready,
    /// Child to parent: setting up failed.
    Failed(String),
}

pub struct Channel(OwnedFd);

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "creating the sync socket pair")?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn send(&self, msg: &Msg) -> Result<()> {
        let bytes: Vec<u8> = match msg {
            Msg::Go => b"go".to_vec(),
            Msg::Hooks => b"hooks".to_vec(),
            Msg::Ready => b"ready".to_vec(),
            Msg::Failed(e) => format!("err:{e}").into_bytes(),
        };
        self.send_raw(&bytes, None)
    }

    /// Sends `bytes`, with `fd` attached when given (a terminal's master side).
    pub fn send_raw(&self, bytes: &[u8], fd: Option<RawFd>) -> Result<()> {
        let iov = [io::IoSlice::new(bytes)];
        let fds = fd.map(|f| [f]);
        let cmsgs: Vec<ControlMessage> = fds
            .as_ref()
            .map(|f| ControlMessage::ScmRights(f))
            .into_iter()
            .collect();
        sendmsg::<()>(self.0.as_raw_fd(), &iov, &cmsgs, MsgFlags::empty(), None)
            .ctx(|| "writing to the sync socket")?;
        Ok(())
    }

    /// The next message; None when the other side closed (or exec'd).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let (bytes, _) = self.recv_raw()?;
        if bytes.is_empty() {
            return Ok(None);
        }
        Ok(Some(match bytes.as_slice() {
            b"go" => Msg::Go,
            b"hooks" => Msg::Hooks,
            b"ready" => Msg::Ready,
            other => match other.strip_prefix(b"err:") {
                Some(e) => Msg::Failed(String::from_utf8_lossy(e).into_owned()),
                None => {
                    return Err(Error::Other(format!(
                        "unexpected message on the sync socket: {:?}",
                        String::from_utf8_lossy(other)
                    )));
                }
            },
        }))
    }

    /// One datagram and the descriptor that came with it, if any.
    pub fn recv_raw(&self) -> Result<(Vec<u8>, Option<OwnedFd>)> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match berth_sys::recv_with_fds(std::os::fd::AsFd::as_fd(&self.0), &mut buf) {
                Ok((n, fds)) => {
                    buf.truncate(n);
                    return Ok((buf, fds.into_iter().next()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading the sync socket", e)),
            }
        }
    }

    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}
