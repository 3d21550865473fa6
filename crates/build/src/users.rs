//! `--chown=user:group` resolved as Docker resolves it: numbers as they
//! are, names through the image's own /etc/passwd and /etc/group (read
//! inside the root, never the host's).

use std::path::Path;

use nix::fcntl::OFlag;

fn read_in_root(root: &Path, file: &str) -> Option<String> {
    let dir = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    berth_safefs::read_regular_in_root(&dir, Path::new(file), 1 << 20).ok()
}

/// The `field`th field of the line of `db` whose first field is `name`.
fn lookup(db: &str, name: &str, field: usize) -> Option<u32> {
    db.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(field)?.parse().ok())
}

/// `user`, `user:group`, `uid:gid` in the image at `root`. A user alone
/// gets its primary group (numbers alone: the same number, as Docker).
pub fn resolve(root: &Path, spec: &str) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = || read_in_root(root, "/etc/passwd").unwrap_or_default();
    let uid = match user.parse::<u32>() {
        Ok(n) => n,
        Err(_) => lookup(&passwd(), user, 2).ok_or_else(|| {
            format!("unable to find user {user}: no matching entries in passwd file")
        })?,
    };
    let gid = match group {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(&read_in_root(root, "/etc/group").unwrap_or_default(), g, 2)
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        },
        None => match user.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(&passwd(), user, 3).unwrap_or(uid),
        },
    };
    Ok((uid, gid))
}
