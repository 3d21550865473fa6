//! The container's filesystem view, made in its own mount namespace: mounts in
//! config order, /dev, pivot_root, then masked and read-only paths.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use crate::cgroups::CgroupPaths;
use crate::error::{Context, Error, Result};
use berth_safefs::{open_in_root, proc_fd_path};

/// The mount target `path` inside `root`, created if missing (see berth-safefs).
fn ensure_in_root(root: &impl std::os::fd::AsFd, path: &Path, file: bool) -> Result<OwnedFd> {
    berth_safefs::ensure_in_root(root, path, file).map_err(|e| Error::Other(e.to_string()))
}

/// A mount's options split into flags to set, flags to clear, propagation
/// changes, and the rest, which goes to the filesystem as data.
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub data: Vec<String>,
    pub bind: bool,
    pub recursive: bool,
    /// mount_setattr(2) bits the recursive options (rro, rnosuid, ...)
    /// set and clear on the mount and every mount below it.
    pub attr_set: u64,
    pub attr_clr: u64,
    pub has_attr: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            data: Vec::new(),
            bind: false,
            recursive: false,
            attr_set: 0,
            attr_clr: 0,
            has_attr: false,
        }
    }
}

/// One option of a mount, as runc understands them.
pub enum MountOption {
    Set(MsFlags),
    Clear(MsFlags),
    Propagation(MsFlags),
    Bind {
        recursive: bool,
    },
    /// A recursive option: (clear?, mount_setattr bit).
    Recursive {
        clear: bool,
        attr: u64,
    },
    Data,
}

/// The recursive options (runc's and youki's table): the option, whether
/// it clears the bit, and the bit.
const RECURSIVE_OPTIONS: [(&str, bool, u64); 18] = {
    use berth_sys::mount_attr::*;
    [
        ("rro", false, RDONLY),
        ("rrw", true, RDONLY),
        ("rnosuid", false, NOSUID),
        ("rsuid", true, NOSUID),
        ("rnodev", false, NODEV),
        ("rdev", true, NODEV),
        ("rnoexec", false, NOEXEC),
        ("rexec", true, NOEXEC),
        ("rnodiratime", false, NODIRATIME),
        ("rdiratime", true, NODIRATIME),
        ("rrelatime", false, RELATIME),
        ("rnorelatime", true, RELATIME),
        ("rnoatime", false, NOATIME),
        ("ratime", true, NOATIME),
        ("rstrictatime", false, STRICTATIME),
        ("rnostrictatime", true, STRICTATIME),
        ("rnosymfollow", false, NOSYMFOLLOW),
        ("rsymfollow", true, NOSYMFOLLOW),
    ]
};

impl MountOption {
    pub fn parse(opt: &str) -> MountOption {
        use MountOption::*;
        match opt {
            "bind" => Bind { recursive: false },
            "rbind" => Bind { recursive: true },
            "ro" => Set(MsFlags::MS_RDONLY),
            "rw" => Clear(MsFlags::MS_RDONLY),
            "nosuid" => Set(MsFlags::MS_NOSUID),
            "suid" => Clear(MsFlags::MS_NOSUID),
            "nodev" => Set(MsFlags::MS_NODEV),
            "dev" => Clear(MsFlags::MS_NODEV),
            "noexec" => Set(MsFlags::MS_NOEXEC),
            "exec" => Clear(MsFlags::MS_NOEXEC),
            "sync" => Set(MsFlags::MS_SYNCHRONOUS),
            "async" => Clear(MsFlags::MS_SYNCHRONOUS),
            "dirsync" => Set(MsFlags::MS_DIRSYNC),
            "remount" => Set(MsFlags::MS_REMOUNT),
            "mand" => Set(MsFlags::MS_MANDLOCK),
            "nomand" => Clear(MsFlags::MS_MANDLOCK),
            "atime" => Clear(MsFlags::MS_NOATIME),
            "noatime" => Set(MsFlags::MS_NOATIME),
            "diratime" => Clear(MsFlags::MS_NODIRATIME),
            "nodiratime" => Set(MsFlags::MS_NODIRATIME),
            "relatime" => Set(MsFlags::MS_RELATIME),
            "norelatime" => Clear(MsFlags::MS_RELATIME),
            "strictatime" => Set(MsFlags::MS_STRICTATIME),
            "nostrictatime" => Clear(MsFlags::MS_STRICTATIME),
            other => match propagation_flag(other) {
                Some(f) => Propagation(f),
                None => match RECURSIVE_OPTIONS.iter().find(|(o, _, _)| *o == other) {
                    Some(&(_, clear, attr)) => Recursive { clear, attr },
                    None => Data,
                },
            },
        }
    }
}

