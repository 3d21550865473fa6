//! The API's connections: how many are served at once, how long a client
//! may take to send a request's head, and what a failed accept(2) does.
//!
//! A flood of idle connections must not end the daemon (it once died of
//! EMFILE, leaving its socket and pidfile behind), so:
//! - connections are bounded ([`Limits::max_connections`]); past the bound
//!   the daemon stops accepting and new clients wait in the listen backlog,
//!   where they cost it no descriptor, until a connection closes;
//! - a connection that sends no complete request head within
//!   [`Limits::header_timeout`] is closed, which is what frees the bound
//!   from clients that connect and say nothing. dockerd's is five minutes
//!   (its http.Server's ReadHeaderTimeout), which Go counts from accept for
//!   the first request; dockerd sets no IdleTimeout, so between requests a
//!   keep-alive connection may idle there for good. hyper counts the same
//!   five minutes from the end of each response too: an idle keep-alive
//!   connection holds a slot of the bound, and clients (Go's transport,
//!   docker's CLI) open a new connection when the server closed an idle one;
//! - accept(2) failing for want of descriptors or memory is logged, waited
//!   out, and retried.

use std::convert::Infallible;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{State, route};

/// dockerd's `ReadHeaderTimeout` (cmd/dockerd/daemon.go: five minutes).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(300);

/// What the server allows its clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once, hijacked ones included; more clients
    /// wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// How long a connection may go without a complete request head:
    /// from accept, or from the end of its last response. Requests being
    /// answered (a streamed log, `events`, `wait`) and hijacked connections
    /// (attach, exec) are never cut by it.
    pub header_timeout: Duration,
}

impl Limits {
    /// The limits for a process that may open `nofile` descriptors (its
    /// RLIMIT_NOFILE soft limit): half for connections, because the other
    /// half is what serving them opens besides (a followed log's file, a
    /// hijack's socket to its shim, a pull's or build's layer files) plus
    /// the engine's own (its database, every container's shim socket and
    /// log). A fixed reserve would be too little at a high limit and all of
    /// it at a low one.
    pub fn for_nofile(nofile: u64) -> Limits {
        let half = (nofile / 2).clamp(1, Semaphore::MAX_PERMITS as u64);
        Limits {
            max_connections: half as usize,
            header_timeout: HEADER_TIMEOUT,
        }
    }

    /// [`Limits::for_nofile`] for this process's soft limit (1024, the
    /// usual default, if it cannot be read).
    pub fn from_rlimit() -> Limits {
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024);
        Limits::for_nofile(soft)
    }
}

/// Serves connections from `listener` until the task is dropped, or until
/// the listener itself is unusable (the only error it returns).
pub async fn serve(listener: UnixListener, state: Arc<State>, limits: Limits) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut said_full = Throttle::default();
    let mut failures = AcceptFailures::default();
    loop {
        // The slot is taken before accept: at the bound the daemon leaves
        // new clients queued in the kernel rather than accepting them to
        // hang up (which needs a descriptor, and turns a short wait into
        // an error for a client that did nothing wrong).
        let slot = take_slot(&slots, limits.max_connections, &mut said_full).await;
        let stream = accept(&listener, &mut failures).await?;
        let conn = Counted {
            stream,
            _slot: slot,
        };
        tokio::spawn(serve_connection(conn, state.clone(), limits.header_timeout));
    }
}

/// One connection, to its end (or to the hijack that takes it over).
async fn serve_connection(conn: Counted, state: Arc<State>, header_timeout: Duration) {
    let socket = crate::hijack::PeerSocket(conn.stream.as_raw_fd());
    let svc = service_fn(move |mut req: Request<Incoming>| {
        let state = state.clone();
        req.extensions_mut().insert(socket);
        async move { Ok::<_, Infallible>(route(state, req).await) }
    });
    // hyper starts the head timer whenever it waits for a request head, at
    // the connection's start and after each response, and stops it when the
    // head is in: the wait for headers and the idle time between requests,
    // never a request being answered, and hijacks leave hyper altogether.
    // A client that goes away mid-request, or too slowly, ends only its
    // connection.
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(conn), svc)
        .with_upgrades()
        .await;
}

/// A free slot; at the bound, says so (at most once a minute) and waits for
/// a connection to close.
async fn take_slot(
    slots: &Arc<Semaphore>,
    bound: usize,
    said: &mut Throttle,
) -> OwnedSemaphorePermit {
    if let Ok(slot) = slots.clone().try_acquire_owned() {
        return slot;
    }
    if said.allows() {
        eprintln!(
            "berth daemon: {bound} API connections open, the most at once (half the open-file \
             limit, RLIMIT_NOFILE): new clients wait to be accepted until one closes"
        );
    }
    slots
        .clone()
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed")
}

/// The next connection; failures that pass (a client that gave up, the
/// process or host out of descriptors or memory) are waited out.
async fn accept(listener: &UnixListener, failures: &mut AcceptFailures) -> io::Result<UnixStream> {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                failures.recovered();
                return Ok(stream);
            }
            Err(e) => match AcceptError::of(&e) {
                AcceptError::ClientGone => continue,
                AcceptError::Listener => return Err(e),
                AcceptError::Resources(cause) => failures.back_off(&e, cause).await,
            },
        }
    }
}

