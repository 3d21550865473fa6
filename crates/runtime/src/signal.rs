//! Signals as people and Docker name them.

use std::str::FromStr;

use nix::sys::signal::Signal;

/// A signal by number or name, with or without SIG, any case
/// (`9`, `kill`, `SIGKILL`); None for anything else.
pub fn parse(s: &str) -> Option<Signal> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("9"), Some(Signal::SIGKILL));
        assert_eq!(parse("kill"), Some(Signal::SIGKILL));
        assert_eq!(parse("SIGTERM"), Some(Signal::SIGTERM));
        assert_eq!(parse("NOPE"), None);
        assert_eq!(parse("99"), None);
    }
}
