//! `import`: a root filesystem tarball becomes a one-layer image, with
//! Dockerfile-style `--change` instructions applied to its config.

use std::io::Read;

use serde_json::{Value, json};

use crate::error::{Context, Error, Result};
use crate::images::{ImageRecord, ImageStore};
use crate::layer;
use crate::manifest::{self, Descriptor, Platform};
use crate::reference::ImageRef;
use crate::store::Expected;

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Dockerfile instructions: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER,
    /// VOLUME, WORKDIR, STOPSIGNAL.
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub tag: Option<ImageRef>,
    pub platform: Option<Platform>,
}

pub fn import(store: &ImageStore, reader: impl Read, opts: &ImportOptions) -> Result<ImageRecord> {
    let mut config_section = json!({});
    for c in &opts.changes {
        apply_change(&mut config_section, c)?;
    }
    // The layer is kept uncompressed: its digest is then its diff_id.
    let mut w = store.content.writer(Expected {
        what: "imported layer".into(),
        ..Default::default()
    })?;
    layer::copy_large(&mut layer::decompress(reader)?, &mut w).ctx(|| "reading the tarball")?;
    let (layer_digest, layer_size) = w.commit()?;
    // A tarball that is not a tar is refused before anything is recorded.
    {
        let mut a = tar::Archive::new(store.content.open_blob(&layer_digest)?);
        for e in a.entries().map_err(|e| Error::invalid("tarball", e))? {
            e.map_err(|e| Error::invalid("tarball", format!("not a tar archive: {e}")))?;
        }
    }
    let platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let mut config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "created": now,
        "config": config_section,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]},
        "history": [{"created": now, "comment": opts.message.clone().unwrap_or_else(|| "Imported from -".into())}],
    });
    if let Some(v) = &platform.variant {
        config["variant"] = json!(v);
    }
    let layer = Descriptor::new(manifest::OCI_LAYER, layer_digest, layer_size);
    let tags: Vec<ImageRef> = opts.tag.iter().cloned().collect();
    store.add_oci(&config, vec![layer], &tags)
}

/// Applies one Dockerfile instruction to an image config's `config` object.
pub fn apply_change(cfg: &mut Value, change: &str) -> Result<()> {
    let bad = |why: &str| Error::invalid(format!("--change {change:?}"), why);
    let (instr, rest) = change
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(|| bad("expected INSTRUCTION arguments"))?;
    let rest = rest.trim();
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => cfg["Cmd"] = exec_form(rest, true),
        "ENTRYPOINT" => cfg["Entrypoint"] = exec_form(rest, true),
        "ENV" => {
            let env = cfg["Env"].as_array().cloned().unwrap_or_default();
            let mut env: Vec<String> = env
                .iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect();
            for (k, v) in key_values(rest).map_err(|e| bad(&e))? {
                env.retain(|e| e.split_once('=').map(|x| x.0) != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
            cfg["Env"] = json!(env);
        }
        "LABEL" => {
            if !cfg["Labels"].is_object() {
                cfg["Labels"] = json!({});
            }
            for (k, v) in key_values(rest).map_err(|e| bad(&e))? {
                cfg["Labels"][k] = json!(v);
            }
        }
        "EXPOSE" => {
            if !cfg["ExposedPorts"].is_object() {
                cfg["ExposedPorts"] = json!({});
            }
            for p in rest.split_whitespace() {
                let p = if p.contains('/') {
                    p.to_string()
                } else {
                    format!("{p}/tcp")
                };
                cfg["ExposedPorts"][p] = json!({});
            }
        }
        "VOLUME" => {
            if !cfg["Volumes"].is_object() {
                cfg["Volumes"] = json!({});
            }
            let list = match exec_form(rest, false) {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            for v in list.iter().filter_map(|v| v.as_str()) {
                cfg["Volumes"][v] = json!({});
            }
        }
        "USER" => cfg["User"] = json!(rest),
        "WORKDIR" => cfg["WorkingDir"] = json!(rest),
        "STOPSIGNAL" => cfg["StopSignal"] = json!(rest),
        other => {
            return Err(bad(&format!(
                "{other} is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL"
            )));
        }
    }
    Ok(())
}

/// `["a","b"]` as is; otherwise the shell form (`/bin/sh -c "..."`) when
/// `shell`, or the words.
fn exec_form(s: &str, shell: bool) -> Value {
    if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(s)
        && a.iter().all(|v| v.is_string())
    {
        return Value::Array(a);
    }
    if shell {
        json!(["/bin/sh", "-c", s])
    } else {
        json!(s.split_whitespace().collect::<Vec<_>>())
    }
}

/// `k=v k2="v 2"`, or the legacy `k v` form.
fn key_values(s: &str) -> std::result::Result<Vec<(String, String)>, String> {
    if !s.contains('=') {
        let (k, v) = s
            .split_once(char::is_whitespace)
            .ok_or("expected NAME=value")?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("bad name {key:?}"));
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                val.push(c);
            }
        } else {
            while let Some(c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                val.push(*c);
                chars.next();
            }
        }
        out.push((key, val));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes() {
        let mut c = json!({});
        apply_change(&mut c, r#"CMD ["sh","-c","echo hi"]"#).unwrap();
        apply_change(&mut c, "ENTRYPOINT /bin/init --flag").unwrap();
        apply_change(&mut c, r#"ENV A=1 B="two words""#).unwrap();
        apply_change(&mut c, "ENV A=3").unwrap();
        apply_change(&mut c, "LABEL org.example=yes").unwrap();
        apply_change(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply_change(&mut c, "WORKDIR /srv").unwrap();
        apply_change(&mut c, "USER 1000:1000").unwrap();
        assert_eq!(c["Cmd"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(
            c["Entrypoint"],
            json!(["/bin/sh", "-c", "/bin/init --flag"])
        );
        assert_eq!(c["Env"], json!(["B=two words", "A=3"]));
        assert_eq!(c["Labels"]["org.example"], "yes");
        assert!(c["ExposedPorts"]["80/tcp"].is_object() && c["ExposedPorts"]["53/udp"].is_object());
        assert_eq!(c["WorkingDir"], "/srv");
        assert!(apply_change(&mut c, "RUN rm -rf /").is_err());
        assert!(apply_change(&mut c, "CMD").is_err());
    }
}
