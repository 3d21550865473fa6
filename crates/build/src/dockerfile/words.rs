//! How the parser cuts an instruction's arguments, before any expansion:
//! on blanks, on blanks outside quotes, or as a JSON array.

/// Docker's `[\t\v\f\r ]+` split (FROM, EXPOSE, COPY's shell form...).
pub(crate) fn split_blanks(s: &str) -> Vec<String> {
    s.split(is_blank)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn is_blank(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Words split on whitespace outside quotes, quotes and escapes kept as
/// written (buildkit's parseWords, for ENV, LABEL and ARG); an escape at the
/// very end is dropped, and single quotes escape nothing.
pub(crate) fn quoted_words(s: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut blank_ok = false; // `""` is still a word
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if quote.is_none() && ch.is_whitespace() {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            blank_ok = false;
            continue;
        }
        match quote {
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                blank_ok = true;
            }
            Some(q) if ch == q => quote = None,
            _ => {}
        }
        if ch == escape && quote != Some('\'') {
            let Some(&next) = chars.get(i) else {
                quote = None;
                continue;
            };
            word.push(ch);
            word.push(next);
            i += 1;
            continue;
        }
        word.push(ch);
    }
    if blank_ok || !word.is_empty() {
        words.push(word);
    }
    words
}

/// `[ "a", "b" ]`: Some(strings); None if `s` is not a JSON array (the
/// shell form then applies); an error for an array of anything but strings.
pub(crate) fn json_array(s: &str) -> Result<Option<Vec<String>>, String> {
    let s = s.trim_start();
    if !s.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(s) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(
                "when using JSON array syntax, arrays must be comprised of strings only"
                    .to_string(),
            ),
        })
        .collect::<Result<_, _>>()
        .map(Some)
}
