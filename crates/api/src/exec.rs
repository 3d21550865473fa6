//! `/exec/{id}/...`: start (hijacked, or detached), resize, inspect.

use std::sync::Arc;

use berth_engine::Engine;
use berth_engine::exec::ExecSession;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::containers::{engine_error, read_json};
use crate::hijack::{self, Conn};
use crate::routes::{Query, first};
use crate::{Body, error, json};

/// The start body (moby's ExecStartCheck). The process's terminal was
/// chosen at create; `Tty` here chooses the framing of the output, as
/// dockerd does (docker-py starts a terminal exec with `Tty: false` and
/// reads multiplexed frames); `ConsoleSize` sizes the terminal.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    tty: bool,
    console_size: Option<[u16; 2]>,
}

pub async fn route(
    engine: Arc<Engine>,
    req: Request<Incoming>,
    method: Method,
    rest: &str,
    q: &Query,
) -> Response<Body> {
    let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
    let id = id.to_string();
    match (method, action) {
        (Method::GET, "json") => match engine.exec_inspect(&id) {
            Ok(v) => json(200, &v),
            Err(e) => engine_error(e),
        },
        (Method::POST, "resize") => {
            let h = first(q, "h").and_then(|v| v.parse().ok()).unwrap_or(0);
            let w = first(q, "w").and_then(|v| v.parse().ok()).unwrap_or(0);
            match engine.exec_resize(&id, h, w) {
                Ok(()) => Response::builder()
                    .status(200)
                    .body(crate::full(Bytes::new()))
                    .expect("a valid response"),
                Err(e) => engine_error(e),
            }
        }
        (Method::POST, "start") => start(engine, req, &id).await,
        (m, a) => error(404, format!("page not found: {m} /exec/{id}/{a}")),
    }
}

/// `POST /exec/{id}/start`: hijacked, or detached (`{"Detach": true}`).
async fn start(engine: Arc<Engine>, mut req: Request<Incoming>, id: &str) -> Response<Body> {
    let upgrade = req.headers().contains_key(hyper::header::UPGRADE);
    let peer = hijack::peer_socket(&req);
    // Taken before the body is read; it resolves once the 101 is sent.
    let on = upgrade.then(|| hyper::upgrade::on(&mut req));
    let body: StartBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(e) = engine.exec_startable(id) {
        return engine_error(e);
    }
    match on {
        Some(on) if !body.detach => {
            // Started once the connection is ours (see exec_startable).
            let raw = body.tty;
            let id = id.to_string();
            hijack::respond_on(on, peer, raw, move |conn| async move {
                match engine.exec_start(&id).await {
                    Ok(session) => {
                        if let (Some([h, w]), true) = (body.console_size, session.tty) {
                            let _ = engine.exec_resize(&id, h, w);
                        }
                        relay(conn, session, raw).await
                    }
                    // As dockerd: the error in the stream, where the
                    // client prints it (then reads the exit code).
                    Err(e) => {
                        use tokio::io::AsyncWriteExt;
                        let mut conn = conn;
                        let text = format!("{e}\r\n");
                        let mut out = Vec::new();
                        if raw {
                            out.extend_from_slice(text.as_bytes());
                        } else {
                            berth_engine::frame(1, text.as_bytes(), &mut out);
                        }
                        let _ = conn.write_all(&out).await;
                        let _ = conn.shutdown().await;
                    }
                }
            })
        }
        _ => {
            let session = match engine.exec_start(id).await {
                Ok(s) => s,
                Err(e) => return engine_error(e),
            };
            if let (Some([h, w]), true) = (body.console_size, session.tty)
                && let Err(e) = engine.exec_resize(id, h, w)
            {
                return engine_error(e);
            }
            // Detached: the process runs; nobody reads its output.
            tokio::spawn(drain(session));
            Response::builder()
                .status(200)
                .body(crate::full(Bytes::new()))
                .expect("a valid response")
        }
    }
}

async fn drain(mut s: ExecSession) {
    drop(s.stdin.take());
    while s.output.recv().await.is_some() {}
}

/// Output to the client (raw when the start asked for a terminal, else
/// framed), the client's bytes to the process's stdin, until it ends, or
/// until the client types the detach keys on a terminal's input: then the
/// connection closes and the process goes on, its output drained. (dockerd
/// 20.10 says "exec attach failed: error on attach stdin: read escape
/// sequence" there and ends the process; later versions detach quietly,
/// as documented, which is what clients such as docker-py accept.)
async fn relay(conn: Conn, mut s: ExecSession, raw: bool) {
    let (rd, mut wr) = tokio::io::split(conn);
    let stdin = s.stdin.take();
    let keys = std::mem::take(&mut s.detach_keys);
    let tty = s.tty;
    let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel();
    let input = tokio::spawn(async move {
        let Some(mut stdin) = stdin else { return };
        // As dockerd, only a terminal's input is watched for the keys.
        let keys = tty.then_some(keys);
        if let Ok(true) = hijack::copy_input(rd, &mut stdin, keys).await {
            // The process goes on, its terminal's input kept open.
            let _ = detached_tx.send(stdin);
        }
    });
    let mut watching = true;
    loop {
        let (stream, data) = tokio::select! {
            next = s.output.recv() => match next {
                Some(next) => next,
                None => break,
            },
            kept = &mut detached_rx, if watching => {
                // Err: the input ended without a detach.
                let Ok(kept) = kept else {
                    watching = false;
                    continue;
                };
                let _ = wr.shutdown().await;
                drop(wr);
                tokio::spawn(async move {
                    let _kept = kept;
                    drain(s).await;
                });
                return;
            }
        };
        let mut out = Vec::new();
        if raw {
            out = data;
        } else {
            berth_engine::frame(stream, &data, &mut out);
        }
        if wr.write_all(&out).await.is_err() {
            break;
        }
    }
    let _ = wr.shutdown().await;
    input.abort();
}
