//! Reading a container's json-file log for `logs`: since/until/tail over
//! the rotated files, and following the current one as it grows (and
//! rotates), in bounded batches: the tail found from the end of the files,
//! never the whole log in memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
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

/// A line longer than this is not one the shim wrote (it splits output
/// at 16 KiB, Docker's size, about 100 KiB once JSON-escaped): skipped, so
/// that a log file cannot make the daemon hold an unbounded line.
const MAX_LINE: usize = 1 << 20;

/// How much is read from a file at a time.
const CHUNK: usize = 64 * 1024;

/// A reader of the log from where the options say (the whole of it, or
/// the last `tail` lines), in bounded batches, that then follows the
/// current file as it grows and rotates. Memory stays bounded whatever the
/// log's size: nothing is read whole.
pub fn open(path: &Path, opts: &LogOptions) -> Reader {
    let files = berth_shim::log::files(path);
    let (first, offset) = match opts.tail {
        Some(n) => tail_start(&files, n),
        None => (0, 0),
    };
    let mut segments: std::collections::VecDeque<(PathBuf, u64)> =
        files[first..].iter().map(|f| (f.clone(), 0)).collect();
    if let Some(s) = segments.front_mut() {
        s.1 = offset;
    }
    Reader {
        current: path.to_path_buf(),
        segments,
        file: None,
        inode: 0,
        partial: Vec::new(),
        skipping: false,
        opts: opts.clone(),
    }
}

/// Where the last `n` lines of `files` (oldest first) begin: the file's
/// index and the offset in it, found by reading backwards from the end.
fn tail_start(files: &[PathBuf], n: usize) -> (usize, u64) {
    let mut wanted = n;
    for (i, path) in files.iter().enumerate().rev() {
        let Ok(mut f) = File::open(path) else {
            continue;
        };
        let Ok(len) = f.metadata().map(|m| m.len()) else {
            continue;
        };
        if wanted == 0 {
            return (i, len);
        }
        // Bytes after the last newline are a line still being written: not
        // counted (the reader keeps them until the line ends).
        let mut newlines = 0;
        let mut end = len;
        let mut buf = vec![0u8; CHUNK];
        while end > 0 {
            let start = end.saturating_sub(CHUNK as u64);
            let chunk = &mut buf[..(end - start) as usize];
            if f.seek(SeekFrom::Start(start)).is_err() || f.read_exact(chunk).is_err() {
                break;
            }
            for (k, &b) in chunk.iter().enumerate().rev() {
                if b == b'\n' {
                    newlines += 1;
                    // The newline before the wanted lines: they start after it.
                    if newlines == wanted + 1 {
                        return (i, start + k as u64 + 1);
                    }
                }
            }
            end = start;
        }
        // Every line of this file is wanted (its first has no newline
        // before it); the older files give the rest.
        if newlines >= wanted {
            return (i, 0);
        }
        wanted -= newlines;
    }
    (0, 0)
}

/// Reads a container's log from a point on; see [`open`].
pub struct Reader {
    /// The log's current file, the one followed.
    current: PathBuf,
    /// What is left to read, oldest first: rotated files read to their
    /// end, then the current file (the last), each from an offset.
    segments: std::collections::VecDeque<(PathBuf, u64)>,
    file: Option<File>,
    inode: u64,
    /// The start of a line not yet ended.
    partial: Vec<u8>,
    /// Within a line longer than [`MAX_LINE`]: dropped up to its newline.
    skipping: bool,
    opts: LogOptions,
}

impl Reader {
    /// The next entries, about `budget` bytes of the log at most; empty
    /// when the reader has caught up with the log's end (a later call
    /// returns what was written since, across a rotation).
    pub fn next_batch(&mut self, budget: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut read = 0;
        let mut buf = vec![0u8; CHUNK];
        // Past the budget only while nothing was found (skipped or
        // filtered lines): an empty batch means the end of the log.
        while read < budget || out.is_empty() {
            if self.file.is_none() && !self.open_next() {
                break;
            }
            let f = self.file.as_mut().expect("opened above");
            // A read error ends this batch as an end of file would.
            let n = f.read(&mut buf).unwrap_or_default();
            if n > 0 {
                read += n;
                self.take_lines(&buf[..n], &mut out);
                continue;
            }
            // The end of this file. A rotated one is done; the current one
            // is done when it was rotated away (a new file has its name),
            // else the reader has caught up.
            let rotated = std::fs::metadata(&self.current).is_ok_and(|m| m.ino() != self.inode);
            if self.segments.len() > 1 || rotated {
                self.file = None;
                self.partial.clear();
                self.skipping = false;
                if self.segments.len() > 1 {
                    self.segments.pop_front();
                } else {
                    self.segments[0] = (self.current.clone(), 0);
                }
                continue;
            }
            // A file truncated under us (copytruncate) starts over.
            if let Ok(pos) = f.stream_position()
                && f.metadata().is_ok_and(|m| m.len() < pos)
            {
                let _ = f.seek(SeekFrom::Start(0));
                self.partial.clear();
            }
            break;
        }
        out
    }

