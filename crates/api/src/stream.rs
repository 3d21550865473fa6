//! A response body fed from a blocking writer through a bounded channel, so a
//! large archive streams with a few chunks in memory.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::sync::mpsc;

/// The writing end, for blocking code; fails once the client is gone.
pub struct ChannelWriter(mpsc::Sender<Bytes>);

impl io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// A writer and the body that carries what is written to it.
pub fn channel() -> (ChannelWriter, crate::Body) {
    let (tx, rx) = mpsc::channel(8);
    (ChannelWriter(tx), ChannelBody(rx).boxed())
}

/// An async sender and the body that carries what is sent, for streams
/// (wait, logs, events, stats) produced by tasks.
pub fn async_channel() -> (mpsc::Sender<Bytes>, crate::Body) {
    let (tx, rx) = mpsc::channel(64);
    (tx, ChannelBody(rx).boxed())
}
