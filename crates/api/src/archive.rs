//! `/containers/{id}/archive` (`docker cp` both ways) and `/export`,
//! streamed through the engine's confined helper process.

use std::sync::Arc;

use base64::Engine as _;
use berth_engine::Engine;
use berth_engine::archive::helper_error;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::containers::engine_error;
use crate::routes::{Query, first};
use crate::{Body, error, full};

pub async fn archive(
    engine: Arc<Engine>,
    req: Request<Incoming>,
    method: Method,
    name: &str,
    q: &Query,
) -> Response<Body> {
    let Some(path) = first(q, "path")
        .filter(|p| !p.is_empty())
        .map(str::to_string)
    else {
        return error(400, "path is required");
    };
    match method {
        Method::HEAD => match engine.path_stat(name, &path).await {
            Ok(st) => Response::builder()
                .status(200)
                .header("X-Docker-Container-Path-Stat", stat_header(&st))
                .body(full(Bytes::new()))
                .expect("a valid response"),
            Err(e) => engine_error(e),
        },
        Method::GET => {
            let st = match engine.path_stat(name, &path).await {
                Ok(st) => st,
                Err(e) => return engine_error(e),
            };
            let child = match engine.container_fs(name, "get", &path) {
                Ok(c) => c,
                Err(e) => return engine_error(e),
            };
            stream_out(child, "application/x-tar", Some(stat_header(&st)))
        }
        Method::PUT => put(engine, req, name, &path).await,
        m => error(405, format!("{m} is not allowed on /archive")),
    }
}

fn stat_header(st: &berth_engine::archive::PathStat) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(st).expect("json serializes"))
}

/// The helper's stdout as the response body.
pub fn stream_out(
    mut child: tokio::process::Child,
    content_type: &str,
    stat: Option<String>,
) -> Response<Body> {
    let mut stdout = child.stdout.take().expect("piped");
    let (tx, body) = crate::stream::async_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match stdout.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                        // The client left: the helper dies with `child`.
                        return;
                    }
                }
            }
        }
        let _ = child.wait().await;
    });
    let mut b = Response::builder()
        .status(200)
        .header("Content-Type", content_type);
    if let Some(s) = stat {
        b = b.header("X-Docker-Container-Path-Stat", s);
    }
    b.body(body).expect("a valid response")
}

async fn put(
    engine: Arc<Engine>,
    req: Request<Incoming>,
    name: &str,
    path: &str,
) -> Response<Body> {
    let mut child = match engine.container_fs(name, "put", path) {
        Ok(c) => c,
        Err(e) => return engine_error(e),
    };
    let mut stdin = child.stdin.take().expect("piped");
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return error(400, "the upload was cut short");
        };
        if let Ok(data) = frame.into_data()
            && stdin.write_all(&data).await.is_err()
        {
            break;
        }
    }
    drop(stdin);
    match child.wait_with_output().await {
        Ok(out) if out.status.success() => Response::builder()
            .status(200)
            .body(full(Bytes::new()))
            .expect("a valid response"),
        Ok(out) => engine_error(helper_error(&out.stderr, path)),
        Err(e) => error(500, format!("the container-fs helper: {e}")),
    }
}

/// `GET /containers/{id}/export`.
pub fn export(engine: &Engine, name: &str) -> Response<Body> {
    match engine.container_fs(name, "export", "/") {
        Ok(child) => stream_out(child, "application/x-tar", None),
        Err(e) => engine_error(e),
    }
}
