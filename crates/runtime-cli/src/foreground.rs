//! Waiting for a foreground container (`run`, `exec` without --detach):
//! signals are relayed to it, and a terminal it owns is copied to ours.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Waits for `pid` to exit and returns its exit code (128+signal if killed).
pub fn wait(pid: i32, console: Option<OwnedFd>) -> i32 {
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        mask.add(s);
    }
    let _ = mask.thread_block();
    let Ok(sfd) = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC) else {
        return reap_blocking(pid);
    };
    let stdin = std::io::stdin();
    let saved = console
        .as_ref()
        .and_then(|_| termios::tcgetattr(stdin.as_fd()).ok());
    if let Some(t) = &saved {
        let mut raw = t.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin.as_fd(), termios::SetArg::TCSANOW, &raw);
    }
    if let Some(m) = &console {
        copy_winsize(stdin.as_fd(), m.as_fd());
    }
    let mut stdin_open = console.is_some();
    let mut master_open = console.is_some();
    let code = loop {
        if let Some(code) = try_reap(pid) {
            if let Some(m) = console.as_ref().filter(|_| master_open) {
                drain(m.as_fd());
            }
            break code;
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let master = console.as_ref();
        if let (true, Some(m)) = (master_open, master) {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
        }
        if let (true, Some(_)) = (stdin_open, master) {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, nix::poll::PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0]
            && let Ok(Some(info)) = sfd.read_signal()
        {
            let sig = info.ssi_signo as i32;
            if sig == libc::SIGWINCH {
                if let Some(m) = master {
                    copy_winsize(stdin.as_fd(), m.as_fd());
                }
            } else if sig != libc::SIGCHLD
                && let Ok(s) = Signal::try_from(sig)
            {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), s);
            }
        }
        let mut i = 1;
        if let (true, Some(m)) = (master_open, master) {
            if ready[i] && !copy(m.as_fd(), std::io::stdout().as_fd()) {
                master_open = false;
            }
            i += 1;
        }
        if let (true, Some(m)) = (stdin_open, master)
            && ready.get(i).copied().unwrap_or(false)
            && !copy(stdin.as_fd(), m.as_fd())
        {
            stdin_open = false;
        }
    };
    if let Some(t) = &saved {
        let _ = termios::tcsetattr(stdin.as_fd(), termios::SetArg::TCSANOW, t);
    }
    code
}

fn try_reap(pid: i32) -> Option<i32> {
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Some(code),
        Ok(WaitStatus::Signaled(_, sig, _)) => Some(128 + sig as i32),
        Ok(_) => None,
        Err(_) => Some(255),
    }
}

fn reap_blocking(pid: i32) -> i32 {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => continue,
            Err(_) => return 255,
        }
    }
}

/// Copies what is readable now; false at end of file or error.
fn copy(from: BorrowedFd, to: BorrowedFd) -> bool {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(to, &buf[off..n]) {
                    Ok(w) => off += w,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return false,
                }
            }
            true
        }
    }
}

/// What the terminal still holds after the process exited.
fn drain(master: BorrowedFd) {
    loop {
        let mut fds = [PollFd::new(master, PollFlags::POLLIN)];
        match poll(&mut fds, nix::poll::PollTimeout::ZERO) {
            Ok(n) if n > 0 && copy(master, std::io::stdout().as_fd()) => continue,
            _ => return,
        }
    }
}

fn copy_winsize(from: BorrowedFd, to: BorrowedFd) {
    if let Some((rows, cols)) = berth_sys::get_winsize(from.as_raw_fd()) {
        let _ = berth_sys::set_winsize(to.as_raw_fd(), rows, cols);
    }
}
