#![forbid(unsafe_code)]
//! `.dockerignore`, read and matched as docker does (moby/patternmatcher
//! and its ignorefile reader).
//!
//! - Lines starting with `#` are comments, blank lines are skipped; a
//!   pattern is trimmed, cleaned like Go's `filepath.Clean`, and loses a
//!   leading `/` (patterns are relative to the context root).
//! - `!pattern` re-includes what earlier patterns excluded; patterns apply
//!   in order, so the last one that matches wins.
//! - A path is excluded if it or any of its parent directories matches.
//! - Go's `filepath.Match` syntax: `*` and `?` never cross a `/`, `[...]`
//!   classes (`[^...]` negates), `\` escapes the next character; and `**`
//!   matches any number of directories (`**/x`, `a/**/x`, `a/**`).
//!
//! Std only: this crate has no dependency of its own.

/// The patterns of a `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// `!pattern`: re-includes.
    exception: bool,
    toks: Vec<Tok>,
}

/// A pattern compiled as patternmatcher compiles it to a regexp.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any run without `/`.
    Star,
    /// `**` at the end: anything, `/` included.
    Any,
    /// `**/` or `**` inside: any number of leading directories, `(.*/)?`.
    Dirs,
    /// `[...]`: ranges, negated with `^`.
    Class(bool, Vec<(char, char)>),
}

impl DockerIgnore {
    /// Reads a `.dockerignore`, failing as docker does on a lone `!` and on
    /// patterns `filepath.Match` calls malformed (unclosed `[`, trailing `\`).
    pub fn try_parse(text: &str) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for p in read_lines(text) {
            patterns.extend(compile(&p)?);
        }
        Ok(DockerIgnore { patterns })
    }

    /// Whether `rel_path` (relative to the context, `/`-separated) is left
    /// out of the context: the last pattern matching it or one of its
    /// parent directories decides. The context root itself never is.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let path = clean(rel_path);
        if path == "." {
            return false;
        }
        let path: Vec<char> = path.chars().collect();
        // The path's parent directories, shortest first.
        let parents: Vec<&[char]> = path
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == '/')
            .map(|(i, _)| &path[..i])
            .collect();
        let mut excluded = false;
        for p in &self.patterns {
            // Only a pattern that could change the answer is tried.
            if p.exception != excluded {
                continue;
            }
            if full_match(&p.toks, &path, 0) || parents.iter().any(|d| full_match(&p.toks, d, 0)) {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether some exception (`!pattern`) could match a path under `dir`,
    /// so a walker must enter `dir` even when `dir` itself is excluded.
    /// Conservative: true may still find nothing to include.
    pub fn may_include_under(&self, dir: &str) -> bool {
        let dir = clean(dir);
        let prefix: Vec<char> = if dir == "." {
            Vec::new()
        } else {
            format!("{dir}/").chars().collect()
        };
        self.patterns
            .iter()
            .any(|p| p.exception && prefix_match(&p.toks, &prefix, 0))
    }
}

/// The patterns of the file as ignorefile.ReadAll gives them: `!` kept in
/// front, the rest cleaned and made relative.
fn read_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().filter_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let mut p = line.trim();
        if p.is_empty() {
            return None;
        }
        let exception = p.starts_with('!');
        if exception {
            p = p[1..].trim();
        }
        let mut p = if p.is_empty() {
            String::new()
        } else {
            clean(p)
        };
        if p.len() > 1 && p.starts_with('/') {
            p.remove(0);
        }
        Some(if exception { format!("!{p}") } else { p })
    })
}

/// A pattern as patternmatcher.New takes it (it cleans once more, `!`
/// included). None for nothing to match.
fn compile(line: &str) -> Result<Option<Pattern>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let line = clean(line);
    let (exception, text) = match line.strip_prefix('!') {
        Some("") => return Err("illegal exclusion pattern: \"!\"".into()),
        Some(rest) => (true, rest),
        None => (false, line.as_str()),
    };
    validate(text)?;
    Ok(Some(Pattern {
        exception,
        toks: tokens(text),
    }))
}

