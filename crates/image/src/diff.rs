//! The reverse of applying a layer: an overlayfs upper directory written out
//! as an OCI layer tar, its whiteouts (character devices 0/0) as `.wh.` files
//! and its opaque directories as `.wh..wh..opq`. `commit` and builds use it.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::digest::{Digest, DigestWriter};
use crate::error::{Context, Result};

/// Writes the layer for `upper` to `out`; returns its diff_id and size.
pub fn write_layer(upper: &Path, out: impl Write) -> Result<(Digest, u64)> {
    let mut b = tar::Builder::new(DigestWriter::new(out));
    b.follow_symlinks(false);
    walk(&mut b, upper, Path::new("")).ctx(|| format!("reading {}", upper.display()))?;
    let w = b.into_inner().ctx(|| "finishing the layer")?;
    let (_, digest, size) = w.finish();
    Ok((digest, size))
}

fn walk<W: Write>(b: &mut tar::Builder<W>, root: &Path, rel: &Path) -> io::Result<()> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&dir)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = rel.join(e.file_name());
        let path = root.join(&name);
        let meta = fs::symlink_metadata(&path)?;
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            // An overlayfs whiteout: the file was deleted.
            let wh = rel.join(format!(".wh.{}", e.file_name().to_string_lossy()));
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(0);
            h.set_mode(0o644);
            h.set_mtime(meta.mtime().max(0) as u64);
            b.append_data(&mut h, &wh, io::empty())?;
            continue;
        }
        b.append_path_with_name(&path, &name)?;
        if meta.is_dir() {
            if opaque(&path) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                h.set_mode(0o644);
                b.append_data(&mut h, name.join(".wh..wh..opq"), io::empty())?;
            }
            walk(b, root, &name)?;
        }
    }
    Ok(())
}

fn opaque(dir: &Path) -> bool {
    xattr::get(dir, "trusted.overlay.opaque")
        .ok()
        .flatten()
        .as_deref()
        == Some(b"y")
}
