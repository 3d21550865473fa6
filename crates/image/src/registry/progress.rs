//! One progress bar per layer, as docker shows them (indicatif).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        let multi = enabled.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { multi }
    }

    /// A bar for one blob; hidden when progress is off.
    pub fn bar(&self, label: &str, size: Option<u64>) -> ProgressBar {
        let Some(m) = &self.multi else {
            return ProgressBar::hidden();
        };
        let bar = m.add(ProgressBar::new(size.unwrap_or(0)));
        bar.set_style(
            ProgressStyle::with_template("{prefix}: {msg:<12} [{bar:30}] {bytes}/{total_bytes}")
                .expect("template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar
    }
}

/// A reader that moves a bar as data passes.
pub struct Counting<R> {
    pub inner: R,
    pub bar: ProgressBar,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