/// filepath.Match's syntax errors: a trailing `\`, an unclosed or empty
/// class, a range missing an end.
fn validate(pattern: &str) -> Result<(), String> {
    let c: Vec<char> = pattern.chars().collect();
    let bad = || "syntax error in pattern".to_string();
    // One class character at `i` (`\` escapes): where the next starts.
    // Something must follow it, if only the closing `]`.
    let one = |i: usize| {
        let end = match c.get(i) {
            None | Some('-' | ']') => return Err(bad()),
            Some('\\') => i + 2,
            Some(_) => i + 1,
        };
        if end < c.len() { Ok(end) } else { Err(bad()) }
    };
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' if i + 1 == c.len() => return Err(bad()),
            '\\' => i += 2,
            '[' => {
                i += 1;
                if c.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut n = 0;
                while c.get(i) != Some(&']') || n == 0 {
                    i = one(i)?;
                    if c[i] == '-' {
                        i = one(i + 1)?;
                    }
                    n += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The pattern's tokens. As patternmatcher, a pattern that is literal but
/// for a trailing `**` is a prefix match, and one that is `**` then only
/// literal characters is a suffix match (`**/x` also matching `x`).
fn tokens(pattern: &str) -> Vec<Tok> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regexp,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut kind = Kind::Exact;
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        toks.push(Tok::Any);
                        kind = Kind::Regexp;
                    }
                } else {
                    toks.push(Tok::Dirs);
                    kind = Kind::Regexp;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                kind = Kind::Regexp;
            }
            '?' => {
                toks.push(Tok::One);
                kind = Kind::Regexp;
            }
            '\\' => match chars.get(i) {
                Some(&e) => {
                    i += 1;
                    toks.push(Tok::Lit(e));
                    kind = Kind::Regexp;
                }
                None => toks.push(Tok::Lit('\\')),
            },
            '[' => {
                let (class, used) = class(&chars[i..]);
                i += used;
                toks.push(class);
                kind = Kind::Regexp;
            }
            c => toks.push(Tok::Lit(c)),
        }
        first = false;
    }
    let lits = |s: &[char]| s.iter().map(|c| Tok::Lit(*c)).collect::<Vec<_>>();
    match kind {
        Kind::Exact | Kind::Regexp => toks,
        Kind::Prefix => [lits(&chars[..chars.len() - 2]), vec![Tok::Any]].concat(),
        Kind::Suffix => match &chars[2..] {
            ['/', rest @ ..] => [vec![Tok::Dirs], lits(rest)].concat(),
            rest => [vec![Tok::Any], lits(rest)].concat(),
        },
    }
}

/// A `[...]` class after its `[` (already validated): the token and how
/// many characters it took, `]` included.
fn class(c: &[char]) -> (Tok, usize) {
    let negated = c.first() == Some(&'^');
    let mut i = usize::from(negated);
    let one = |i: &mut usize| {
        if c[*i] == '\\' {
            *i += 1;
        }
        *i += 1;
        c[*i - 1]
    };
    let mut ranges = Vec::new();
    while c[i] != ']' || ranges.is_empty() {
        let lo = one(&mut i);
        let hi = if c[i] == '-' {
            i += 1;
            one(&mut i)
        } else {
            lo
        };
        ranges.push((lo, hi));
    }
    (Tok::Class(negated, ranges), i + 1)
}

/// Whether `toks` match all of `s[i..]`.
fn full_match(toks: &[Tok], s: &[char], i: usize) -> bool {
    walk(toks, s, i, false)
}

/// Whether `toks` match `s[i..]` followed by something: `s` is consumed
/// and what is left of the pattern could match the rest.
fn prefix_match(toks: &[Tok], s: &[char], i: usize) -> bool {
    walk(toks, s, i, true)
}

fn walk(toks: &[Tok], s: &[char], i: usize, open_end: bool) -> bool {
    if open_end && i == s.len() {
        return true;
    }
    let Some((tok, rest)) = toks.split_first() else {
        return i == s.len();
    };
    let next = |j| walk(rest, s, j, open_end);
    match tok {
        Tok::Lit(c) => s.get(i) == Some(c) && next(i + 1),
        Tok::One => s.get(i).is_some_and(|c| *c != '/') && next(i + 1),
        Tok::Class(negated, ranges) => {
            s.get(i)
                .is_some_and(|c| ranges.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated)
                && next(i + 1)
        }
        Tok::Star => {
            let end = s[i..]
                .iter()
                .position(|c| *c == '/')
                .map_or(s.len(), |n| i + n);
            (i..=end).any(next)
        }
        Tok::Any => (i..=s.len()).any(next),
        Tok::Dirs => next(i) || (i + 1..=s.len()).any(|j| s[j - 1] == '/' && next(j)),
    }
}