pub fn propagation_flag(s: &str) -> Option<MsFlags> {
    Some(match s {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

pub fn parse_options(m: &Mount) -> MountOptions {
    let mut o = MountOptions {
        bind: m.typ().as_deref() == Some("bind"),
        ..Default::default()
    };
    for opt in m.options().iter().flatten() {
        match MountOption::parse(opt) {
            MountOption::Set(f) => o.flags |= f,
            MountOption::Clear(f) => o.flags &= !f,
            MountOption::Propagation(f) => o.propagation.push(f),
            MountOption::Bind { recursive } => {
                o.bind = true;
                o.recursive |= recursive;
            }
            MountOption::Recursive { clear, attr } => {
                o.has_attr = true;
                if clear {
                    o.attr_clr |= attr;
                } else {
                    o.attr_set |= attr;
                }
                // The access time is one field: a change to it clears the
                // whole field first (mount_setattr(2)); clearing one of its
                // values (ratime, rnostrictatime) leaves relatime, as youki.
                if attr & berth_sys::mount_attr::ATIME_MASK == attr {
                    o.attr_clr |= berth_sys::mount_attr::ATIME_MASK;
                }
            }
            MountOption::Data => o.data.push(opt.clone()),
        }
    }
    o
}

/// What the rootfs setup needs besides the spec.
pub struct RootfsContext<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub cgroup: &'a CgroupPaths,
    /// In a new user namespace: device nodes cannot be made, so they are bound.
    pub in_userns: bool,
    /// Nodes made by the runtime for linux.devices the host lacks (in a
    /// user namespace): the container path and the node's host path.
    pub devices: &'a [(PathBuf, PathBuf)],
}

/// Everything before pivot_root: propagation, the rootfs bind, mounts, /dev.
pub fn prepare(ctx: &RootfsContext) -> Result<()> {
    let linux = ctx.spec.linux().as_ref();
    let root_prop = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    // Nothing we mount may propagate back to the host.
    mount(None::<&str>, "/", None::<&str>, root_prop, None::<&str>)
        .ctx(|| "making / a slave mount in the container's namespace")?;
    make_parent_private(ctx.rootfs)?;
    mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("binding the root filesystem {}", ctx.rootfs.display()))?;
    let root = nix::fcntl::open(
        ctx.rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("opening the root filesystem {}", ctx.rootfs.display()))?;

    let mounts = ctx.spec.mounts().clone().unwrap_or_default();
    for m in &mounts {
        mount_one(ctx, &root, m).map_err(|e| {
            Error::Other(format!(
                "mounting {} on {}: {e}",
                source_name(m),
                m.destination().display()
            ))
        })?;
    }
    let dev_is_bound = mounts
        .iter()
        .any(|m| m.destination() == Path::new("/dev") && parse_options(m).bind);
    if !dev_is_bound {
        make_devices(ctx, &root)?;
        dev_symlinks(&root)?;
    }
    make_cwd(ctx.spec, &root)
}

/// Creates `process.cwd` when it is missing, as runc does (and dockerd, at
/// create, for `-w` and the image's WORKDIR): root-owned, mode 0755, before
/// the process takes its identity and before a read-only root is remounted.
///
/// Here rather than in the shim, after the rootfs overlay is mounted: only
/// now are the container's mounts in place, so a working directory under a
/// bind mount or a tmpfs (`-v /h:/data -w /data/sub`) is made where the
/// process will look for it, and the runtime behaves as runc for any
/// engine (dockerd, containerd) that uses it. The path is resolved inside
/// the root by berth-safefs (a symlink in the image, even `/proc/self/fd/N`,
/// cannot lead the mkdir out of it).
fn make_cwd(spec: &Spec, root: &OwnedFd) -> Result<()> {
    let Some(process) = spec.process() else {
        return Ok(());
    };
    let cwd = process.cwd();
    if cwd.as_os_str().is_empty() || cwd == Path::new("/") {
        return Ok(());
    }
    // Only what is missing is made: a path that is there, or that cannot be
    // resolved safely (through a magic link such as /proc/self/fd/N), is
    // left to chdir, which uses it or reports why not.
    match open_in_root(root, cwd, OFlag::O_PATH | OFlag::O_DIRECTORY) {
        Err(nix::errno::Errno::ENOENT) => {}
        _ => return Ok(()),
    }
    // 0755 whatever umask we inherited: the mode Docker gives it.
    let old = nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    let made = ensure_in_root(root, cwd, false);
    nix::sys::stat::umask(old);
    made.map(drop)
        .map_err(|e| Error::Other(format!("creating process.cwd {}: {e}", cwd.display())))
}

/// [`make_cwd`] in the process's root (after a chroot).
pub fn make_cwd_in_root(spec: &Spec) -> Result<()> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "opening /")?;
    make_cwd(spec, &root)
}