    fn open_next(&mut self) -> bool {
        let Some((path, offset)) = self.segments.front().cloned() else {
            return false;
        };
        let Ok(mut f) = File::open(&path) else {
            if self.segments.len() > 1 {
                // A rotated file removed by a later rotation: go on.
                self.segments.pop_front();
                return self.open_next();
            }
            return false;
        };
        if offset > 0 && f.seek(SeekFrom::Start(offset)).is_err() {
            return false;
        }
        self.inode = f.metadata().map(|m| m.ino()).unwrap_or(0);
        self.file = Some(f);
        true
    }

    fn take_lines(&mut self, mut data: &[u8], out: &mut Vec<Entry>) {
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            let (line, rest) = (&data[..nl], &data[nl + 1..]);
            if self.skipping {
                self.skipping = false;
            } else if self.partial.len() + line.len() <= MAX_LINE {
                self.partial.extend_from_slice(line);
                if let Some(e) = parse(&self.partial).filter(|e| self.opts.wants(e)) {
                    out.push(e);
                }
            }
            self.partial.clear();
            data = rest;
        }
        if self.skipping {
            return;
        }
        if self.partial.len() + data.len() > MAX_LINE {
            self.partial.clear();
            self.skipping = true;
        } else {
            self.partial.extend_from_slice(data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> String {
        format!(
            "{{\"log\":\"line {n}\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:00Z\"}}\n"
        )
    }

    fn all(reader: &mut Reader) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let batch = reader.next_batch(100);
            if batch.is_empty() {
                return out;
            }
            out.extend(batch.into_iter().map(|e| e.line.trim_end().to_string()));
        }
    }

    fn opts(tail: Option<usize>) -> LogOptions {
        LogOptions {
            stdout: true,
            stderr: true,
            tail,
            ..Default::default()
        }
    }

    /// A log of lines 0..n over a rotated file (`.1`) and the current one.
    fn log(
        dir: &Path,
        rotated: std::ops::Range<usize>,
        current: std::ops::Range<usize>,
    ) -> PathBuf {
        let path = dir.join("log.json");
        let text = |r: std::ops::Range<usize>| r.map(line).collect::<String>();
        std::fs::write(dir.join("log.json.1"), text(rotated)).unwrap();
        std::fs::write(&path, text(current)).unwrap();
        path
    }

    #[test]
    fn tail_counts_back_over_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = log(dir.path(), 0..5000, 5000..5003);
        let names = |v: std::ops::Range<usize>| v.map(|n| format!("line {n}")).collect::<Vec<_>>();
        assert_eq!(all(&mut open(&path, &opts(Some(2)))), names(5001..5003));
        assert_eq!(all(&mut open(&path, &opts(Some(3)))), names(5000..5003));
        assert_eq!(all(&mut open(&path, &opts(Some(5)))), names(4998..5003));
        assert_eq!(all(&mut open(&path, &opts(Some(4000)))), names(1003..5003));
        assert_eq!(all(&mut open(&path, &opts(Some(9999)))), names(0..5003));
        assert_eq!(all(&mut open(&path, &opts(None))), names(0..5003));
        assert!(all(&mut open(&path, &opts(Some(0)))).is_empty());
    }

    #[test]
    fn a_line_being_written_waits_and_a_huge_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = log(dir.path(), 0..0, 0..2);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        use std::io::Write;
        // A line over MAX_LINE, then a good one, then half of another.
        f.write_all(&vec![b'x'; MAX_LINE + 10]).unwrap();
        f.write_all(b"\n").unwrap();
        f.write_all(line(2).as_bytes()).unwrap();
        let third = line(3);
        f.write_all(&third.as_bytes()[..10]).unwrap();
        // The huge line counts as one of the last three.
        let mut reader = open(&path, &opts(Some(3)));
        assert_eq!(all(&mut reader), ["line 1", "line 2"]);
        f.write_all(&third.as_bytes()[10..]).unwrap();
        assert_eq!(all(&mut reader), ["line 3"]);
    }

    #[test]
    fn following_goes_on_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = log(dir.path(), 0..1, 1..2);
        let mut reader = open(&path, &opts(None));
        assert_eq!(all(&mut reader), ["line 0", "line 1"]);
        // What the shim does at the size limit: the current file renamed
        // (after a last line), a new one started.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        use std::io::Write;
        f.write_all(line(2).as_bytes()).unwrap();
        std::fs::rename(&path, dir.path().join("log.json.1")).unwrap();
        std::fs::write(&path, line(3)).unwrap();
        assert_eq!(all(&mut reader), ["line 2", "line 3"]);
    }
}
