//! ADD of local files: a tar archive (plain, gzip or zstd) is unpacked at
//! the destination, as Docker does; anything else is copied as COPY would.
//! Unpacking goes through berth-image's layer extraction, which cannot
//! write outside its directory, then the files are copied into the root.

use std::io::Read;
use std::path::Path;

use crate::copy::{self, Attrs, Source};

/// Whether the file starts like a tar archive or a compressed stream that
/// berth can unpack.
fn is_archive(path: &Path) -> Result<bool, String> {
    let mut head = [0u8; 262];
    let mut f =
        std::fs::File::open(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        }
    }
    let head = &head[..n];
    let compressed = head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    let tar = head.len() >= 262 && &head[257..262] == b"ustar";
    if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(format!(
            "{}: bzip2 and xz archives are not supported by berth's ADD yet (gzip, zstd and plain tar are)",
            path.display()
        ));
    }
    Ok(compressed || tar)
}

pub fn add(
    src_root: &Path,
    sources: &[Source],
    dest_root: &Path,
    dest: &str,
    excludes: &[String],
    attrs: &Attrs,
) -> Result<(), String> {
    for s in sources {
        let path = src_root.join(&s.rel);
        let meta =
            std::fs::metadata(&path).map_err(|e| format!("reading {}: {e}", s.rel.display()))?;
        if meta.is_file() && is_archive(&path)? {
            let tmp = tempfile::Builder::new()
                .prefix("berth-add-")
                .tempdir()
                .map_err(|e| format!("a temporary directory: {e}"))?;
            let file = std::fs::File::open(&path)
                .map_err(|e| format!("reading {}: {e}", s.rel.display()))?;
            let reader = berth_image::layer::decompress(file).map_err(|e| e.to_string())?;
            berth_image::layer::apply(reader, tmp.path())
                .map_err(|e| format!("unpacking {}: {e}", s.rel.display()))?;
            let mut into = dest.to_string();
            if !into.ends_with('/') {
                into.push('/');
            }
            // An archive keeps its owners unless --chown says otherwise.
            let attrs = Attrs {
                keep_owner: true,
                ..attrs.clone()
            };
            copy::copy(
                tmp.path(),
                &[Source { rel: "".into() }],
                dest_root,
                &into,
                excludes,
                &attrs,
            )?;
        } else {
            copy::copy(
                src_root,
                std::slice::from_ref(s),
                dest_root,
                dest,
                excludes,
                attrs,
            )?;
        }
    }
    Ok(())
}