fn source_name(m: &Mount) -> String {
    m.source()
        .as_ref()
        .map(|s| s.display().to_string())
        .or_else(|| m.typ().clone())
        .unwrap_or_else(|| "none".into())
}

/// pivot_root needs the new root's parent mount not to be shared.
fn make_parent_private(rootfs: &Path) -> Result<()> {
    let parent = berth_sys::mount_point_of(rootfs)
        .ok_or_else(|| Error::Other(format!("finding the mount of {}", rootfs.display())))?;
    mount(
        None::<&str>,
        &parent,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .ctx(|| format!("making {} private", parent.display()))
}

fn mount_one(ctx: &RootfsContext, root: &OwnedFd, m: &Mount) -> Result<()> {
    let opts = parse_options(m);
    let typ = m.typ().as_deref().unwrap_or("");
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroups(ctx, root, m, &opts);
    }
    if opts.bind {
        let source = m
            .source()
            .as_ref()
            .ok_or_else(|| Error::Config("a bind mount needs a source".into()))?;
        let meta = std::fs::metadata(source).ctx(|| format!("bind source {}", source.display()))?;
        let target = ensure_in_root(root, m.destination(), !meta.is_dir())?;
        let mut flags = MsFlags::MS_BIND;
        if opts.recursive {
            flags |= MsFlags::MS_REC;
        }
        mount(
            Some(source.as_path()),
            &proc_fd_path(&target),
            None::<&str>,
            flags,
            None::<&str>,
        )
        .ctx(|| "bind")?;
        let extra = opts.flags & !MsFlags::MS_REMOUNT;
        if !extra.is_empty() {
            remount_bind(root, m.destination(), extra)?;
        }
    } else {
        if matches!(typ, "proc" | "sysfs") {
            // A symlink there would put the kernel's files where the image
            // chose (runc refuses it too).
            let at = ctx
                .rootfs
                .join(m.destination().strip_prefix("/").unwrap_or(m.destination()));
            if std::fs::symlink_metadata(&at).is_ok_and(|md| md.file_type().is_symlink()) {
                return Err(Error::Config(format!(
                    "mount destination {} is a symlink: {typ} must be mounted on ordinary directory",
                    m.destination().display()
                )));
            }
        }
        let target = ensure_in_root(root, m.destination(), false)?;
        let data = opts.data.join(",");
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let result = mount(
            Some(source.as_path()),
            &proc_fd_path(&target),
            Some(typ),
            opts.flags,
            (!data.is_empty()).then_some(data.as_str()),
        );
        match result {
            Ok(()) => {}
            // In a user namespace without its own network namespace, sysfs
            // cannot be mounted; bind the host's, read-only, as runc does.
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" && ctx.in_userns => {
                mount(
                    Some("/sys"),
                    &proc_fd_path(&target),
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .ctx(|| "binding /sys")?;
                remount_bind(
                    root,
                    m.destination(),
                    MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC,
                )?;
            }
            Err(e) => return Err(Error::io(typ, e)),
        }
    }
    if opts.has_attr {
        let target = open_in_root(root, m.destination(), OFlag::O_PATH).ctx(|| "reopening")?;
        berth_sys::mount_setattr_recursive(&target, opts.attr_set, opts.attr_clr).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOSYS) {
                Error::Config(format!(
                    "mount {}: recursive mount options need mount_setattr(2), which this kernel lacks (Linux 5.12 or later)",
                    m.destination().display()
                ))
            } else {
                Error::io(
                    format!(
                        "applying the recursive options of {} (mount_setattr)",
                        m.destination().display()
                    ),
                    e,
                )
            }
        })?;
    }
    for p in &opts.propagation {
        let target = open_in_root(root, m.destination(), OFlag::O_PATH).ctx(|| "reopening")?;
        mount(
            None::<&str>,
            &proc_fd_path(&target),
            None::<&str>,
            *p,
            None::<&str>,
        )
        .ctx(|| "setting propagation")?;
    }
    Ok(())
}

