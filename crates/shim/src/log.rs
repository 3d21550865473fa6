//! The json-file log driver, as Docker writes it: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"RFC3339Nano"}`, rotated by
//! size into `<log>.1`, `<log>.2`, ... so that `docker logs` readers and
//! berth's own reader agree on the format.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A line longer than this is written in pieces, as Docker does at 16 KiB.
const MAX_LINE: usize = 16 * 1024;

pub struct JsonLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
    /// Bytes of an unfinished line, per stream (stdout, stderr).
    partial: [Vec<u8>; 2],
}

impl JsonLog {
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> std::io::Result<JsonLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(JsonLog {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Takes output of `stream` (1 stdout, 2 stderr); writes each whole line.
    pub fn write(&mut self, stream: u8, mut data: &[u8]) {
        let idx = usize::from(stream == 2);
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[idx]);
            line.extend_from_slice(&data[..=nl]);
            self.entry(stream, &line);
            data = &data[nl + 1..];
        }
        self.partial[idx].extend_from_slice(data);
        if self.partial[idx].len() >= MAX_LINE {
            let line = std::mem::take(&mut self.partial[idx]);
            self.entry(stream, &line);
        }
    }

    /// Writes what is left of unfinished lines (at exit).
    pub fn flush(&mut self) {
        for (idx, stream) in [(0, 1u8), (1, 2u8)] {
            let line = std::mem::take(&mut self.partial[idx]);
            if !line.is_empty() {
                self.entry(stream, &line);
            }
        }
    }

    fn entry(&mut self, stream: u8, line: &[u8]) {
        let record = serde_json::json!({
            "log": String::from_utf8_lossy(line),
            "stream": if stream == 2 { "stderr" } else { "stdout" },
            "time": humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        });
        let mut bytes = serde_json::to_vec(&record).expect("json serializes");
        bytes.push(b'\n');
        if self.max_size > 0 && self.size > 0 && self.size + bytes.len() as u64 > self.max_size {
            self.rotate();
        }
        // A full disk loses log lines, never the container.
        if self.file.write_all(&bytes).is_ok() {
            self.size += bytes.len() as u64;
        }
    }

    fn rotate(&mut self) {
        let name = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.max_files > 1 {
            for n in (1..self.max_files - 1).rev() {
                let _ = std::fs::rename(name(n), name(n + 1));
            }
            let _ = std::fs::rename(&self.path, name(1));
        }
        if let Ok(f) = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)
        {
            self.file = f;
            self.size = 0;
        }
    }
}

/// The log files of a container, oldest first (rotated ones, then the current).
pub fn files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut n = 1;
    loop {
        let p = PathBuf::from(format!("{}.{n}", path.display()));
        if !p.exists() {
            break;
        }
        out.push(p);
        n += 1;
    }
    out.reverse();
    out.push(path.to_path_buf());
    out
}
