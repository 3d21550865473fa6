//! Progress of a pull or push as typed events, one per step, as moby's JSON
//! progress messages carry them (the engine sends them on; a client draws
//! the bars). Nothing here draws: the image crate has no terminal.

use std::io::Read;

/// One step of a long operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What the step is about: a layer's short digest, or a tag; None for a
    /// line of its own ("Digest: ...").
    pub id: Option<String>,
    /// moby's words: "Pulling fs layer", "Downloading", "Pull complete", ...
    pub status: String,
    /// (bytes done, total bytes) of a transfer under way.
    pub progress: Option<(u64, u64)>,
}

impl Event {
    pub fn line(status: impl Into<String>) -> Event {
        Event {
            id: None,
            status: status.into(),
            progress: None,
        }
    }

    pub fn about(id: impl Into<String>, status: impl Into<String>) -> Event {
        Event {
            id: Some(id.into()),
            status: status.into(),
            progress: None,
        }
    }
}

/// Where events go; called from the threads that move the layers.
pub type Sink<'a> = &'a (dyn Fn(Event) + Sync);

/// A sink that drops everything.
pub fn discard(_: Event) {}

/// A reader that reports the bytes that pass, as `status` events about `id`:
/// at most a hundred per transfer (and every 512 KiB at least), then the last.
pub struct Counting<'a, R> {
    inner: R,
    sink: Sink<'a>,
    id: String,
    status: &'static str,
    total: u64,
    done: u64,
    reported: u64,
}

impl<'a, R> Counting<'a, R> {
    pub fn new(inner: R, sink: Sink<'a>, id: &str, status: &'static str, total: u64) -> Self {
        Counting {
            inner,
            sink,
            id: id.to_string(),
            status,
            total,
            done: 0,
            reported: 0,
        }
    }
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        let step = (self.total / 100).max(512 << 10);
        if n > 0 && (self.done - self.reported >= step || self.done >= self.total) {
            self.reported = self.done;
            (self.sink)(Event {
                id: Some(self.id.clone()),
                status: self.status.to_string(),
                progress: Some((self.done, self.total.max(self.done))),
            });
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_transfer_reports_its_bytes_in_steps_and_its_end() {
        let seen = Mutex::new(Vec::new());
        let sink = |e: Event| seen.lock().unwrap().push(e);
        let data = vec![7u8; 3 << 20];
        let mut r = Counting::new(&data[..], &sink, "abc", "Downloading", data.len() as u64);
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        let seen = seen.into_inner().unwrap();
        assert!(seen.len() >= 3 && seen.len() <= 101, "{}", seen.len());
        assert_eq!(seen.last().unwrap().progress, Some((3 << 20, 3 << 20)));
        assert!(seen.iter().all(|e| e.id.as_deref() == Some("abc")));
        let done: Vec<u64> = seen.iter().map(|e| e.progress.unwrap().0).collect();
        assert!(done.windows(2).all(|w| w[0] < w[1]), "{done:?}");
    }
}
