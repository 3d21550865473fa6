//! Conveniences for [`std::process::Output`].

use std::process::Output;

/// Helpers for reading and asserting on a runtime's [`Output`].
pub trait OutputExt {
    /// stdout, decoded lossily as UTF-8.
    fn stdout_str(&self) -> String;
    /// stderr, decoded lossily as UTF-8.
    fn stderr_str(&self) -> String;
    /// Panics, showing exit status, stdout and stderr, unless the process exited 0.
    fn assert_success(&self) -> &Self;
    /// Panics, showing stdout and stderr, unless the process exited with `code`.
    fn assert_code(&self, code: i32) -> &Self;
}

impl OutputExt for Output {
    fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    #[track_caller]
    fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "command failed: {}", describe(self));
        self
    }

    #[track_caller]
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "unexpected exit: {}",
            describe(self)
        );
        self
    }
}

fn describe(o: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        o.stdout_str(),
        o.stderr_str()
    )
}
