#![forbid(unsafe_code)]
//! Each test tries an attack on the runtime and checks it fails.

use std::io::Read;
use std::time::Duration;

use berth_testkit::{Bundle, OutputExt, Runtime, require_root, unique_id};
use serde_json::json;

fn digest(path: &std::path::Path) -> Vec<u8> {
    let mut f = std::fs::File::open(path).unwrap();
    let mut data = Vec::new();
    f.read_to_end(&mut data).unwrap();
    data
}

/// CVE-2019-5736: a container process must not reach the runtime binary
/// through /proc/<pid>/exe, neither of the init during create nor of a
/// runtime process joining it for exec.
#[test]
fn runtime_binary_cannot_be_overwritten_from_a_container() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let before = digest(rt.binary());
    let id = unique_id("exe");
    // The container keeps trying to open every other process's exe for writing.
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "while :; do for p in /proc/[0-9]*; do \
           [ \"$p\" = /proc/$$ ] && continue; \
           (echo pwned >> $p/exe) 2>/dev/null && echo OPENED $p $(readlink $p/exe); \
         done; done",
    ]);
    rt.create(&b, &id).assert_success();
    let pid = rt.state_json(&id).unwrap()["pid"].as_i64().unwrap();
    // From the host too: the waiting init's exe is a sealed copy, not writable.
    let exe = format!("/proc/{pid}/exe");
    assert!(
        std::fs::OpenOptions::new().append(true).open(&exe).is_err(),
        "init's exe opened for writing"
    );
    rt.start(&id).assert_success();
    for _ in 0..30 {
        rt.exec(&["exec", &id, "true"]).assert_success();
    }
    std::thread::sleep(Duration::from_millis(200));
    rt.delete_force(&id).assert_success();
    let (stdout, _) = rt.container_output(&id);
    assert!(
        !stdout.contains("OPENED"),
        "a runtime exe was writable from the container: {stdout}"
    );
    assert_eq!(
        before,
        digest(rt.binary()),
        "the host's runtime binary changed"
    );
}

/// CVE-2024-21626: no host descriptor and no host working directory reach the container.
#[test]
fn no_host_descriptor_or_directory_leaks_in() {
    if !require_root() {
        return;
    }
    let b = Bundle::with_args(&["sh", "-c", "ls /proc/self/fd | sort | tr '\\n' ' '; pwd"]);
    let out = Runtime::berth().run(&b, &unique_id("fds"));
    out.assert_success();
    // 0-2 are stdio, 3 is ls's own handle on the directory it lists.
    assert_eq!(out.stdout_str(), "0 1 2 3 /\n");

    for n in 3..8 {
        let mut b = Bundle::with_args(&["pwd"]);
        b.edit(|c| c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}")));
        let rt = Runtime::berth();
        let id = unique_id("cwd");
        let out = rt.run(&b, &id);
        assert!(
            !out.status.success(),
            "cwd /proc/self/fd/{n} was accepted: {}",
            out.stdout_str()
        );
        assert!(!rt.root().join(&id).exists());
    }
}

/// CVE-2021-30465: a mount destination that is a symlink inside the rootfs
/// resolves inside the rootfs, wherever it points.
#[test]
fn symlinked_mount_destination_stays_in_the_rootfs() {
    if !require_root() {
        return;
    }
    let host = tempfile::tempdir().unwrap();
    let target = host.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let mut b = Bundle::with_args(&["sh", "-c", "grep -c target /proc/self/mountinfo || true"]);
    let rootfs = b.rootfs();
    std::os::unix::fs::symlink(&target, rootfs.join("evil-abs")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../../..".to_string() + &target.to_string_lossy(),
        rootfs.join("evil-rel"),
    )
    .unwrap();
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        for dest in ["/evil-abs", "/evil-rel/sub"] {
            mounts.push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}));
        }
    });
    let out = Runtime::berth().run(&b, &unique_id("mnt"));
    out.assert_success();
    assert!(
        std::fs::read_dir(&target).unwrap().next().is_none(),
        "something was created in the host directory"
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(&*target.to_string_lossy()),
        "a mount landed on the host"
    );
    // The symlinks were followed inside the rootfs instead: both tmpfs mounts
    // are in the container, at the link targets taken inside its root.
    assert!(rootfs.join(target.strip_prefix("/").unwrap()).is_dir());
    assert_eq!(out.stdout_str().trim(), "2", "mounts seen in the container");
}

/// Masked paths unreadable, read-only paths unwritable, dropped capabilities
/// gone, no_new_privs set: tried from inside, as root of the container.
#[test]
fn masks_readonly_paths_caps_and_no_new_privs_hold() {
    if !require_root() {
        return;
    }
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "cat /proc/keys | wc -c; \
         (echo 1 > /proc/sysrq-trigger) 2>/dev/null && echo sysrq-written || echo sysrq-denied; \
         mknod /dev/shm/sda b 8 0 2>/dev/null && echo mknod-ok || echo mknod-denied; \
         (mount -t tmpfs t /mnt) 2>/dev/null && echo mount-ok || echo mount-denied; \
         chown 1 /dev/shm 2>/dev/null && echo chown-ok || echo chown-denied; \
         grep NoNewPrivs /proc/self/status",
    ]);
    let out = Runtime::berth().run(&b, &unique_id("sec"));
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        "0\nsysrq-denied\nmknod-denied\nmount-denied\nchown-denied\nNoNewPrivs:\t1\n"
    );
}

