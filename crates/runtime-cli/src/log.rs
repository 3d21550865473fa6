//! Errors as runc reports them: a line on stderr, and with `--log` a line in
//! the log file (JSON with `--log-format json`), which containerd reads back.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::args::LogFormat;

pub struct Logger {
    file: Option<File>,
    format: LogFormat,
}

impl Logger {
    /// Opens (creating) the log file at once: containerd expects it to exist
    /// even when nothing went wrong.
    pub fn open(path: Option<&Path>, format: LogFormat) -> Logger {
        let file = path.and_then(|p| OpenOptions::new().create(true).append(true).open(p).ok());
        Logger { file, format }
    }

    /// Without `--log`, runc's (logrus's) text line on stderr, which
    /// harnesses (containerd's, youki's contest) match on `level=error`;
    /// with it, the line goes to the log and stderr gets the message alone
    /// (what a caller shows its user: the engine's exec).
    pub fn error(&self, msg: &str) {
        if self.file.is_none() {
            eprintln!(
                "time={:?} level=error msg={msg:?}",
                berth_runtime::state::now_rfc3339()
            );
            return;
        }
        eprintln!("{msg}");
        if let Some(mut f) = self.file.as_ref() {
            let line = match self.format {
                LogFormat::Json => serde_json::json!({
                    "level": "error",
                    "msg": msg,
                    "time": berth_runtime::state::now_rfc3339(),
                })
                .to_string(),
                LogFormat::Text => format!("{} error: {msg}", berth_runtime::state::now_rfc3339()),
            };
            let _ = writeln!(f, "{line}");
        }
    }
}
