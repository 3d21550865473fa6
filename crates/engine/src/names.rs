//! Container names: validated as Docker does, generated when absent.

use crate::error::{Error, Result};

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "clever", "eager", "fervent", "gentle", "happy", "jolly", "keen", "lucid",
    "merry", "nimble", "quiet", "rapid", "serene", "steady", "swift", "tender", "vivid", "witty",
];
const NAMES: &[&str] = &[
    "babbage", "bohr", "curie", "darwin", "euler", "faraday", "gauss", "hopper", "hypatia",
    "kepler", "lovelace", "maxwell", "noether", "pascal", "ritchie", "shannon", "tesla",
    "thompson", "turing", "wozniak",
];

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, with the API's leading `/` dropped.
pub fn validate(name: &str) -> Result<String> {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !ok {
        return Err(Error::Invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(n.to_string())
}

/// `adjective_scientist`, with a number when the plain one is taken.
pub fn generate(taken: impl Fn(&str) -> bool, seed: u64) -> String {
    let a = ADJECTIVES[(seed % ADJECTIVES.len() as u64) as usize];
    let n = NAMES[((seed / 101) % NAMES.len() as u64) as usize];
    let base = format!("{a}_{n}");
    if !taken(&base) {
        return base;
    }
    (1..)
        .map(|i| format!("{base}{i}"))
        .find(|c| !taken(c))
        .expect("some number is free")
}

/// 64 hex digits from the kernel's random source.
pub fn random_id() -> String {
    let mut buf = [0u8; 32];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        buf[..16].copy_from_slice(&t.to_le_bytes());
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate("/web").unwrap(), "web");
        assert!(validate("a b").is_err());
        assert!(validate("-x").is_err());
        assert!(validate("").is_err());
        let g = generate(|n| !n.ends_with('1'), 0);
        assert!(g.ends_with('1'), "{g}");
    }
}
