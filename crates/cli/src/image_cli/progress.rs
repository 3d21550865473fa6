//! The engine's JSON message stream (pull, push, load, import) printed as
//! docker's CLI prints it (its jsonmessage package): on a terminal, one line
//! per layer, redrawn in place with a bar; otherwise one line per change of
//! status, without the byte counts.
//!
//! Why not indicatif: docker's output is line-addressed by layer id and its
//! bar has its own text (`[==>   ]  1.2MB/3.4MB`); scripts and people read
//! the same lines from both engines, so the rendering follows docker's, which
//! a generic progress-bar crate does not draw.

use std::io::Write;

use anyhow::Result;
use berth_client::BodyStream;
use serde_json::Value;

use crate::container_cli::format::human_size_prec;

/// An `error` message in the stream; a build's carries the failed RUN's
/// exit code, which docker's CLI exits with.
#[derive(Debug)]
pub struct StreamError {
    pub message: String,
    pub code: Option<i64>,
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StreamError {}

/// What a stream ended with, beside what it printed.
#[derive(Default)]
pub struct Outcome {
    /// The `aux` objects (push's Tag, Digest, Size).
    pub aux: Vec<Value>,
    /// Every `status` line, in order (for `--quiet` callers).
    pub statuses: Vec<String>,
}

/// Reads the stream to its end, printing to `out` unless `quiet`; an
/// `error` message in it is the error returned.
pub async fn render(
    mut body: BodyStream,
    out: &mut dyn Write,
    terminal: bool,
    quiet: bool,
) -> Result<Outcome> {
    let mut pending = Vec::new();
    let mut display = Display::new(terminal);
    let mut outcome = Outcome::default();
    while let Some(chunk) = body.next().await? {
        pending.extend_from_slice(chunk);
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            handle(&line, out, &mut display, &mut outcome, quiet)?;
        }
    }
    if !pending.is_empty() {
        handle(&pending, out, &mut display, &mut outcome, quiet)?;
    }
    Ok(outcome)
}

fn handle(
    line: &[u8],
    out: &mut dyn Write,
    display: &mut Display,
    outcome: &mut Outcome,
    quiet: bool,
) -> Result<()> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let m: Value = serde_json::from_slice(line)
        .map_err(|e| anyhow::anyhow!("the engine sent a bad progress message: {e}"))?;
    if let Some(err) = m["errorDetail"]["message"]
        .as_str()
        .or_else(|| m["error"].as_str())
    {
        return Err(StreamError {
            message: err.to_string(),
            code: m["errorDetail"]["code"].as_i64(),
        }
        .into());
    }
    if !m["aux"].is_null() {
        outcome.aux.push(m["aux"].clone());
        return Ok(());
    }
    if let Some(s) = m["stream"].as_str() {
        if !quiet {
            write!(out, "{s}")?;
        }
        return Ok(());
    }
    let Some(status) = m["status"].as_str() else {
        return Ok(());
    };
    outcome.statuses.push(status.to_string());
    if quiet {
        return Ok(());
    }
    display.show(out, m["id"].as_str(), status, progress(&m))?;
    out.flush()?;
    Ok(())
}

fn progress(m: &Value) -> Option<(u64, u64)> {
    let d = &m["progressDetail"];
    Some((d["current"].as_u64()?, d["total"].as_u64().unwrap_or(0)))
}

/// docker's bar: 50 columns of `=` with a `>` head, then the sizes.
pub fn bar(current: u64, total: u64) -> String {
    if total == 0 {
        return human_size_prec(current as f64, 3);
    }
    const WIDTH: u64 = 50;
    let filled = (current.min(total) * WIDTH / total) as usize;
    let mut s = String::from("[");
    s.push_str(&"=".repeat(filled));
    if filled < WIDTH as usize {
        s.push('>');
        s.push_str(&" ".repeat(WIDTH as usize - filled - 1));
    }
    s.push(']');
    format!(
        "{s} {:>8}/{}",
        human_size_prec(current as f64, 3),
        human_size_prec(total as f64, 3)
    )
}

/// The lines of a terminal display, one per id, in the order ids came.
struct Display {
    terminal: bool,
    ids: Vec<String>,
    /// Off a terminal: the last status printed per id, so a repeat is not.
    last: std::collections::HashMap<String, String>,
}

impl Display {
    fn new(terminal: bool) -> Display {
        Display {
            terminal,
            ids: Vec::new(),
            last: Default::default(),
        }
    }

    fn show(
        &mut self,
        out: &mut dyn Write,
        id: Option<&str>,
        status: &str,
        progress: Option<(u64, u64)>,
    ) -> std::io::Result<()> {
        let Some(id) = id else {
            return writeln!(out, "{status}");
        };
        if !self.terminal {
            // docker prints no byte counts off a terminal, and each status once.
            if progress.is_some() || self.last.get(id).is_some_and(|s| s == status) {
                return Ok(());
            }
            self.last.insert(id.to_string(), status.to_string());
            return writeln!(out, "{id}: {status}");
        }
        let text = match progress {
            Some((c, t)) => format!("{id}: {status} {}", bar(c, t)),
            None => format!("{id}: {status}"),
        };
        match self.ids.iter().position(|i| i == id) {
            None => {
                self.ids.push(id.to_string());
                writeln!(out, "{text}")
            }
            Some(pos) => {
                // Up to the id's line, rewrite it, and back down.
                let up = self.ids.len() - pos;
                write!(out, "\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_plain_lines_as_docker_draws_them() {
        assert_eq!(bar(0, 100), format!("[>{}]       0B/100B", " ".repeat(49)));
        assert!(bar(50, 100).starts_with(&format!("[{}>", "=".repeat(25))));
        assert!(bar(100, 100).starts_with(&format!("[{}]", "=".repeat(50))));
        let mut d = Display::new(false);
        let mut out = Vec::new();
        d.show(&mut out, Some("abc"), "Pulling fs layer", None)
            .unwrap();
        d.show(&mut out, Some("abc"), "Downloading", Some((1, 2)))
            .unwrap();
        d.show(&mut out, Some("abc"), "Pull complete", None)
            .unwrap();
        d.show(&mut out, Some("abc"), "Pull complete", None)
            .unwrap();
        d.show(&mut out, None, "Digest: sha256:x", None).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "abc: Pulling fs layer\nabc: Pull complete\nDigest: sha256:x\n"
        );
    }
}
