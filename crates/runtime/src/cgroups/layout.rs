//! Which cgroup hierarchies the host has mounted, and where.

use std::path::{Path, PathBuf};

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// A cgroup v1 hierarchy; `key` is its comma-joined controllers, or
    /// `name=...` for a named one.
    V1 { key: String, mount: PathBuf },
    /// The cgroup2 hierarchy.
    V2 { mount: PathBuf },
}

/// The cgroup hierarchies of the host.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Reads the hierarchies from /proc/self/mountinfo.
    pub fn host() -> Layout {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        Layout::from_mountinfo(&text)
    }

    pub fn from_mountinfo(text: &str) -> Layout {
        let mut hierarchies = Vec::new();
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = left.split(' ').collect();
            let rfields: Vec<&str> = right.split(' ').collect();
            let (Some(mount), Some(fstype)) = (fields.get(4), rfields.first()) else {
                continue;
            };
            let mount = PathBuf::from(unescape(mount));
            match *fstype {
                "cgroup2" => hierarchies.push(Hierarchy::V2 { mount }),
                "cgroup" => {
                    let opts = rfields.get(2).copied().unwrap_or("");
                    let key = opts
                        .split(',')
                        .filter(|o| {
                            !matches!(
                                *o,
                                "rw" | "ro"
                                    | "relatime"
                                    | "noatime"
                                    | "nosuid"
                                    | "nodev"
                                    | "noexec"
                            ) && !o.starts_with("release_agent")
                                && *o != "clone_children"
                                && *o != "xattr"
                        })
                        .collect::<Vec<_>>()
                        .join(",");
                    if !key.is_empty()
                        && !hierarchies
                            .iter()
                            .any(|h| matches!(h, Hierarchy::V1 { key: k, .. } if *k == key))
                    {
                        hierarchies.push(Hierarchy::V1 { key, mount });
                    }
                }
                _ => {}
            }
        }
        Layout { hierarchies }
    }

    pub fn is_v2_only(&self) -> bool {
        self.hierarchies
            .iter()
            .all(|h| matches!(h, Hierarchy::V2 { .. }))
            && !self.hierarchies.is_empty()
    }

    /// The v2 mount point, if any.
    pub fn unified(&self) -> Option<&Path> {
        self.hierarchies.iter().find_map(|h| match h {
            Hierarchy::V2 { mount } => Some(mount.as_path()),
            _ => None,
        })
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u8::from_str_radix(&s[i + 1..i + 4], 8).unwrap_or(b'?');
            out.push(v as char);
            i += 4;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn hybrid_layout() {
        let l = Layout::from_mountinfo(HYBRID);
        assert_eq!(l.hierarchies.len(), 5);
        assert!(!l.is_v2_only());
        assert_eq!(l.unified(), Some(Path::new("/sys/fs/cgroup/unified")));
        assert!(l.hierarchies.contains(&Hierarchy::V1 {
            key: "name=systemd".into(),
            mount: "/sys/fs/cgroup/systemd".into()
        }));
        assert!(l.hierarchies.contains(&Hierarchy::V1 {
            key: "cpu,cpuacct".into(),
            mount: "/sys/fs/cgroup/cpu,cpuacct".into()
        }));
    }

    #[test]
    fn v2_layout() {
        let l = Layout::from_mountinfo(
            "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        assert!(l.is_v2_only());
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
