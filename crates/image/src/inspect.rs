//! Images as the Engine API shows them (ImageInspect, ImageSummary, history),
//! shared by the CLI and the API server.

use crate::error::Result;
use crate::images::ImageStore;

/// The image `name` names, its config, and its tags in familiar form.
fn lookup(
    store: &ImageStore,
    name: &str,
) -> Result<(crate::images::ImageRecord, serde_json::Value, Vec<String>)> {
    let rec = store.resolve(name)?;
    let config = store.config(&rec)?;
    let tags = store
        .tags_of(&rec.id)?
        .iter()
        .map(|t| t.familiar())
        .collect();
    Ok((rec, config, tags))
}

/// Docker's ImageInspect shape.
pub fn image(store: &ImageStore, name: &str) -> Result<serde_json::Value> {
    let (rec, config, tags) = lookup(store, name)?;
    Ok(serde_json::json!({
        "Id": rec.id.to_string(),
        "RepoTags": tags,
        "RepoDigests": rec.repo_digests.iter().collect::<Vec<_>>(),
        "Parent": rec.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
        "Comment": config["history"].as_array().and_then(|h| h.last()).and_then(|h| h["comment"].as_str()).unwrap_or(""),
        "Created": config["created"].as_str().unwrap_or(""),
        "DockerVersion": "",
        "Author": config["author"].as_str().unwrap_or(""),
        "Config": config["config"],
        "Architecture": config["architecture"],
        "Variant": config.get("variant"),
        "Os": config["os"],
        "Size": rec.size,
        "VirtualSize": rec.size,
        "GraphDriver": {"Name": "overlay2", "Data": {"LowerDir": rec.top.as_ref().and_then(|t| store.snapshots.lower_dirs(t).ok()).map(|d| d.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"))}},
        "RootFS": {"Type": "layers", "Layers": rec.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }))
}

/// Seconds since the epoch of an RFC 3339 time (0 when unknown).
pub fn unix_time(rfc3339: &str) -> i64 {
    humantime::parse_rfc3339_weak(
        rfc3339
            .trim_end_matches('Z')
            .split('.')
            .next()
            .unwrap_or(""),
    )
    .ok()
    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    .map(|d| d.as_secs() as i64)
    .unwrap_or(0)
}

/// The ImageSummary list of `GET /images/json`.
pub fn summaries(store: &ImageStore, filters: &Filters) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    let window = filters.window(store)?;
    let list = store.list()?;
    let parents: std::collections::BTreeSet<&crate::Digest> =
        list.iter().filter_map(|(r, _)| r.parent.as_ref()).collect();
    for (rec, tags) in &list {
        if !filters.all && tags.is_empty() && parents.contains(&rec.id) {
            continue;
        }
        let (rec, tags) = (rec.clone(), tags.clone());
        let config = store.config(&rec).unwrap_or_default();
        if !filters.keep(&tags, &config, window) {
            continue;
        }
        let tags: Vec<crate::ImageRef> = tags
            .into_iter()
            .filter(|t| filters.reference_matches(&t.familiar_name(), t.tag().unwrap_or("")))
            .collect();
        if tags.is_empty() && !filters.reference.is_empty() {
            continue;
        }
        out.push(serde_json::json!({
            "Id": rec.id.to_string(),
            "ParentId": rec.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            "RepoTags": tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
            "RepoDigests": rec
                .repo_digests
                .iter()
                .filter(|d| filters.reference.is_empty() || filters.reference_matches(d.split('@').next().unwrap_or(""), ""))
                .collect::<Vec<_>>(),
            "Created": unix_time(config["created"].as_str().unwrap_or("")),
            "Size": rec.size,
            "SharedSize": -1,
            "VirtualSize": rec.size,
            "Labels": config["config"]["Labels"],
            "Containers": -1,
        }));
    }
    Ok(out)
}

/// The entries of `GET /images/{name}/history`, newest first.
pub fn history(store: &ImageStore, name: &str) -> Result<Vec<serde_json::Value>> {
    let (rec, config, tags) = lookup(store, name)?;
    let entries = config["history"].as_array().cloned().unwrap_or_default();
    // Each entry that made a layer has that layer's size (its snapshot's
    // files, as docker counts them); the others are 0.
    let mut layer_sizes = crate::snapshot::chain_ids(&rec.diff_ids)
        .into_iter()
        .map(|chain| crate::images::du(&store.snapshots.fs(&chain)));
    let sizes: Vec<u64> = entries
        .iter()
        .map(|h| {
            if h["empty_layer"].as_bool() == Some(true) {
                0
            } else {
                layer_sizes.next().unwrap_or(0)
            }
        })
        .collect();
    // An image built here names its parent: each step's entry gets the id
    // of the image that step made, as docker shows them; the rest (pulled
    // layers) are <missing>.
    let mut ids = vec![rec.id.to_string()];
    let mut at = rec.parent.clone();
    while let Some(p) = at {
        match store.resolve(&p.to_string()) {
            Ok(r) => {
                ids.push(r.id.to_string());
                at = r.parent.clone();
            }
            Err(_) => break,
        }
    }
    Ok(entries
        .iter()
        .zip(sizes)
        .rev()
        .enumerate()
        .map(|(i, (h, size))| {
            serde_json::json!({
                "Id": ids.get(i).cloned().unwrap_or_else(|| "<missing>".to_string()),
                "Created": unix_time(h["created"].as_str().unwrap_or("")),
                "CreatedBy": h["created_by"].as_str().unwrap_or(""),
                "Tags": if i == 0 { tags.clone() } else { Vec::new() },
                "Size": size,
                "Comment": h["comment"].as_str().unwrap_or(""),
            })
        })
        .collect())
}

/// `GET /images/json`'s filters, parsed by the API: what docker documents
/// for `images --filter`.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    /// `images -a`: also the intermediate images of builds (untagged
    /// images other images were built on), which are hidden otherwise.
    pub all: bool,
    /// Untagged images only (true) or tagged only (false).
    pub dangling: Option<bool>,
    /// `repo[:tag]` patterns (`*` as path.Match's).
    pub reference: Vec<String>,
    /// `key` or `key=value`, all must match.
    pub labels: Vec<String>,
    /// Images created before this one's creation (a name or id).
    pub before: Option<String>,
    /// Images created after this one's.
    pub since: Option<String>,
}

impl Filters {
    fn keep(
        &self,
        tags: &[crate::ImageRef],
        config: &serde_json::Value,
        window: (i64, i64),
    ) -> bool {
        if let Some(d) = self.dangling
            && d != tags.is_empty()
        {
            return false;
        }
        let created = unix_time(config["created"].as_str().unwrap_or(""));
        if created >= window.1 || created <= window.0 {
            return false;
        }
        self.labels.iter().all(|spec| {
            let (k, want) = match spec.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (spec.as_str(), None),
            };
            match (&config["config"]["Labels"][k], want) {
                (serde_json::Value::String(have), Some(want)) => have == want,
                (serde_json::Value::String(_), None) => true,
                _ => false,
            }
        })
    }

    /// (after, before) as creation times: `since` and `before` resolved.
    fn window(&self, store: &ImageStore) -> Result<(i64, i64)> {
        let created = |name: &str| -> Result<i64> {
            let rec = store.resolve(name)?;
            let config = store.config(&rec)?;
            Ok(unix_time(config["created"].as_str().unwrap_or("")))
        };
        let after = self
            .since
            .as_deref()
            .map(created)
            .transpose()?
            .unwrap_or(i64::MIN);
        let before = self
            .before
            .as_deref()
            .map(created)
            .transpose()?
            .unwrap_or(i64::MAX);
        Ok((after, before))
    }
}

impl Filters {
    /// Whether `repo:tag` passes the reference filters (all pass without any).
    pub fn reference_matches(&self, repo: &str, tag: &str) -> bool {
        self.reference.is_empty()
            || self
                .reference
                .iter()
                .any(|p| glob(p, &format!("{repo}:{tag}")) || glob(p, repo))
    }
}

/// Shell-style matching with `*` (what docker's reference filter uses most).
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            let Some(pos) = rest.find(p) else {
                return false;
            };
            rest = &rest[pos + p.len()..];
        }
    }
    true
}