/// Remounts the bind mount at `dest` with `flags`, keeping the flags the
/// kernel locks (an unprivileged remount must not clear nosuid, nodev, ...).
fn remount_bind(root: &OwnedFd, dest: &Path, flags: MsFlags) -> Result<()> {
    let target =
        open_in_root(root, dest, OFlag::O_PATH).ctx(|| format!("reopening {}", dest.display()))?;
    let path = proc_fd_path(&target);
    let locked = locked_flags(&path);
    mount(
        None::<&str>,
        &path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | locked,
        None::<&str>,
    )
    .ctx(|| format!("remounting {} with {flags:?}", dest.display()))
}

fn locked_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{FsFlags, statvfs};
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

/// The cgroup mount: a tmpfs with the container's own cgroup directory of each
/// hierarchy bound in (v1), or that directory alone (v2).
fn mount_cgroups(
    ctx: &RootfsContext,
    root: &OwnedFd,
    m: &Mount,
    opts: &MountOptions,
) -> Result<()> {
    let dest = m.destination();
    let ro = opts.flags & MsFlags::MS_RDONLY;
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if ctx.cgroup.v2_only {
        let dir = ctx.cgroup.unified.as_ref().expect("v2 has a directory");
        let target = ensure_in_root(root, dest, false)?;
        mount(
            Some(dir.as_path()),
            &proc_fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| "binding the cgroup")?;
        return remount_bind(root, dest, base | ro);
    }
    let target = ensure_in_root(root, dest, false)?;
    mount(
        Some("tmpfs"),
        &proc_fd_path(&target),
        Some("tmpfs"),
        base,
        Some("mode=755"),
    )
    .ctx(|| "mounting the cgroup tmpfs")?;
    let dirs: Vec<(String, &PathBuf)> = ctx
        .cgroup
        .v1
        .iter()
        .map(|(k, d)| (hierarchy_dir_name(k), d))
        .collect();
    // On a hybrid host the cgroup2 mount holds no controller a container
    // uses; runc leaves it out of the container too.
    for (name, dir) in dirs {
        let sub = dest.join(&name);
        let t = ensure_in_root(root, &sub, false)?;
        mount(
            Some(dir.as_path()),
            &proc_fd_path(&t),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| format!("binding cgroup {}", dir.display()))?;
        remount_bind(root, &sub, base | ro)?;
    }
    if !ro.is_empty() {
        remount_bind(root, dest, base | ro)?;
    }
    Ok(())
}

