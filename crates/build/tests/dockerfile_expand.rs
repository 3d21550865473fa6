//! Docker's word processing (buildkit's shell lexer): quotes, escapes and
//! variable expansion, with cases of the kinds of buildkit's envVarTest
//! and wordsTest (our own).

use berth_build::dockerfile::{expand_word, expand_words};

fn env(name: &str) -> Option<String> {
    let v = match name {
        "PWD" => "/home",
        "SHELL" => "bash",
        "NULL" => "",
        "SPACE" => "abc  def",
        "LEADING" => "  ab c",
        "PATHS" => "/usr/local/bin:/usr/bin:/bin",
        "FILE" => "archive.tar.gz",
        "DIR" => "/a/b/c/",
        "MULTI" => "one\ntwo.txt",
        "KOREAN" => "한국어",
        _ => return None,
    };
    Some(v.to_string())
}

fn word(w: &str) -> String {
    expand_word(w, '\\', &env).unwrap_or_else(|e| panic!("{w}: {e}"))
}

fn words(w: &str) -> Vec<String> {
    expand_words(w, '\\', &env).unwrap_or_else(|e| panic!("{w}: {e}"))
}

fn error(w: &str) -> String {
    match expand_word(w, '\\', &env) {
        Ok(v) => panic!("{w} expanded to {v:?}"),
        Err(e) => e.message,
    }
}

#[test]
fn quote_removal_and_escapes() {
    for (input, want) in [
        ("hello", "hello"),
        ("he'll'o", "hello"),
        ("he\\'llo", "he'llo"),
        ("abc\\tdef", "abctdef"),
        ("\"abc\\tdef\"", "abc\\tdef"),
        ("\"abc\\\\tdef\"", "abc\\tdef"),
        ("'abc\\tdef'", "abc\\tdef"),
        ("hello\\", "hello"),
        ("hello\\\\", "hello\\"),
        ("\"hel'lo\"", "hel'lo"),
        ("'hello\\'", "hello\\"),
        ("\"''\"", "''"),
        ("'\"hello\"'", "\"hello\""),
        ("안'녕'하세요", "안녕하세요"),
        ("a\\ b", "a b"),
    ] {
        assert_eq!(word(input), want, "{input}");
    }
}

#[test]
fn plain_variables() {
    for (input, want) in [
        ("$PWD", "/home"),
        ("he$PWD", "he/home"),
        ("he${PWD}x", "he/homex"),
        ("he$pwd.", "he."),
        ("he$UNSET.x", "he.x"),
        ("$.", "$."),
        ("a$", "a$"),
        ("he$1x", "hex"),
        ("${1}", ""),
        ("he\\$PWD", "he$PWD"),
        ("he\\\\$PWD", "he\\/home"),
        ("\"he\\$PWD\"", "he$PWD"),
        ("\"he'$PWD'\"", "he'/home'"),
        ("'$PWD'", "$PWD"),
        ("\\${}", "${}"),
        ("${PWD}}", "/home}"),
        ("안녕$KOREAN", "안녕한국어"),
        ("$PWD_x", ""),
    ] {
        assert_eq!(word(input), want, "{input}");
    }
}

#[test]
fn default_alternative_and_required_modifiers() {
    for (input, want) in [
        ("${UNSET:-000}", "000"),
        ("${NULL:-000}", "000"),
        ("${PWD:-000}", "/home"),
        ("${UNSET-000}", "000"),
        ("${NULL-000}", ""),
        ("${UNSET:-$PWD}x", "/homex"),
        ("${UNSET:-${OTHER:-yyy}}", "yyy"),
        ("${UNSET:-a b  c}", "a b  c"),
        ("${UNSET:-\\$PWD:}", "$PWD:"),
        ("${UNSET:-\\${PWD}z}", "${PWDz}"),
        ("${UNSET:-'q}'}", "q}"),
        ("${UNSET:+000}", ""),
        ("${NULL:+000}", ""),
        ("${NULL+000}", "000"),
        ("${PWD:+${SHELL}}", "bash"),
        ("${PWD:+${PWD}:}x", "/home:x"),
        ("${PWD?}", "/home"),
        ("${PWD:?}", "/home"),
        ("${NULL?}", ""),
    ] {
        assert_eq!(word(input), want, "{input}");
    }
}

#[test]
fn required_variable_errors() {
    assert_eq!(error("${UNSET?}"), "UNSET: is not allowed to be unset");
    assert_eq!(error("${UNSET:?}"), "UNSET: is not allowed to be unset");
    assert_eq!(error("${NULL:?}"), "NULL: is not allowed to be empty");
    assert_eq!(error("${UNSET?set it please}"), "UNSET: set it please");
    assert_eq!(error("${NULL:?give a value}"), "NULL: give a value");
}

