//! `--flag=value` options before an instruction's arguments: taken off the
//! line as buildkit's extractBuilderFlags does, then checked against what
//! the instruction accepts as its BFlags.Parse does (same error wording).

use super::error::suggest;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    /// `--link`, `--link=true|false`.
    Bool,
    /// `--from=x`, given at most once.
    Str,
    /// `--exclude=x`, repeatable.
    Strings,
}

/// The leading `--` words of an instruction's arguments, quotes and escapes
/// removed, and the rest of the line. A lone `--` ends the flags.
pub(crate) fn extract(line: &str, escape: char) -> (Vec<String>, &str) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false; // a quoted empty word still counts
    let mut phase = Phase::Spaces;
    let mut i = 0;
    while i < chars.len() {
        let (pos, mut ch) = chars[i];
        i += 1;
        match phase {
            Phase::Spaces => {
                if ch.is_whitespace() {
                    continue;
                }
                if ch != '-' || chars.get(i).map(|c| c.1) != Some('-') {
                    return (words, &line[pos..]);
                }
                phase = Phase::Word;
                word.push(ch);
            }
            Phase::Word => {
                if ch.is_whitespace() {
                    if word == "--" {
                        return (words, &line[pos..]);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    phase = Phase::Spaces;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    blank_ok = true;
                    phase = Phase::Quote(ch);
                    continue;
                }
                if ch == escape {
                    let Some(&(_, next)) = chars.get(i) else {
                        continue;
                    };
                    ch = next;
                    i += 1;
                }
                word.push(ch);
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                    continue;
                }
                if ch == escape {
                    let Some(&(_, next)) = chars.get(i) else {
                        phase = Phase::Word;
                        continue;
                    };
                    ch = next;
                    i += 1;
                }
                word.push(ch);
            }
        }
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    (words, "")
}

/// The flags an instruction was given, by name.
#[derive(Default)]
pub(crate) struct Flags {
    values: Vec<(&'static str, Vec<String>)>,
}

impl Flags {
    fn get(&self, name: &str) -> Option<&Vec<String>> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).and_then(|v| v.last().cloned())
    }

    pub fn strings(&self, name: &str) -> Vec<String> {
        self.get(name).cloned().unwrap_or_default()
    }

    /// None when the flag was not given.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.string(name).map(|v| v == "true")
    }
}

/// Checks `words` against the flags an instruction accepts.
pub(crate) fn parse(words: &[String], spec: &[(&'static str, FlagKind)]) -> Result<Flags, String> {
    let mut flags = Flags::default();
    for word in words {
        let Some(arg) = word.strip_prefix("--") else {
            return Err(format!("arg should start with -- : {word}"));
        };
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (arg, None),
        };
        let flag = format!("--{name}");
        let Some(&(key, kind)) = spec.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = spec.iter().map(|(n, _)| *n).collect();
            return Err(suggest(format!("unknown flag: {flag}"), name, &names, true));
        };
        if flags.get(key).is_some() && kind != FlagKind::Strings {
            return Err(format!("duplicate flag specified: {flag}"));
        }
        let value = match (kind, value) {
            (FlagKind::Bool, Some("")) | (FlagKind::Str | FlagKind::Strings, None) => {
                return Err(format!("missing a value on flag: {flag}"));
            }
            (FlagKind::Bool, v) => match v.unwrap_or("").to_lowercase().as_str() {
                "true" | "" => "true".to_string(),
                "false" => "false".to_string(),
                _ => {
                    return Err(format!(
                        "expecting boolean value for flag {flag}, not: {}",
                        v.unwrap_or("")
                    ));
                }
            },
            (_, Some(v)) => v.to_string(),
        };
        match flags.values.iter_mut().find(|(n, _)| *n == key) {
            Some((_, vals)) => vals.push(value),
            None => flags.values.push((key, vec![value])),
        }
    }
    Ok(flags)
}