/// "name=systemd" mounts at "systemd", as hosts do.
fn hierarchy_dir_name(key: &str) -> String {
    key.strip_prefix("name=").unwrap_or(key).to_string()
}

struct DefaultDevice {
    path: &'static str,
    major: u64,
    minor: u64,
}

const DEFAULT_DEVICES: &[DefaultDevice] = &[
    DefaultDevice {
        path: "null",
        major: 1,
        minor: 3,
    },
    DefaultDevice {
        path: "zero",
        major: 1,
        minor: 5,
    },
    DefaultDevice {
        path: "full",
        major: 1,
        minor: 7,
    },
    DefaultDevice {
        path: "random",
        major: 1,
        minor: 8,
    },
    DefaultDevice {
        path: "urandom",
        major: 1,
        minor: 9,
    },
    DefaultDevice {
        path: "tty",
        major: 5,
        minor: 0,
    },
];

fn make_devices(ctx: &RootfsContext, root: &OwnedFd) -> Result<()> {
    // Make the nodes with exactly the modes given.
    let old = nix::sys::stat::umask(Mode::empty());
    let result = (|| {
        for d in DEFAULT_DEVICES {
            let path = Path::new("/dev").join(d.path);
            make_node(
                ctx,
                root,
                &path,
                SFlag::S_IFCHR,
                d.major,
                d.minor,
                0o666,
                0,
                0,
            )?;
        }
        for d in ctx
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default()
        {
            make_spec_device(ctx, root, &d)?;
        }
        Ok(())
    })();
    nix::sys::stat::umask(old);
    result
}

/// A device of linux.devices, at its path in the container, under /dev or
/// not (runc makes it wherever the spec says, inside the root).
fn make_spec_device(ctx: &RootfsContext, root: &OwnedFd, d: &LinuxDevice) -> Result<()> {
    if !d.path().is_absolute() || d.path().file_name().is_none() {
        return Err(Error::Config(format!(
            "linux.devices {}: must be an absolute path naming a file",
            d.path().display()
        )));
    }
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::Config(format!(
                "linux.devices {}: type must be c, b, u or p",
                d.path().display()
            )));
        }
    };
    make_node(
        ctx,
        root,
        d.path(),
        kind,
        d.major() as u64,
        d.minor() as u64,
        d.file_mode().unwrap_or(0o666),
        d.uid().unwrap_or(0),
        d.gid().unwrap_or(0),
    )
}