/// Sysctls outside the container's own namespaces would be the host's:
/// `kernel.core_pattern` with a pipe runs a program as root on the host.
/// The runtime refuses them with runc's words, and the host's values stay.
#[test]
fn sysctls_of_the_host_are_refused() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let read = |p: &str| std::fs::read_to_string(p).unwrap();
    let core = read("/proc/sys/kernel/core_pattern");
    let overcommit = read("/proc/sys/vm/overcommit_ratio");
    let forward = read("/proc/sys/net/ipv4/conf/all/forwarding");
    // Should a runtime let one through, the host gets its values back
    // whatever happens to the test.
    let _restore = HostSysctls(vec![
        ("/proc/sys/kernel/core_pattern", core.clone()),
        ("/proc/sys/vm/overcommit_ratio", overcommit.clone()),
        ("/proc/sys/net/ipv4/conf/all/forwarding", forward.clone()),
    ]);
    let cases: [(&str, &str, Option<&str>, &str); 5] = [
        (
            "kernel.core_pattern",
            "|/bin/touch /tmp/pwned",
            None,
            "is not in a separate kernel namespace",
        ),
        (
            "vm.overcommit_ratio",
            "51",
            None,
            "is not in a separate kernel namespace",
        ),
        (
            "kernel.hostname",
            "x",
            None,
            "conflicts with the OCI \"hostname\" field",
        ),
        // In the host's network and IPC namespaces: refused.
        (
            "net.ipv4.conf.all.forwarding",
            "1",
            Some("network"),
            "is not allowed in the hosts network namespace",
        ),
        (
            "kernel.msgmax",
            "65536",
            Some("ipc"),
            "is not allowed in the hosts ipc namespace",
        ),
    ];
    for (key, value, drop_ns, want) in cases {
        let mut b = Bundle::with_args(&["true"]);
        b.edit(|c| {
            c["linux"]["sysctl"] = json!({ key: value });
            if let Some(ns) = drop_ns {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|n| n["type"] != ns);
            }
        });
        let out = rt.run(&b, &unique_id("sysctl"));
        assert_ne!(out.status.code(), Some(0), "{key} was accepted");
        assert!(
            unquoted(&out.stderr_str()).contains(want),
            "{key}: wanted {want:?} in {}",
            out.stderr_str()
        );
    }
    assert_eq!(read("/proc/sys/kernel/core_pattern"), core);
    assert_eq!(read("/proc/sys/vm/overcommit_ratio"), overcommit);
    assert_eq!(read("/proc/sys/net/ipv4/conf/all/forwarding"), forward);
    assert!(!std::path::Path::new("/tmp/pwned").exists());
}

/// Writes the host's sysctl values back on drop.
struct HostSysctls(Vec<(&'static str, String)>);

impl Drop for HostSysctls {
    fn drop(&mut self) {
        for (path, value) in &self.0 {
            if std::fs::read_to_string(path).ok().as_deref() != Some(value.as_str()) {
                let _ = std::fs::write(path, value);
            }
        }
    }
}

/// What runc refuses, berth-runtime refuses: a /proc or /sys that is a
/// symlink in the image, a specification that is not 1.x, recursive mount
/// options it would otherwise ignore (leaving a submount writable).
#[test]
fn specs_runc_refuses_are_refused() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    for dir in ["proc", "sys"] {
        let b = Bundle::with_args(&["true"]);
        let at = b.rootfs().join(dir);
        let _ = std::fs::remove_dir_all(&at);
        std::os::unix::fs::symlink("/tmp", &at).unwrap();
        let out = rt.run(&b, &unique_id("symlink"));
        assert_ne!(
            out.status.code(),
            Some(0),
            "a symlinked /{dir} was mounted on"
        );
        assert!(
            out.stderr_str()
                .contains("must be mounted on ordinary directory"),
            "/{dir}: {}",
            out.stderr_str()
        );
    }
    let mut b = Bundle::with_args(&["true"]);
    b.edit(|c| c["ociVersion"] = json!("banana"));
    let out = rt.run(&b, &unique_id("version"));
    assert_ne!(out.status.code(), Some(0));
    assert!(
        unquoted(&out.stderr_str()).contains("ociVersion \"banana\""),
        "{}",
        out.stderr_str()
    );
}

/// `--preserve-fds N` gives the container the caller's descriptors 3..3+N
/// and nothing of the runtime's own (its sync socket, exec.fifo): numbers
/// the caller left closed hold /dev/null.
#[test]
fn preserve_fds_passes_nothing_of_the_runtime() {
    if !require_root() {
        return;
    }
    let rt = Runtime::berth();
    let b = Bundle::with_args(&[
        "sh",
        "-c",
        "for f in /proc/self/fd/*; do echo \"$f $(readlink $f)\"; done",
    ]);
    b.sync();
    let id = unique_id("pfds");
    rt.track(&id);
    let bundle = b.path().to_string_lossy().into_owned();
    let out = rt.exec(&["run", "--preserve-fds", "4", "--bundle", &bundle, &id]);
    out.assert_success();
    for line in out.stdout_str().lines() {
        let (fd, target) = line.split_once(' ').unwrap();
        let n: i32 = fd.rsplit('/').next().unwrap().parse().unwrap();
        if n >= 3 {
            assert!(
                target == "/dev/null" || n >= 3 + 4,
                "descriptor {n} of the runtime's reached the container: {target}"
            );
            assert!(
                !target.contains("exec.fifo")
                    && !target.starts_with("socket:")
                    && !target.contains("state"),
                "descriptor {n} leaks {target}: {}",
                out.stdout_str()
            );
        }
    }
}

/// The runtime's error line as runc (logrus) writes it quotes the message,
/// its own quotes escaped: the message as said.
fn unquoted(stderr: &str) -> String {
    stderr.replace("\\\"", "\"")
}
