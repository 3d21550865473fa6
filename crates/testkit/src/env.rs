//! Deciding whether a test can run on this machine.
//!
//! A test that lacks root or a tool skips with a message on stderr when run by
//! a developer, but panics in CI: a CI run must never pass by skipping.

use std::path::{Path, PathBuf};

/// Directories searched after `$PATH`: runtimes such as runc live in sbin
/// directories, which a non-login `$PATH` may lack.
const EXTRA_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Whether we run in CI: the `CI` environment variable is `true` (any case) or `1`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Skip (print `reason` and return) outside CI, panic inside CI.
fn skip(reason: &str) {
    if in_ci() {
        panic!("berth-testkit: {reason}, and CI is set: tests must not skip in CI");
    }
    eprintln!("berth-testkit: SKIPPED: {reason}");
}

/// True when the effective uid is 0.
///
/// Otherwise prints a skip message to stderr and returns false — or, when
/// [`in_ci`], panics.
pub fn require_root() -> bool {
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        return true;
    }
    skip(&format!("test needs root (euid is {euid})"));
    false
}

/// Finds an executable named `name` in `$PATH`, then in the usual sbin/bin
/// directories. A `name` containing `/` is taken as a path. No CI rule.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// Like [`find_tool`], but when the tool is missing prints a skip message and
/// returns `None` — or, when [`in_ci`], panics.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    if found.is_none() {
        skip(&format!("tool `{name}` not found in PATH"));
    }
    found
}

/// python3 with the docker SDK (`import docker`), for the tests that drive
/// berth through it: a skip without them, a panic under [`in_ci`].
pub fn require_python_sdk() -> Option<PathBuf> {
    let python = require_tool("python3")?;
    let has_sdk = std::process::Command::new(&python)
        .args(["-c", "import docker"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_sdk {
        skip("the Python docker SDK is not installed (scripts/setup installs it)");
        return None;
    }
    Some(python)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh() {
        assert!(find_tool("sh").is_some());
        assert!(find_tool("/bin/sh").is_some());
        assert!(find_tool("berth-testkit-no-such-tool").is_none());
    }

    /// Runs [`probe_missing_tool`] in a child test process with `CI` set as given.
    fn probe(ci: &str) -> (bool, String) {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "env::tests::probe_missing_tool",
                "--ignored",
                "--nocapture",
            ])
            .env("CI", ci)
            .env("BERTH_TESTKIT_PROBE", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    #[test]
    fn missing_tool_skips_outside_ci_and_panics_in_ci() {
        for ci in ["true", "TRUE", "1"] {
            let (ok, text) = probe(ci);
            assert!(
                !ok && text.contains("tests must not skip in CI"),
                "CI={ci}: {text}"
            );
        }
        for ci in ["false", "0", ""] {
            let (ok, text) = probe(ci);
            assert!(
                ok && text.contains("SKIPPED: tool `berth-testkit-no-such-tool`"),
                "CI={ci}: {text}"
            );
        }
    }

    #[test]
    #[ignore = "run in a child process by missing_tool_skips_outside_ci_and_panics_in_ci"]
    fn probe_missing_tool() {
        // Inert when run directly (e.g. `--include-ignored` in CI).
        if std::env::var_os("BERTH_TESTKIT_PROBE").is_none() {
            return;
        }
        assert!(require_tool("berth-testkit-no-such-tool").is_none());
    }
}