/// For a container in a user namespace, where mknod is refused: the nodes
/// of linux.devices the host does not have at the same path (of the same
/// kind and number), made in the state directory `dir` with the spec's mode
/// and owner (mapped to the host's ids), for the init to bind. (By path: a
/// descriptor opened here names a mount of this process's mount namespace,
/// which the init, in a namespace of its own, cannot bind from.)
pub fn prepare_userns_devices(
    dir: &Path,
    linux: &oci_spec::runtime::Linux,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let map = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>, id: u32| {
        maps.iter().flatten().find_map(|m| {
            let off = id.checked_sub(m.container_id())?;
            (off < m.size()).then(|| m.host_id() + off)
        })
    };
    let mut out = Vec::new();
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let (kind, is_kind): (SFlag, fn(&std::fs::FileType) -> bool) = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => (SFlag::S_IFCHR, |t| t.is_char_device()),
            LinuxDeviceType::B => (SFlag::S_IFBLK, |t| t.is_block_device()),
            LinuxDeviceType::P => (SFlag::S_IFIFO, |t| t.is_fifo()),
            LinuxDeviceType::A => continue, // refused with the device itself
        };
        let rdev = makedev(d.major() as u64, d.minor() as u64);
        let on_host = std::fs::metadata(d.path())
            .is_ok_and(|m| is_kind(&m.file_type()) && (kind == SFlag::S_IFIFO || m.rdev() == rdev));
        if on_host {
            continue;
        }
        let node = dir.join(format!("device-{i}"));
        let mode = d.file_mode().unwrap_or(0o666);
        let old = nix::sys::stat::umask(Mode::empty());
        let made = mknod(&node, kind, Mode::from_bits_truncate(mode), rdev);
        nix::sys::stat::umask(old);
        made.map_err(|e| Error::io(format!("creating device {}", d.path().display()), e))?;
        let uid = map(linux.uid_mappings(), d.uid().unwrap_or(0));
        let gid = map(linux.gid_mappings(), d.gid().unwrap_or(0));
        nix::unistd::chown(&node, uid.map(Into::into), gid.map(Into::into))
            .ctx(|| format!("chown of device {}", d.path().display()))?;
        out.push((d.path().clone(), node));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn make_node(
    ctx: &RootfsContext,
    root: &OwnedFd,
    path: &Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<()> {
    let parent_rel = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .ok_or_else(|| Error::Config(format!("device path {}", path.display())))?;
    let parent_fd = ensure_in_root(root, parent_rel, false)?;
    let parent = nix::fcntl::openat(
        parent_fd.as_fd(),
        ".",
        OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("opening {}", parent_rel.display()))?;
    // The host's node at the same path, as runc binds it, or the one the
    // runtime made when the host has none.
    let host = match ctx.devices.iter().find(|(p, _)| p == path) {
        Some((_, node)) => node.display().to_string(),
        None => path.display().to_string(),
    };
    if ctx.in_userns {
        // mknod is refused in a user namespace: bind the host's node instead.
        let t = ensure_in_root(root, path, true)?;
        mount(
            Some(host.as_str()),
            &proc_fd_path(&t),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| format!("binding {host}"))?;
        // As crun: a device bind is nothing to execute or to gain
        // privileges from.
        return remount_bind(root, path, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
    }
    let node_path = proc_fd_path(&parent).join(name);
    match mknod(
        &node_path,
        kind,
        Mode::from_bits_truncate(mode),
        makedev(major, minor),
    ) {
        Ok(()) => {}
        Err(nix::errno::Errno::EEXIST) => return Ok(()),
        Err(e) => return Err(Error::io(format!("creating device {}", path.display()), e)),
    }
    nix::unistd::fchownat(
        parent.as_fd(),
        name,
        Some(uid.into()),
        Some(gid.into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .ctx(|| format!("chown of device {}", path.display()))
}

fn dev_symlinks(root: &OwnedFd) -> Result<()> {
    let dev_fd = ensure_in_root(root, Path::new("/dev"), false)?;
    let dev = nix::fcntl::openat(
        dev_fd.as_fd(),
        ".",
        OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "opening /dev")?;
    for (target, name) in [
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ] {
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(Error::io(format!("creating /dev/{name}"), e)),
        }
    }
    Ok(())
}

/// Makes the rootfs the process's root: pivot_root, or chroot with `no_pivot`.
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        nix::unistd::chdir(rootfs).ctx(|| "chdir to the root filesystem")?;
        mount(
            Some(rootfs),
            "/",
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .ctx(|| "moving the root filesystem onto /")?;
        nix::unistd::chroot(".").ctx(|| "chroot")?;
        nix::unistd::chdir("/").ctx(|| "chdir /")?;
        return Ok(());
    }
    let old = nix::fcntl::open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "opening /")?;
    let new = nix::fcntl::open(
        rootfs,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "opening the root filesystem")?;
    nix::unistd::fchdir(&new).ctx(|| "fchdir to the root filesystem")?;
    // pivot_root(".", ".") stacks the old root under the new one, so no
    // directory for it is needed in the rootfs (as runc does).
    nix::unistd::pivot_root(".", ".").ctx(|| "pivot_root")?;
    nix::unistd::fchdir(&old).ctx(|| "fchdir to the old root")?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "making the old root a slave")?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "detaching the old root")?;
    nix::unistd::chdir("/").ctx(|| "chdir /")?;
    Ok(())
}

