//! Hijacked streams: the local terminal (raw mode, size), stdin to the engine,
//! the engine's output to stdout/stderr (demultiplexed unless a tty), detach
//! keys, and signals proxied to the container.

use std::io::Write;

use anyhow::{Result, bail};
use nix::sys::termios::{self, SetArg, Termios};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use berth_client::{Engine, Hijacked};

/// The local terminal in raw mode, restored on drop.
pub struct RawTerminal {
    saved: Termios,
}

impl RawTerminal {
    /// Puts stdin's terminal in raw mode; None when stdin is not a terminal.
    pub fn stdin() -> Option<RawTerminal> {
        let fd = stdin_fd();
        let saved = termios::tcgetattr(&fd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(stdin_fd(), SetArg::TCSANOW, &self.saved);
    }
}

fn stdin_fd() -> std::io::Stdin {
    std::io::stdin()
}

/// Whether descriptor 0, 1 or 2 is a terminal.
pub fn is_tty(fd: i32) -> bool {
    use std::io::IsTerminal;
    match fd {
        0 => std::io::stdin().is_terminal(),
        1 => std::io::stdout().is_terminal(),
        _ => std::io::stderr().is_terminal(),
    }
}

/// (rows, columns) of the terminal on stdout, else stdin.
pub fn term_size() -> Option<(u16, u16)> {
    berth_client::terminal_size()
}

/// What to resize: a container's tty or an exec's.
#[derive(Clone)]
pub enum ResizeTarget {
    Container(String),
    Exec(String),
}

/// Sends the terminal's size now, and again on every SIGWINCH.
pub async fn resize(e: &Engine, target: &ResizeTarget) {
    let Some((h, w)) = term_size() else { return };
    let r = match target {
        ResizeTarget::Container(id) => {
            let o = bollard::query_parameters::ResizeContainerTTYOptionsBuilder::new()
                .h(h.into())
                .w(w.into())
                .build();
            e.docker.resize_container_tty(id, o).await
        }
        ResizeTarget::Exec(id) => {
            let o = bollard::exec::ResizeExecOptions {
                height: h,
                width: w,
            };
            e.docker.resize_exec(id, o).await
        }
    };
    let _ = r;
}

pub fn monitor_resize(e: &Engine, target: ResizeTarget) {
    let e = e.clone();
    tokio::spawn(async move {
        resize(&e, &target).await;
        let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while sig.recv().await.is_some() {
            resize(&e, &target).await;
        }
    });
}

/// Forwards the usual terminating signals to the container (`--sig-proxy`).
pub fn proxy_signals(e: &Engine, id: &str) {
    use tokio::signal::unix::{SignalKind, signal};
    let sigs = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ];
    for (kind, name) in sigs {
        let Ok(mut s) = signal(kind) else { continue };
        let e = e.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                let o = bollard::query_parameters::KillContainerOptionsBuilder::new()
                    .signal(name)
                    .build();
                let _ = e.docker.kill_container(&id, Some(o)).await;
            }
        });
    }
}

/// How a stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The engine closed the output (the process exited).
    Ended,
    /// The user typed the detach keys.
    Detached,
}

/// Detach keys (`ctrl-p,ctrl-q`, `a,ctrl-x`) as bytes.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for k in s.split(',') {
        let k = k.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c {
                "@" => 0,
                "[" => 27,
                "\\" => 28,
                "]" => 29,
                "^" => 30,
                "_" => 31,
                c if c.len() == 1 && c.as_bytes()[0].is_ascii_lowercase() => {
                    c.as_bytes()[0] - b'a' + 1
                }
                _ => bail!("invalid detach keys {s:?}: unknown key {k:?}"),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            bail!("invalid detach keys {s:?}: unknown key {k:?}");
        }
    }
    Ok(out)
}

/// Pumps a hijacked connection: stdin to it (if `stdin`), its output to ours
/// (raw when `tty`, else 8-byte-framed stdout/stderr). Returns once the output
/// ends, or at once when the detach keys were typed (`detach`, tty only).
pub async fn pump(h: Hijacked, tty: bool, stdin: bool, detach: Option<Vec<u8>>) -> Result<Outcome> {
    let Hijacked {
        mut read,
        mut write,
    } = h;
    let (detached_tx, detached_rx) = oneshot::channel::<()>();
    if stdin {
        tokio::spawn(async move {
            let mut input = tokio::io::stdin();
            let mut buf = vec![0u8; 32 * 1024];
            let keys = detach.unwrap_or_default();
            let mut matched = 0usize;
            loop {
                let n = match input.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut out = Vec::with_capacity(n);
                let mut hit = false;
                if keys.is_empty() {
                    out.extend_from_slice(&buf[..n]);
                } else {
                    for &b in &buf[..n] {
                        if b == keys[matched] {
                            matched += 1;
                            if matched == keys.len() {
                                hit = true;
                                break;
                            }
                        } else {
                            out.extend_from_slice(&keys[..matched]);
                            matched = 0;
                            if b == keys[0] {
                                matched = 1;
                            } else {
                                out.push(b);
                            }
                        }
                    }
                }
                if !out.is_empty() && write.write_all(&out).await.is_err() {
                    return;
                }
                if hit {
                    let _ = detached_tx.send(());
                    return;
                }
            }
            // EOF: half-close, so the container's stdin ends too.
            let _ = write.shutdown().await;
            // Keep the task (and the write half) alive no longer.
        });
    } else {
        // Keep the write half open until the output ends: closing it would
        // end the session on some engines.
        tokio::spawn(async move {
            let _keep = write;
            std::future::pending::<()>().await;
        });
    }
    let output = async move {
        if tty {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                let n = read.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                let mut o = std::io::stdout().lock();
                o.write_all(&buf[..n])?;
                o.flush()?;
            }
        } else {
            let mut header = [0u8; 8];
            let mut buf = Vec::new();
            loop {
                match read.read_exact(&mut header).await {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e.into()),
                }
                let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
                buf.resize(len, 0);
                read.read_exact(&mut buf).await?;
                if header[0] == 2 {
                    let mut o = std::io::stderr().lock();
                    o.write_all(&buf)?;
                    o.flush()?;
                } else {
                    let mut o = std::io::stdout().lock();
                    o.write_all(&buf)?;
                    o.flush()?;
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    // Detaching drops the stdin task's write half, a half-close after which
    // dockerd ends the output too: when both are ready, the detach wins (it
    // was sent first), or we would wait for the container's exit.
    tokio::select! {
        biased;
        Ok(()) = detached_rx => Ok(Outcome::Detached),
        r = output => { r?; Ok(Outcome::Ended) }
    }
}

/// Docker's multiplexed stream, fed in pieces as they arrive, written to
/// stdout or stderr.
#[derive(Default)]
pub struct Demux {
    frames: berth_client::frames::Frames,
}

impl Demux {
    /// Writes every complete frame in `data` (and what was held) to stdout
    /// or stderr.
    pub fn feed(&mut self, data: &[u8]) -> std::io::Result<()> {
        for (stream, payload) in self.frames.feed(data) {
            if stream == berth_client::frames::STDERR {
                let mut o = std::io::stderr().lock();
                o.write_all(&payload)?;
                o.flush()?;
            } else {
                let mut o = std::io::stdout().lock();
                o.write_all(&payload)?;
                o.flush()?;
            }
        }
        Ok(())
    }
}
