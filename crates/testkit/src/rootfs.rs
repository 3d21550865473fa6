//! A minimal busybox root filesystem.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the static busybox comes from: `$BERTH_TEST_BUSYBOX` if set, else
/// `/bin/busybox` (Debian's `busybox-static`).
pub fn busybox_path() -> PathBuf {
    std::env::var_os("BERTH_TEST_BUSYBOX")
        .map_or_else(|| PathBuf::from("/bin/busybox"), PathBuf::from)
}

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// Builds a minimal root filesystem in `dir` (created if missing):
///
/// * `bin/busybox`, a copy of [`busybox_path`], and `bin/<applet>` → `busybox`
///   symlinks for every applet of `busybox --list`;
/// * empty `proc`, `sys`, `dev`, `etc`, `var`, `root` (0700) and `tmp` (1777);
/// * `etc/passwd` (root 0:0, nobody 65534:65534) and `etc/group` (root 0, nogroup 65534).
///
/// It copies one 2 MB file and makes a few hundred symlinks, so it is cheap
/// enough to build fresh for every test. Fails with a clear error when busybox
/// is missing or dynamically linked (it must run inside a bare rootfs).
pub fn busybox_rootfs(dir: &Path) -> io::Result<()> {
    let src = busybox_path();
    let applets = applets(&src)?;
    let bin = dir.join("bin");
    fs::create_dir_all(&bin)?;
    fs::copy(&src, bin.join("busybox"))?;
    fs::set_permissions(bin.join("busybox"), fs::Permissions::from_mode(0o755))?;
    for applet in applets.iter().filter(|a| a.as_str() != "busybox") {
        symlink("busybox", bin.join(applet))?;
    }
    for (name, mode) in [
        ("proc", 0o755),
        ("sys", 0o755),
        ("dev", 0o755),
        ("etc", 0o755),
        ("var", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
    ] {
        let d = dir.join(name);
        fs::create_dir_all(&d)?;
        // set_permissions, not create_dir's mode: the umask would clear bits.
        fs::set_permissions(&d, fs::Permissions::from_mode(mode))?;
    }
    fs::write(dir.join("etc/passwd"), PASSWD)?;
    fs::write(dir.join("etc/group"), GROUP)?;
    Ok(())
}

/// The applet names of busybox at `src`, computed once per process (the list
/// is read-only, so sharing it is safe; the rootfs itself is never shared).
fn applets(src: &Path) -> io::Result<&'static Vec<String>> {
    static APPLETS: OnceLock<Result<Vec<String>, String>> = OnceLock::new();
    let res = APPLETS.get_or_init(|| list_applets(src).map_err(|e| e.to_string()));
    res.as_ref().map_err(|e| io::Error::other(e.clone()))
}

fn list_applets(src: &Path) -> io::Result<Vec<String>> {
    let hint = "install Debian's busybox-static (apt-get install busybox-static) or set BERTH_TEST_BUSYBOX";
    if !src.is_file() {
        return Err(io::Error::other(format!(
            "{} not found: {hint}",
            src.display()
        )));
    }
    if has_interpreter(src)? {
        return Err(io::Error::other(format!(
            "{} is dynamically linked and cannot run in a bare rootfs: {hint}",
            src.display()
        )));
    }
    let out = Command::new(src).arg("--list").output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} --list failed: {}",
            src.display(),
            out.status
        )));
    }
    let list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains('/'))
        .map(String::from)
        .collect();
    if !list.iter().any(|a| a == "sh") {
        return Err(io::Error::other(format!(
            "{} has no `sh` applet",
            src.display()
        )));
    }
    Ok(list)
}

/// Whether the ELF file at `p` requests a program interpreter (PT_INTERP),
/// i.e. is dynamically linked. Non-ELF64 files are reported as not dynamic
/// and left for `--list` to judge.
fn has_interpreter(p: &Path) -> io::Result<bool> {
    const PT_INTERP: u32 = 3;
    let mut head = Vec::new();
    fs::File::open(p)?.take(64 * 1024).read_to_end(&mut head)?;
    // ELF64 (class 2), little-endian (data 1).
    if head.len() < 64 || &head[..4] != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return Ok(false);
    }
    let u16_at = |o: usize| u16::from_le_bytes([head[o], head[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(head[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    Ok((0..phnum)
        .map(|i| phoff + i * phentsize)
        .take_while(|&o| o + 4 <= head.len())
        .any(|o| u32::from_le_bytes(head[o..o + 4].try_into().unwrap()) == PT_INTERP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn builds_rootfs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        let t = Instant::now();
        busybox_rootfs(&root).unwrap();
        eprintln!("busybox_rootfs took {:?}", t.elapsed());

        assert!(root.join("bin/busybox").is_file());
        for applet in ["sh", "cat", "echo", "grep", "id", "sleep"] {
            let link = root.join("bin").join(applet);
            assert_eq!(
                fs::read_link(&link).unwrap(),
                Path::new("busybox"),
                "{applet}"
            );
        }
        assert!(
            fs::symlink_metadata(root.join("bin/busybox"))
                .unwrap()
                .is_file()
        );
        let mode = |p: &str| fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("tmp"), 0o1777);
        assert_eq!(mode("root"), 0o700);
        for d in ["proc", "sys", "dev", "etc", "var"] {
            assert!(root.join(d).is_dir(), "{d}");
        }
        let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert!(passwd.lines().any(|l| l.starts_with("root:x:0:0:")));
        assert!(
            passwd
                .lines()
                .any(|l| l.starts_with("nobody:x:65534:65534:"))
        );
        assert!(
            fs::read_to_string(root.join("etc/group"))
                .unwrap()
                .starts_with("root:x:0:")
        );

        // The symlinks work: run an applet through one.
        let out = Command::new(root.join("bin/echo"))
            .arg("hi")
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"hi\n");
    }

    #[test]
    fn rootfs_builds_are_independent() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        busybox_rootfs(&a).unwrap();
        busybox_rootfs(&b).unwrap();
        fs::write(a.join("etc/passwd"), "changed").unwrap();
        assert_ne!(fs::read_to_string(b.join("etc/passwd")).unwrap(), "changed");
    }

    #[test]
    fn busybox_is_static() {
        assert!(!has_interpreter(&busybox_path()).unwrap());
        assert!(
            has_interpreter(Path::new("/bin/sh")).unwrap(),
            "/bin/sh should be dynamic"
        );
    }
}
