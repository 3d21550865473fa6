//! Reading a container's json-file log for `logs`: since/until/tail over
//! the rotated files, and following the current one as it grows (and
//! rotates).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
    /// The last N entries only.
    pub tail: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// 1 stdout, 2 stderr.
    pub stream: u8,
    pub line: String,
    pub time: String,
}

#[derive(Deserialize)]
struct Raw {
    log: String,
    stream: String,
    time: String,
}

fn parse(line: &[u8]) -> Option<Entry> {
    let raw: Raw = serde_json::from_slice(line).ok()?;
    Some(Entry {
        stream: if raw.stream == "stderr" { 2 } else { 1 },
        line: raw.log,
        time: raw.time,
    })
}

impl LogOptions {
    fn wants(&self, e: &Entry) -> bool {
        let stream_ok = (e.stream == 1 && self.stdout) || (e.stream == 2 && self.stderr);
        if !stream_ok {
            return false;
        }
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Ok(t) = humantime::parse_rfc3339(&e.time) else {
            return true;
        };
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

/// Parses `since`/`until` as the API sends them: unix seconds with an
/// optional fraction, or RFC 3339.
pub fn parse_time(s: &str) -> Option<SystemTime> {
    if s.is_empty() || s == "0" {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0)));
    }
    humantime::parse_rfc3339_weak(s).ok()
}

/// What the log holds now, with the options applied, and a follower that
/// continues from its end.
pub fn read(path: &Path, opts: &LogOptions) -> (Vec<Entry>, Follower) {
    let mut out = Vec::new();
    let files = berth_shim::log::files(path);
    let (rotated, current) = files.split_at(files.len() - 1);
    for f in rotated {
        if let Ok(file) = File::open(f) {
            for line in BufReader::new(file).split(b'\n').map_while(Result::ok) {
                if let Some(e) = parse(&line).filter(|e| opts.wants(e)) {
                    out.push(e);
                }
            }
        }
    }
    let mut follower = Follower {
        path: current[0].clone(),
        file: None,
        inode: 0,
        partial: Vec::new(),
        opts: opts.clone(),
    };
    out.extend(follower.poll());
    if let Some(n) = opts.tail {
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
    }
    (out, follower)
}

/// Reads what is appended to the log after a point.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    inode: u64,
    partial: Vec<u8>,
    opts: LogOptions,
}

impl Follower {
    /// The entries written since the last call.
    pub fn poll(&mut self) -> Vec<Entry> {
        let mut out = Vec::new();
        if self.file.is_none() {
            self.reopen();
        }
        self.read_rest(&mut out);
        // Rotated: finish the old file (done above), then start the new one.
        if let Ok(meta) = std::fs::metadata(&self.path)
            && meta.ino() != self.inode
        {
            self.reopen();
            self.read_rest(&mut out);
        }
        out
    }

    fn reopen(&mut self) {
        self.partial.clear();
        if let Ok(f) = File::open(&self.path) {
            self.inode = f.metadata().map(|m| m.ino()).unwrap_or(0);
            self.file = Some(f);
        }
    }

    fn read_rest(&mut self, out: &mut Vec<Entry>) {
        let Some(f) = self.file.as_mut() else { return };
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            return;
        }
        // A file truncated under us (copytruncate) starts over.
        if let Ok(pos) = f.stream_position()
            && f.metadata().is_ok_and(|m| m.len() < pos)
        {
            let _ = f.seek(SeekFrom::Start(0));
        }
        self.partial.extend_from_slice(&buf);
        let mut start = 0;
        while let Some(nl) = self.partial[start..].iter().position(|&b| b == b'\n') {
            if let Some(e) = parse(&self.partial[start..start + nl]).filter(|e| self.opts.wants(e))
            {
                out.push(e);
            }
            start += nl + 1;
        }
        self.partial.drain(..start);
    }
}
