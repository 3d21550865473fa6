#![forbid(unsafe_code)]
//! The same probe bundles under crun, runc and berth: what the process sees
//! from inside must match.

use berth_testkit::{Bundle, OutputExt, Runtime, require_root, unique_id};
use serde_json::json;

/// What a process can observe of its isolation, one fact a line.
const PROBE: &str = "\
hostname; id; cat /proc/self/uid_map | tr -s ' '; \
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; \
echo nofile $(ulimit -n); echo umask $(umask); echo cwd $(pwd); echo pid $$; \
echo env $(env | grep -v '^PWD=\\|^SHLVL=\\|^_=' | sort | tr '\\n' ' '); \
ls -a /dev | sort | tr '\\n' ' '; echo; \
awk '{for (i = 7; i <= NF; i++) if ($i == \"-\") {print $5, $(i+1); break}}' /proc/self/mountinfo | sort; \
(echo x > /proc/sys/kernel/hostname) 2>/dev/null && echo sys-writable || echo sys-readonly; \
(touch /rootfile) 2>/dev/null && echo root-writable || echo root-readonly; \
wc -c < /proc/keys; ls /proc/acpi | wc -l; \
exit 3";

fn observe(rt: &Runtime, tweak: &dyn Fn(&mut serde_json::Value)) -> (Option<i32>, String) {
    let mut b = Bundle::with_args(&["sh", "-c", PROBE]);
    b.edit(|c| tweak(c));
    let out = rt.run(&b, &unique_id(&format!("diff-{}", rt.kind())));
    (out.status.code(), out.stdout_str())
}

/// crun's documented choices that differ from runc's (berth follows runc):
/// it adds /dev/core, masks files with the host's /dev/null (a devtmpfs), and
/// sets HOME only from /etc/passwd.
fn normalize(kind: berth_testkit::RuntimeKind, line: &str) -> String {
    if kind != berth_testkit::RuntimeKind::Crun {
        return line.to_string();
    }
    line.replace(" core ", " ")
        .replace(" devtmpfs", " tmpfs")
        .replace("HOME=/ ", "")
}

fn compare(tweak: &dyn Fn(&mut serde_json::Value)) {
    let berth = observe(&Runtime::berth(), tweak);
    assert_eq!(berth.0, Some(3), "berth: {}", berth.1);
    let mut compared = 0;
    for reference in [Runtime::runc(), Runtime::crun()].into_iter().flatten() {
        let theirs = observe(&reference, tweak);
        assert_eq!(theirs.0, Some(3), "{}: {}", reference.kind(), theirs.1);
        let norm = |text: &str| -> Vec<String> {
            text.lines()
                .map(|l| normalize(reference.kind(), l))
                .collect()
        };
        let (ours, theirs_text) = (norm(&berth.1), norm(&theirs.1));
        let only_ours: Vec<_> = ours.iter().filter(|l| !theirs_text.contains(l)).collect();
        let only_theirs: Vec<_> = theirs_text.iter().filter(|l| !ours.contains(l)).collect();
        assert!(
            only_ours.is_empty() && only_theirs.is_empty(),
            "berth and {} disagree\nonly berth: {only_ours:#?}\nonly {}: {only_theirs:#?}",
            reference.kind(),
            reference.kind()
        );
        compared += 1;
    }
    assert!(
        compared > 0 || !berth_testkit::in_ci(),
        "no reference runtime to compare with"
    );
}

#[test]
fn default_bundle_matches_runc_and_crun() {
    if !require_root() {
        return;
    }
    compare(&|_| {});
}

#[test]
fn non_root_user_with_ambient_caps_matches() {
    if !require_root() {
        return;
    }
    compare(&|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "umask": 63});
        let set = json!(["CAP_KILL", "CAP_CHOWN"]);
        for k in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            c["process"]["capabilities"][k] = set.clone();
        }
        c["process"]["noNewPrivileges"] = json!(false);
        c["process"]["cwd"] = json!("/tmp");
        c["root"]["readonly"] = json!(false);
    });
}

#[test]
fn missing_cwd_and_relative_masked_paths_match() {
    if !require_root() {
        return;
    }
    compare(&|c| {
        c["process"]["cwd"] = json!("/made/here");
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("proc/cpuinfo"));
        c["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("etc"));
    });
}