/// Go's `filepath.Clean` for `/` paths: no empty or `.` elements, `..`
/// folded into what precedes it, "." for nothing.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(patterns: &str, path: &str) -> bool {
        DockerIgnore::try_parse(patterns).unwrap().is_excluded(path)
    }

    #[test]
    fn clean_is_go_filepath_clean() {
        for (input, want) in [
            ("", "."),
            ("a/b", "a/b"),
            ("a//b/", "a/b"),
            ("./a/./b", "a/b"),
            ("a/../b", "b"),
            ("a/..", "."),
            ("../a", "../a"),
            ("a/../../b", "../b"),
            ("/../a", "/a"),
            ("/", "/"),
            ("**/", "**"),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }

    #[test]
    fn comments_blanks_and_cleaning() {
        let di = DockerIgnore::try_parse(
            "\u{feff}# a comment\n\n   \n  node_modules  \n/abs/path\n./dot/../rel\n #not-a-comment\r\n",
        ).unwrap();
        assert_eq!(di.patterns.len(), 4);
        assert!(di.is_excluded("node_modules"));
        assert!(di.is_excluded("abs/path"));
        assert!(di.is_excluded("rel"));
        assert!(!di.is_excluded("dot"));
        assert!(di.is_excluded("#not-a-comment"));
        assert!(!di.is_excluded("a comment"));
        assert!(!excluded("# node_modules", "node_modules"));
    }

    #[test]
    fn the_root_is_never_excluded() {
        assert!(!excluded("*", "."));
        assert!(!excluded("**", ""));
        assert!(excluded("*", "file"));
    }

    #[test]
    fn parents_exclude_their_contents() {
        assert!(excluded("docs", "docs/README.md"));
        assert!(excluded("docs/", "docs/a/b/c"));
        assert!(excluded("*/tmp", "x/tmp/deep/file"));
        assert!(!excluded("docs", "docsx/a"));
        assert!(!excluded("a/b", "a"));
    }

    #[test]
    fn exceptions_last_match_wins() {
        assert!(!excluded("*.go\n!main.go", "main.go"));
        assert!(excluded("*.go\n!main.go", "lib.go"));
        assert!(excluded("!main.go\n*.go", "main.go"));
        assert!(!excluded("docs\n!docs/README.md", "docs/README.md"));
        assert!(excluded("docs\n!docs/README.md", "docs/other.md"));
        assert!(excluded(
            "docs/*\n!docs/README.md\ndocs/README.md",
            "docs/README.md"
        ));
        assert!(!excluded("**\n!util/docker/web", "util/docker/web/foo"));
        assert!(excluded(
            "**\n!util/docker/web\nutil/docker/web/foo",
            "util/docker/web/foo"
        ));
        // A re-included directory brings back what is under it.
        assert!(!excluded("build\n!build", "build/out.bin"));
    }

    #[test]
    fn single_star_and_question_mark_stay_in_one_segment() {
        assert!(excluded("*.md", "README.md"));
        assert!(!excluded("*.md", "docs/README.md"));
        assert!(excluded("*/*.md", "docs/README.md"));
        assert!(excluded("a/*.txt", "a/file.txt"));
        assert!(!excluded("a/*.txt", "a/dir/file.txt"));
        assert!(excluded("abc?def", "abcZdef"));
        assert!(!excluded("abc?def", "abcdef"));
        assert!(!excluded("a?b", "a/b"));
        assert!(excluded(".*", ".git"));
        assert!(!excluded(".*", "git"));
    }

    #[test]
    fn double_star() {
        for (pattern, path, want) in [
            ("**", "file", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**/**", "dir/file", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir", false),
            ("**/dir", "dir", true),
            ("**/dir", "a/b/dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/dir/file", true),
            ("**file", "dir/xfile", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "a/xb", false),
            ("a/*.txt**", "a/file.txt", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
        ] {
            assert_eq!(excluded(pattern, path), want, "{pattern} vs {path}");
        }
    }

    #[test]
    fn classes_escapes_and_regexp_characters() {
        for (pattern, path, want) in [
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            ("a[^b-d]e", "ace", false),
            ("[abc]", "b", true),
            ("a[\\]]b", "a]b", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("a\\\\", "a\\", true),
            ("abc.def", "abcZdef", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
        ] {
            assert_eq!(excluded(pattern, path), want, "{pattern} vs {path}");
        }
    }

    #[test]
    fn malformed_patterns() {
        assert_eq!(
            DockerIgnore::try_parse("a\n!\n").unwrap_err(),
            "illegal exclusion pattern: \"!\""
        );
        for bad in ["[", "a[", "a[]", "a[b-]", "a\\", "[-a]"] {
            assert_eq!(
                DockerIgnore::try_parse(bad).unwrap_err(),
                "syntax error in pattern",
                "{bad}"
            );
        }
        assert!(DockerIgnore::try_parse("a[b]\n!c").is_ok());
    }

    #[test]
    fn walkers_enter_excluded_dirs_only_when_an_exception_may_reach_inside() {
        let di = DockerIgnore::try_parse("node_modules\nbuild\n!build/keep.txt\n!**/important\n")
            .unwrap();
        assert!(di.is_excluded("build"));
        assert!(di.may_include_under("build"));
        assert!(!di.is_excluded("build/keep.txt"));
        assert!(di.is_excluded("build/other"));
        // `**/important` may be anywhere.
        assert!(di.may_include_under("node_modules"));
        assert!(!di.is_excluded("node_modules/a/important"));

        let di = DockerIgnore::try_parse("*\n!src/*.rs\n!docs/api\n").unwrap();
        assert!(di.may_include_under("src"));
        assert!(!di.may_include_under("target"));
        assert!(!di.may_include_under("src/nested"));
        assert!(di.may_include_under("docs"));
        // An exception naming the directory itself re-includes it and all
        // under it: the walker enters it without asking.
        assert!(!di.is_excluded("docs/api"));
        assert!(!di.is_excluded("docs/api/x/y"));
        assert!(!di.may_include_under("docs/guide"));
        assert!(di.may_include_under("."));
        assert!(!di.is_excluded("src/main.rs"));
        assert!(di.is_excluded("src/nested/x.rs"));

        // No exception at all: nothing to look for.
        assert!(
            !DockerIgnore::try_parse("*")
                .unwrap()
                .may_include_under("src")
        );
    }
}
