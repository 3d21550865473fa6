//! What a container changed in its filesystem (`docker diff`), read from
//! its overlay upper directory against the image's layers, and `commit`,
//! which turns those changes into a new image.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::{Container, Engine};

/// moby's change kinds.
pub const MODIFIED: u8 = 0;
pub const ADDED: u8 = 1;
pub const DELETED: u8 = 2;

impl Engine {
    /// `GET /containers/{id}/changes`: (path, kind), sorted by path.
    pub fn changes(&self, name: &str) -> Result<Vec<(String, u8)>> {
        let c = self.get(name)?;
        let upper = self.container_dir(&c.id).join("upper");
        let lowers = self.layers(&c)?;
        let mut out = Vec::new();
        walk(&upper, Path::new(""), &lowers, &mut out)
            .map_err(|e| Error::io(format!("reading the changes of {}", c.name), e))?;
        out.sort();
        Ok(without_mount_targets(out, &c))
    }

    /// `POST /commit`: a new image from the container's changes.
    pub fn commit(
        &self,
        name: &str,
        tag: Option<&str>,
        comment: &str,
        author: &str,
        changes: &[String],
        config: Option<serde_json::Value>,
    ) -> Result<String> {
        let tag = tag.map(berth_image::ImageRef::parse).transpose()?;
        let c: Container = self.get(name)?;
        let parent = self.images.resolve(&c.image)?;
        let upper = self.container_dir(&c.id).join("upper");
        fs::create_dir_all(&upper).map_err(|e| Error::io("creating the upper directory", e))?;
        let mut section = serde_json::to_value(&c.config).expect("json serializes");
        if let Some(serde_json::Value::Object(extra)) = config {
            for (k, v) in extra {
                section[k] = v;
            }
        }
        let mut created_by = c.path.clone();
        for a in &c.args {
            created_by.push(' ');
            created_by.push_str(a);
        }
        let rec = berth_image::commit::commit(
            &self.images,
            &parent,
            &upper,
            &berth_image::commit::CommitOptions {
                config: section,
                changes: changes.to_vec(),
                comment: comment.to_string(),
                author: author.to_string(),
                created_by,
                container_id: c.id.clone(),
                tag,
            },
        )?;
        self.event("commit", &c, &[]);
        Ok(rec.id.to_string())
    }
}

/// Leaves out what the runtime made only to mount over (/proc, /dev,
/// /etc/hosts, ...), and directories added only to hold those, as dockerd
/// leaves out its own mount points.
fn without_mount_targets(all: Vec<(String, u8)>, c: &Container) -> Vec<(String, u8)> {
    let mut targets: Vec<String> = [
        "/proc",
        "/sys",
        "/dev",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    targets.extend(c.host_config.tmpfs.iter().flatten().map(|(d, _)| d.clone()));
    for b in c.host_config.binds.iter().flatten() {
        if let Some(dest) = b.split(':').nth(1) {
            targets.push(dest.to_string());
        }
    }
    let under = |p: &str, t: &str| p == t || p.starts_with(&format!("{t}/"));
    let kept: Vec<(String, u8)> = all
        .into_iter()
        .filter(|(p, _)| !targets.iter().any(|t| under(p, t)))
        .collect();
    kept.iter()
        .filter(|(p, kind)| {
            // An added directory stays if something kept lies below it or it
            // is itself not a mount's parent.
            *kind != ADDED
                || kept.iter().any(|(q, _)| q.starts_with(&format!("{p}/")))
                || !targets.iter().any(|t| t.starts_with(&format!("{p}/")))
        })
        .cloned()
        .collect()
}

fn in_lower(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers
        .iter()
        .any(|l| fs::symlink_metadata(l.join(rel)).is_ok())
}

fn walk(
    upper: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<(String, u8)>,
) -> std::io::Result<()> {
    let dir = upper.join(rel);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let rel = rel.join(e.file_name());
        let meta = fs::symlink_metadata(upper.join(&rel))?;
        let shown = format!("/{}", rel.display());
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            out.push((shown, DELETED));
            continue;
        }
        let kind = if in_lower(lowers, &rel) {
            MODIFIED
        } else {
            ADDED
        };
        out.push((shown, kind));
        if meta.is_dir() {
            walk(upper, &rel, lowers, out)?;
        }
    }
    Ok(())
}
