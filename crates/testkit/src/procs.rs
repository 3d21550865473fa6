//! Cleaning up processes a test left behind (a daemon's shims and their
//! containers), found by a path their command line mentions.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// (ppid, state) from /proc/<pid>/stat.
pub fn stat_of(pid: i32) -> Option<(i32, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

/// SIGKILLs the live processes whose command line mentions `dir`, and their
/// children (the containers under a shim); waits for them to die.
pub fn kill_strays(dir: &Path) -> Vec<i32> {
    let needle = dir.as_os_str().as_bytes();
    let me = std::process::id() as i32;
    let mut procs = Vec::new(); // (pid, ppid, mentions dir, live)
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let Some((ppid, state)) = stat_of(pid) else {
            continue;
        };
        let mentions = !needle.is_empty() && cmdline.windows(needle.len()).any(|w| w == needle);
        procs.push((pid, ppid, mentions, state != 'Z'));
    }
    let parents: Vec<i32> = procs
        .iter()
        .filter(|p| p.2 && p.0 != me)
        .map(|p| p.0)
        .collect();
    let victims: Vec<i32> = procs
        .iter()
        .filter(|p| p.0 != me && p.3 && (parents.contains(&p.0) || parents.contains(&p.1)))
        .map(|p| p.0)
        .collect();
    for &pid in &victims {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && victims
            .iter()
            .any(|&p| stat_of(p).is_some_and(|(_, s)| s != 'Z'))
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    victims
}
