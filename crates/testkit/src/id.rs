//! Unique container ids.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A container id unique per process and per call: `<prefix>-<pid>-<counter>-<nanos>`,
/// e.g. `hello-4242-0-1a2b3c4d`. The nanos part (hex, sub-second) guards
/// against pid reuse across test runs. Only `[A-Za-z0-9_.-]` survive from
/// `prefix` (others become `-`), so the id is valid for runc and crun.
pub fn unique_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_valid() {
        let a = unique_id("t");
        let b = unique_id("t");
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("t-{}-", std::process::id())));
        assert_eq!(unique_id("a b/c").split('-').next(), Some("a"));
        assert!(unique_id("a b/c").starts_with("a-b-c-"));
    }
}
