//! Hijacked connections (attach, exec): the client asks for `Upgrade: tcp`,
//! gets 101, and the same connection then carries raw stdio both ways.

use std::future::Future;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::{Body, error, full};

pub type Conn = TokioIo<hyper::upgrade::Upgraded>;

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
    let on = hyper::upgrade::on(req);
    respond_on(on, tty, f)
}

/// As [`respond`], with the upgrade already taken from the request.
pub fn respond_on<F, Fut>(on: hyper::upgrade::OnUpgrade, tty: bool, f: F) -> Response<Body>
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        if let Ok(upgraded) = on.await {
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

/// Copies both ways until the container's side ends and the client's too.
pub async fn splice(mut conn: Conn, mut other: impl AsyncRead + AsyncWrite + Unpin) {
    let _ = tokio::io::copy_bidirectional(&mut conn, &mut other).await;
    let _ = conn.shutdown().await;
}

/// Tells a hijacked client what went wrong, then hangs up.
pub async fn fail(mut conn: Conn, message: &str) {
    let _ = conn
        .write_all(format!("Error: {message}\n").as_bytes())
        .await;
    let _ = conn.shutdown().await;
}