/// After pivot_root: masked and read-only paths, the read-only root, propagation.
pub fn finish(spec: &Spec) -> Result<()> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "opening /")?;
    if let Some(linux) = spec.linux() {
        for p in linux.masked_paths().iter().flatten() {
            mask_path(&root, Path::new(p))?;
        }
        for p in linux.readonly_paths().iter().flatten() {
            readonly_path(&root, Path::new(p))?;
        }
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        let locked = locked_flags(Path::new("/"));
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked,
            None::<&str>,
        )
        .ctx(|| "remounting the root filesystem read-only")?;
    }
    if let Some(prop) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(propagation_flag)
    {
        mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .ctx(|| "setting root propagation")?;
    }
    Ok(())
}

/// A masked file reads as /dev/null; a masked directory as an empty read-only tmpfs.
fn mask_path(root: &OwnedFd, p: &Path) -> Result<()> {
    let fd = match open_in_root(root, p, OFlag::O_PATH) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::io(format!("masked path {}", p.display()), e)),
    };
    let target = proc_fd_path(&fd);
    let r = if berth_safefs::is_dir(&fd) {
        mount(
            Some("tmpfs"),
            &target,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            Some("size=0k,mode=555"),
        )
    } else {
        mount(
            Some("/dev/null"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    r.ctx(|| format!("masking {}", p.display()))
}

fn readonly_path(root: &OwnedFd, p: &Path) -> Result<()> {
    let fd = match open_in_root(root, p, OFlag::O_PATH) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::io(format!("read-only path {}", p.display()), e)),
    };
    mount(
        Some(&proc_fd_path(&fd)),
        &proc_fd_path(&fd),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("binding read-only path {}", p.display()))?;
    remount_bind(root, p, MsFlags::MS_RDONLY)
}

/// Binds the terminal's slave side onto /dev/console.
pub fn bind_console(slave_path: &Path) -> Result<()> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "opening /")?;
    let target = ensure_in_root(&root, Path::new("/dev/console"), true)?;
    mount(
        Some(slave_path),
        &proc_fd_path(&target),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx(|| "binding the terminal onto /dev/console")
}

/// Writes linux.sysctl under /proc/sys (after /proc is the container's).
pub fn apply_sysctl(spec: &Spec) -> Result<()> {
    for (key, value) in spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().clone())
        .unwrap_or_default()
    {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value.as_bytes()).ctx(|| format!("setting sysctl {key}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split() {
        let m: Mount = serde_json::from_str(
            r#"{"destination":"/x","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k","rprivate"]}"#,
        )
        .unwrap();
        let o = parse_options(&m);
        assert!(
            o.flags
                .contains(MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME)
        );
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(!o.bind);
        let m: Mount =
            serde_json::from_str(r#"{"destination":"/x","source":"/y","options":["rbind","ro"]}"#)
                .unwrap();
        let o = parse_options(&m);
        assert!(o.bind && o.recursive && o.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn recursive_options_become_mount_attrs() {
        use berth_sys::mount_attr::*;
        let m: Mount = serde_json::from_str(
            r#"{"destination":"/x","source":"/y","options":["rbind","rro","rnosuid","rexec","ratime","rnosymfollow"]}"#,
        )
        .unwrap();
        let o = parse_options(&m);
        assert!(o.has_attr && o.data.is_empty() && o.flags.is_empty());
        assert_eq!(o.attr_set, RDONLY | NOSUID | NOSYMFOLLOW);
        // ratime clears noatime, and any atime change clears the whole field.
        assert_eq!(o.attr_clr, NOEXEC | NOATIME | ATIME_MASK);
        let m: Mount = serde_json::from_str(
            r#"{"destination":"/x","source":"/y","options":["rbind","rstrictatime"]}"#,
        )
        .unwrap();
        let o = parse_options(&m);
        assert_eq!((o.attr_set, o.attr_clr), (STRICTATIME, ATIME_MASK));
    }
}
