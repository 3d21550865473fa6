//! Detach keys: the `detachKeys` parameter of attach and the `DetachKeys`
//! of exec create (moby/term's key format), and the matcher that finds
//! the sequence in a hijacked stream's input, for the engine and the CLI.

/// Docker's default sequence, ctrl-p ctrl-q, used when none is given.
pub const DEFAULT: &[u8] = &[16, 17];

/// Parses a comma-separated sequence as moby/term's `ToBytes` does: a
/// single character stands for itself, `ctrl-@`, `ctrl-a` ... `ctrl-z`,
/// `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_` for the codes 0 to 31,
/// `DEL` for 127; anything else (case matters) is an error naming it, in
/// moby's words ("Unknown character: 'x'").
pub fn parse(keys: &str) -> Result<Vec<u8>, String> {
    let mut codes = Vec::new();
    for key in keys.split(',') {
        if key.len() == 1 {
            codes.push(key.as_bytes()[0]);
            continue;
        }
        let code = match key.strip_prefix("ctrl-").map(str::as_bytes) {
            Some([c @ b'a'..=b'z']) => c - b'a' + 1,
            Some([c @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_')]) => c - b'@',
            _ if key == "DEL" => 127,
            _ => return Err(format!("Unknown character: '{key}'")),
        };
        codes.push(code);
    }
    Ok(codes)
}

/// Finds the detach sequence in input read in pieces of any size. The
/// bytes of a partial match are held back until the next byte decides:
/// the sequence completed (detach: they are never passed on), or another
/// byte (they are passed on, in order, with it).
#[derive(Debug, Clone)]
pub struct Matcher {
    keys: Vec<u8>,
    matched: usize,
}

impl Matcher {
    /// A matcher for `keys`; empty means Docker's default.
    pub fn new(keys: Vec<u8>) -> Matcher {
        let keys = if keys.is_empty() {
            DEFAULT.to_vec()
        } else {
            keys
        };
        Matcher { keys, matched: 0 }
    }

    /// Appends to `out` what of `input` goes on to the process; true when
    /// the sequence completed (what followed it in `input` is dropped).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return true;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return true;
                }
            } else {
                out.push(b);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_moby_term() {
        assert_eq!(parse("ctrl-p,ctrl-q"), Ok(vec![16, 17]));
        assert_eq!(
            parse("a,ctrl-x,DEL,ctrl-@,ctrl-_"),
            Ok(vec![b'a', 24, 127, 0, 31])
        );
        assert_eq!(parse(","), Err("Unknown character: ''".to_string()));
        assert_eq!(
            parse("ctrl-P"),
            Err("Unknown character: 'ctrl-P'".to_string())
        );
        assert_eq!(parse("ab"), Err("Unknown character: 'ab'".to_string()));
        assert_eq!(parse(""), Err("Unknown character: ''".to_string()));
    }

    #[test]
    fn matches_across_reads_and_passes_partial_matches_on() {
        let mut m = Matcher::new(vec![]);
        let mut out = Vec::new();
        assert!(!m.feed(b"ab\x10", &mut out));
        assert_eq!(out, b"ab");
        assert!(!m.feed(b"c", &mut out));
        assert_eq!(out, b"ab\x10c");
        out.clear();
        assert!(!m.feed(b"\x10\x10", &mut out));
        assert_eq!(out, b"\x10");
        assert!(m.feed(b"\x11tail", &mut out));
        assert_eq!(out, b"\x10");
        let mut one = Matcher::new(vec![24]);
        out.clear();
        assert!(one.feed(b"x\x18", &mut out));
        assert_eq!(out, b"x");
    }
}
