//! The build context a client sends with `POST /build`: the context
//! directory as a tar, less what `.dockerignore` excludes, as docker's CLI
//! makes it (owners 0:0, modes and times kept, symlinks as symlinks; the
//! Dockerfile and `.dockerignore` always sent, so the engine can read them).

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use berth_dockerignore::DockerIgnore;

/// Writes the context at `dir` (None: an empty one) as a tar to `out`.
/// `keep` names files sent even when `.dockerignore` excludes them (the
/// Dockerfile); `extra` adds a file that is not in the directory (a
/// Dockerfile from stdin or from outside the context), under its name.
pub fn write_context(
    dir: Option<&Path>,
    keep: &[&str],
    extra: Option<(&str, &[u8])>,
    out: impl Write,
) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    if let Some(dir) = dir {
        let mut text = fs::read_to_string(dir.join(".dockerignore")).unwrap_or_default();
        for k in keep.iter().chain(&[".dockerignore"]) {
            text.push_str(&format!("\n!{k}\n"));
        }
        let ignore = DockerIgnore::try_parse(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(".dockerignore").display()))?;
        add_dir(&mut tar, dir, "", &ignore)
            .with_context(|| format!("reading the build context {}", dir.display()))?;
    }
    if let Some((name, data)) = extra {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        // A new header's numeric fields are empty, which readers refuse.
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, data)?;
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

/// A tar holding only a Dockerfile (`build -` given a Dockerfile).
pub fn dockerfile_only(text: &[u8], out: impl Write) -> Result<()> {
    write_context(None, &[], Some(("Dockerfile", text)), out)
}

fn header_for(meta: &fs::Metadata) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    // Docker's CLI sends every file as root's: the engine sets owners.
    h.set_uid(0);
    h.set_gid(0);
    let _ = h.set_username("");
    let _ = h.set_groupname("");
    h
}

fn add_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    rel: &str,
    ignore: &DockerIgnore,
) -> Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let entries = fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut names: Vec<_> = entries
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let full = root.join(&path);
        let meta =
            fs::symlink_metadata(&full).with_context(|| format!("reading {}", full.display()))?;
        let excluded = ignore.is_excluded(&path);
        if meta.is_dir() {
            if excluded && !ignore.may_include_under(&path) {
                continue;
            }
            if !excluded {
                let mut h = header_for(&meta);
                tar.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            }
            add_dir(tar, root, &path, ignore)?;
            continue;
        }
        if excluded {
            continue;
        }
        let mut h = header_for(&meta);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&full)?;
            tar.append_link(&mut h, &path, target)?;
        } else if meta.is_file() {
            let f = fs::File::open(&full).with_context(|| format!("reading {}", full.display()))?;
            tar.append_data(&mut h, &path, f)?;
        }
        // Sockets, fifos and devices are not sent, as docker's CLI does not.
    }
    Ok(())
}
