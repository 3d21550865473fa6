//! Hijacked connections (attach, exec): the client asks for `Upgrade: tcp`,
//! gets 101, and the same connection then carries raw stdio both ways.

use std::future::Future;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Body, error, full};

pub type Conn = TokioIo<hyper::upgrade::Upgraded>;

/// The descriptor of the connection's socket, which the server puts in
/// every request's extensions (see [`respond_on`]).
#[derive(Debug, Clone, Copy)]
pub struct PeerSocket(pub std::os::fd::RawFd);

/// The socket under `req`, when the server put it there.
pub fn peer_socket(req: &Request<Incoming>) -> Option<PeerSocket> {
    req.extensions().get::<PeerSocket>().copied()
}

/// Answers 101 and runs `f` on the connection once hyper hands it over.
pub fn respond<F, Fut>(req: &mut Request<Incoming>, tty: bool, f: F) -> Response<Body>
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !req.headers().contains_key(hyper::header::UPGRADE) {
        return error(
            400,
            "this endpoint hijacks the connection: send Connection: Upgrade and Upgrade: tcp",
        );
    }
    let peer = peer_socket(req);
    let on = hyper::upgrade::on(req);
    respond_on(on, peer, tty, f)
}

/// As [`respond`], with the upgrade (and the socket, from [`peer_socket`])
/// already taken from the request.
///
/// `f` runs once the client has read the 101 (its socket's queue is
/// empty; 2 s at most): docker-py reads the head through a buffered
/// reader, then reads the stream from the socket underneath, so stream
/// bytes that arrived with the head were lost (an exec's whole output, 1
/// time in 10). dockerd's slower start hides the same race.
pub fn respond_on<F, Fut>(
    on: hyper::upgrade::OnUpgrade,
    peer: Option<PeerSocket>,
    tty: bool,
    f: F,
) -> Response<Body>
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        if let Ok(upgraded) = on.await {
            if let Some(PeerSocket(fd)) = peer {
                // The upgraded connection holds the socket open meanwhile.
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
                while berth_sys::unread_by_peer(fd).is_ok_and(|n| n > 0)
                    && tokio::time::Instant::now() < deadline
                {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
            f(TokioIo::new(upgraded)).await;
        }
    });
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Response::builder()
        .status(101)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .header("Content-Type", content_type)
        .header("Api-Version", crate::API_VERSION)
        .body(full(Bytes::new()))
        .expect("a valid response")
}

/// Copies both ways until the container's side ends and the client's too,
/// or until the client types the detach sequence (`keys`, parsed; empty
/// is Docker's default; None: not watched, as dockerd watches only a
/// terminal's input): then, as dockerd, the connection is closed and the
/// container goes on, its stdin left open (the shim closes it on our
/// leaving only for a StdinOnce container).
pub async fn splice(conn: Conn, other: impl AsyncRead + AsyncWrite + Unpin, keys: Option<Vec<u8>>) {
    let (client_rd, mut client_wr) = tokio::io::split(conn);
    let (mut other_rd, mut other_wr) = tokio::io::split(other);
    let mut input = Box::pin(async move {
        copy_input(client_rd, &mut other_wr, keys)
            .await
            .unwrap_or(false)
    });
    let mut output = Box::pin(async move {
        let _ = tokio::io::copy(&mut other_rd, &mut client_wr).await;
        let _ = client_wr.shutdown().await;
    });
    let (mut input_done, mut output_done) = (false, false);
    while !(input_done && output_done) {
        tokio::select! {
            detached = &mut input, if !input_done => {
                if detached {
                    break;
                }
                input_done = true;
            }
            () = &mut output, if !output_done => output_done = true,
        }
    }
    // Dropping both halves of each side closes them: on a detach, the
    // client reads the end of the stream and its writes fail.
}

/// Copies `from` (the client's side of a hijacked connection) into
/// `to`, through the detach matcher when there are `keys`: `Ok(true)`
/// when the client typed the sequence, `Ok(false)` at the client's end of
/// input (after `to`'s shutdown), `Err` when `to` is gone.
pub async fn copy_input(
    mut from: impl AsyncRead + Unpin,
    to: &mut (impl AsyncWrite + Unpin),
    keys: Option<Vec<u8>>,
) -> std::io::Result<bool> {
    let mut escape = keys.map(berth_models::detach::Matcher::new);
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return Ok(false);
            }
            Ok(n) => n,
        };
        out.clear();
        let detached = match &mut escape {
            Some(escape) => escape.feed(&buf[..n], &mut out),
            None => {
                out.extend_from_slice(&buf[..n]);
                false
            }
        };
        if !out.is_empty() {
            to.write_all(&out).await?;
            to.flush().await?;
        }
        if detached {
            return Ok(true);
        }
    }
}

/// Tells a hijacked client what went wrong, then hangs up.
pub async fn fail(mut conn: Conn, message: &str) {
    let _ = conn
        .write_all(format!("Error: {message}\n").as_bytes())
        .await;
    let _ = conn.shutdown().await;
}

/// A hijacking endpoint's refusal as dockerd sends it for attach: the
/// status, a raw-stream content type and the message as plain text (no
/// JSON), then the end of the connection.
pub fn refuse(status: u16, message: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/vnd.docker.raw-stream")
        .header("Connection", "close")
        .header("Api-Version", crate::API_VERSION)
        .body(full(Bytes::from(format!("{message}\r\n"))))
        .expect("a valid response")
}
