//! A string `command:` or `entrypoint:` split into words as a POSIX shell
//! splits them, without running one: blanks separate words, single quotes
//! keep everything, double quotes keep all but `\\`, `\"`, `\$` and `` \` ``
//! escapes, a backslash outside quotes keeps the next character. Nothing
//! is expanded (interpolation has been done), and `&&`, `|`, `;` are words
//! like any other.

pub fn split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    // A backslash-newline joins lines.
                    Some('\n') => {}
                    Some(n) => word.push(n),
                    None => word.push('\\'),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => word.push(n),
                        None => return Err(format!("invalid command line string: {s:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('\\' | '"' | '$' | '`')) => word.push(n),
                            Some('\n') => {}
                            Some(n) => {
                                word.push('\\');
                                word.push(n);
                            }
                            None => return Err(format!("invalid command line string: {s:?}")),
                        },
                        Some(n) => word.push(n),
                        None => return Err(format!("invalid command line string: {s:?}")),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn words() {
        assert_eq!(
            split(r#"sh -c "echo \"hi\" && ls '$HOME'" x\ y ''"#).unwrap(),
            vec!["sh", "-c", "echo \"hi\" && ls '$HOME'", "x y", ""]
        );
        assert_eq!(split("  a   b ").unwrap(), vec!["a", "b"]);
        assert!(split("echo 'open").is_err());
        assert_eq!(split("").unwrap(), Vec::<String>::new());
    }
}