/// What a failed accept(2) means for the server.
enum AcceptError {
    /// The connection was reset or given up before it was accepted: take
    /// the next one at once (Go's accept loop retries these too).
    ClientGone,
    /// The listening socket itself is unusable: serving cannot go on.
    Listener,
    /// The process or the host lacks what a connection needs, for now:
    /// wait for connections to close and try again. The cause, for the log.
    Resources(&'static str),
}

impl AcceptError {
    fn of(e: &io::Error) -> AcceptError {
        match e.raw_os_error() {
            Some(
                libc::ECONNABORTED | libc::ECONNRESET | libc::EPROTO | libc::EINTR | libc::EAGAIN,
            ) => AcceptError::ClientGone,
            Some(libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EOPNOTSUPP | libc::EFAULT) => {
                AcceptError::Listener
            }
            Some(libc::EMFILE) => AcceptError::Resources(
                "the daemon has as many files open as its RLIMIT_NOFILE allows",
            ),
            Some(libc::ENFILE) => {
                AcceptError::Resources("the host's open-file table is full (fs.file-max)")
            }
            Some(libc::ENOBUFS | libc::ENOMEM) => {
                AcceptError::Resources("the kernel is short of memory for sockets")
            }
            // Anything else (EPERM from a security module, ...) is taken as
            // passing: a daemon that keeps trying can still recover.
            _ => AcceptError::Resources("unexpected error"),
        }
    }
}

/// The failed accepts of one burst and the pause before the next try:
/// Go's net/http (5 ms, doubled each time, at most 1 s).
#[derive(Default)]
struct AcceptFailures {
    count: u64,
    delay: Duration,
    /// Whether this burst was logged (its end is, then, too).
    logged: bool,
    said: Throttle,
}

impl AcceptFailures {
    const FIRST_DELAY: Duration = Duration::from_millis(5);
    const MAX_DELAY: Duration = Duration::from_secs(1);

    /// Logs the burst's first failure, then sleeps a little longer each time.
    async fn back_off(&mut self, e: &io::Error, cause: &str) {
        if self.count == 0 && self.said.allows() {
            eprintln!(
                "berth daemon: cannot accept API connections ({cause}): {e}; \
                 retrying as connections close"
            );
            self.logged = true;
        }
        self.count += 1;
        tokio::time::sleep(self.next_delay()).await;
    }

    fn next_delay(&mut self) -> Duration {
        self.delay = (self.delay * 2).clamp(Self::FIRST_DELAY, Self::MAX_DELAY);
        self.delay
    }

    /// An accept succeeded: the burst, if any, is over.
    fn recovered(&mut self) {
        if self.logged {
            eprintln!(
                "berth daemon: accepting API connections again after {} failed attempts",
                self.count
            );
        }
        self.count = 0;
        self.delay = Duration::ZERO;
        self.logged = false;
    }
}

/// Lets a message through at most once a minute: a daemon held at a limit
/// (a client that keeps reconnecting, descriptors that come and go) must
/// not flood its log about it.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    const EVERY: Duration = Duration::from_secs(60);

    fn allows(&mut self) -> bool {
        let now = Instant::now();
        if self.last.is_some_and(|t| now - t < Self::EVERY) {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// A connection's stream holding its slot, so the slot is given back when
/// the stream closes: also after an upgrade hands the stream to a hijack
/// (attach, exec), which outlives hyper's connection task.
struct Counted {
    stream: UnixStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_the_descriptors_go_to_connections() {
        assert_eq!(Limits::for_nofile(20_000).max_connections, 10_000);
        assert_eq!(Limits::for_nofile(256).max_connections, 128);
        assert_eq!(Limits::for_nofile(1).max_connections, 1);
        assert_eq!(
            Limits::for_nofile(u64::MAX).max_connections,
            Semaphore::MAX_PERMITS
        );
        assert_eq!(Limits::for_nofile(1024).header_timeout, HEADER_TIMEOUT);
    }

    #[test]
    fn accept_failures_back_off_as_go_does() {
        let mut f = AcceptFailures::default();
        let delays: Vec<Duration> = (0..10).map(|_| f.next_delay()).collect();
        assert_eq!(delays[0], Duration::from_millis(5));
        assert_eq!(delays[1], Duration::from_millis(10));
        assert_eq!(delays[9], Duration::from_secs(1));
    }

    #[test]
    fn only_a_broken_listener_ends_the_server() {
        let kind = |errno| AcceptError::of(&io::Error::from_raw_os_error(errno));
        assert!(matches!(kind(libc::EMFILE), AcceptError::Resources(_)));
        assert!(matches!(kind(libc::ENFILE), AcceptError::Resources(_)));
        assert!(matches!(kind(libc::ENOBUFS), AcceptError::Resources(_)));
        assert!(matches!(kind(libc::ENOMEM), AcceptError::Resources(_)));
        assert!(matches!(kind(libc::ECONNABORTED), AcceptError::ClientGone));
        assert!(matches!(kind(libc::EBADF), AcceptError::Listener));
    }

    #[test]
    fn a_throttle_says_once_a_minute() {
        let mut t = Throttle::default();
        assert!(t.allows());
        assert!(!t.allows());
        t.last = Some(Instant::now() - Throttle::EVERY);
        assert!(t.allows());
    }
}
