//! `GET /containers/{id}/logs`: the json-file log, framed as Docker frames
//! it (multiplexed unless the container has a terminal), optionally
//! followed until the container stops or the client leaves.

use std::sync::Arc;
use std::time::Duration;

use berth_engine::Engine;
use berth_engine::logs::{self, Entry, LogOptions};
use bytes::Bytes;
use hyper::Response;

use crate::containers::engine_error;
use crate::routes::{Query, first, truthy};
use crate::{Body, error};

pub(crate) fn encode(e: &Entry, tty: bool, timestamps: bool, out: &mut Vec<u8>) {
    let mut data = Vec::new();
    if timestamps {
        data.extend_from_slice(e.time.as_bytes());
        data.push(b' ');
    }
    data.extend_from_slice(e.line.as_bytes());
    if tty {
        out.extend_from_slice(&data);
    } else {
        berth_engine::frame(e.stream, &data, out);
    }
}

/// How much of the log is read for one send (the channel holds a few).
const BATCH: usize = 256 * 1024;

pub async fn logs(engine: Arc<Engine>, name: &str, q: &Query) -> Response<Body> {
    let c = match engine.get(name) {
        Ok(c) => c,
        Err(e) => return engine_error(e),
    };
    if c.host_config.log_config.kind == "none" {
        // dockerd's ErrReadLogsNotSupported, a 501.
        return error(501, "configured logging driver does not support reading");
    }
    let opts = LogOptions {
        stdout: truthy(q, "stdout"),
        stderr: truthy(q, "stderr"),
        since: first(q, "since").and_then(logs::parse_time),
        until: first(q, "until").and_then(logs::parse_time),
        tail: first(q, "tail").and_then(|t| t.parse().ok()),
    };
    if !opts.stdout && !opts.stderr {
        return error(400, "Bad parameters: you must choose at least one stream");
    }
    let follow = truthy(q, "follow") && opts.until.is_none();
    let timestamps = truthy(q, "timestamps");
    let tty = c.config.tty;
    let path = engine.log_path(&c.id);
    let (tx, body) = crate::stream::async_channel();
    tokio::spawn(async move {
        // What the log holds, a batch at a time (the reader keeps its
        // memory bounded), then, with follow, what is written after.
        let mut reader = logs::open(&path, &opts);
        loop {
            let (batch, back) = tokio::task::spawn_blocking(move || {
                let batch = reader.next_batch(BATCH);
                (batch, reader)
            })
            .await
            .expect("log reader does not panic");
            reader = back;
            if batch.is_empty() {
                break;
            }
            let mut buf = Vec::new();
            for e in &batch {
                encode(e, tty, timestamps, &mut buf);
            }
            if tx.send(Bytes::from(buf)).await.is_err() {
                return;
            }
        }
        if !follow {
            return;
        }
        loop {
            let running = engine.get(&c.id).is_ok_and(|c| c.is_running());
            let mut buf = Vec::new();
            for e in reader.next_batch(BATCH) {
                encode(&e, tty, timestamps, &mut buf);
            }
            let more = !buf.is_empty();
            if more && tx.send(Bytes::from(buf)).await.is_err() {
                return;
            }
            if !running && !more {
                return;
            }
            if more {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = tx.closed() => return,
            }
        }
    });
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Response::builder()
        .status(200)
        .header("Content-Type", content_type)
        .body(body)
        .expect("a valid response")
}