#[test]
fn prefix_and_suffix_patterns() {
    for (input, want) in [
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "archive.tar"),
        ("${FILE%%.*}", "archive"),
        ("${FILE#archive}", ".tar.gz"),
        ("${FILE#nomatch}", "archive.tar.gz"),
        ("${FILE%.t?r.gz}", "archive"),
        ("${DIR#/*/}", "b/c/"),
        ("${DIR##/*/}", ""),
        ("${DIR%/}", "/a/b/c"),
        ("${PATHS%%:*}", "/usr/local/bin"),
        ("${PATHS##*:}", "/bin"),
        ("${UNSET#x}", ""),
        // Like Go's regexp `.`, a star stops at a newline.
        ("${MULTI#*.}", "one\ntwo.txt"),
        ("${MULTI%.*}", "one\ntwo"),
        // `\*` and `\?` are literal; `\}` brings a `}` in.
        ("${FILE#\\*}", "archive.tar.gz"),
        ("${PWD%\\}}", "/home"),
    ] {
        assert_eq!(word(input), want, "{input}");
    }
}

#[test]
fn replacement_patterns() {
    for (input, want) in [
        ("${PATHS/:/ }", "/usr/local/bin /usr/bin:/bin"),
        ("${PATHS//:/ }", "/usr/local/bin /usr/bin /bin"),
        ("${PATHS//\\/usr/}", "/local/bin:/bin:/bin"),
        ("${FILE/.*/}", "archive"),
        ("${FILE//a/A}", "Archive.tAr.gz"),
        ("${FILE/?/X}", "Xrchive.tar.gz"),
        ("${FILE/nomatch/X}", "archive.tar.gz"),
        ("${UNSET/a/b}", ""),
    ] {
        assert_eq!(word(input), want, "{input}");
    }
}

#[test]
fn word_splitting() {
    assert_eq!(words("hello"), ["hello"]);
    assert_eq!(words("hello there     x"), ["hello", "there", "x"]);
    assert_eq!(words("hello${SPACE}bye"), ["helloabc", "defbye"]);
    assert_eq!(words("hello\"${SPACE}\"bye"), ["helloabc  defbye"]);
    assert_eq!(words("hello${LEADING}def"), ["hello", "ab", "cdef"]);
    assert_eq!(words("hello\"${LEADING}\" def"), ["hello  ab c", "def"]);
    assert_eq!(words("hello\\ there"), ["hello there"]);
    assert_eq!(words("hello\\\" there"), ["hello\"", "there"]);
    assert_eq!(words("hello'$there'"), ["hello$there"]);
    assert_eq!(words("80/tcp ${UNSET} 443"), ["80/tcp", "443"]);
    // An empty quoted word is no word, as in buildkit.
    assert_eq!(words("a \"\" b"), ["a", "b"]);
    // ProcessWord keeps the blanks a split would drop.
    assert_eq!(word("hello${LEADING}def"), "hello  ab cdef");
}

#[test]
fn backtick_escape() {
    let w = |s: &str| expand_word(s, '`', &env).unwrap();
    assert_eq!(w("c:\\windows\\system32"), "c:\\windows\\system32");
    assert_eq!(w("a` b"), "a b");
    assert_eq!(w("`$PWD"), "$PWD");
    assert_eq!(w("\"x`\"y\""), "x\"y");
    assert_eq!(w("\"c:\\temp\""), "c:\\temp");
    let ws = expand_words("a` b c", '`', &env).unwrap();
    assert_eq!(ws, ["a b", "c"]);
}

#[test]
fn syntax_errors() {
    for (input, msg) in [
        (
            "he'llo",
            "unexpected end of statement while looking for matching single-quote",
        ),
        (
            "'hello",
            "unexpected end of statement while looking for matching single-quote",
        ),
        (
            "\"hello",
            "unexpected end of statement while looking for matching double-quote",
        ),
        (
            "\"hello\\\"",
            "unexpected end of statement while looking for matching double-quote",
        ),
        (
            "he\\\\'llo",
            "unexpected end of statement while looking for matching single-quote",
        ),
        ("${", "syntax error: missing '}'"),
        ("he${PWD", "syntax error: missing '}'"),
        ("${aaa:-bbb", "syntax error: missing '}'"),
        ("${aaa:-bbb ${foo}", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("he${}xx", "syntax error: bad substitution"),
        ("${{aaa}", "syntax error: bad substitution"),
        ("${:-bbb}", "syntax error: bad substitution"),
        ("he${.}", "unsupported modifier (.) in substitution"),
        ("${PWD:=000}", "unsupported modifier (:=) in substitution"),
        ("${XXX:YYY}", "unsupported modifier (:Y) in substitution"),
        ("${PWD:#x}", "unsupported modifier (:#) in substitution"),
        ("${PWD:%x}", "unsupported modifier (:%) in substitution"),
        ("${PWD/x}", "syntax error: missing '/' in ${}"),
        ("${PWD/x/y", "syntax error: missing '}'"),
        (
            "${PWD#\\x}",
            "invalid pattern (\\x) in substitution: invalid escape '\\x'",
        ),
    ] {
        assert_eq!(error(input), msg, "{input}");
    }
}

#[test]
fn the_error_names_the_word() {
    let e = expand_word("a'b", '\\', &env).unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to process \"a'b\": unexpected end of statement while looking for matching single-quote"
    );
    assert!(expand_words("\"x", '\\', &env).is_err());
}
