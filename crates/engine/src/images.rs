//! Images, as the engine serves them: every image operation the API offers
//! (list, inspect, history, tag, remove, prune, pull, push, load, save,
//! import, registry login), over berth-image's store, with the engine's
//! knowledge of which containers use which image. The API crate reaches
//! images only through here, and gets the engine's error classes.

use std::io::{Read, Write};

use berth_image::images::Removed;
pub use berth_image::registry::Credentials;
use berth_image::registry::{self, progress::Event};
use berth_image::{ImageRef, archive, import, inspect};
use serde_json::{Value, json};

use crate::{Engine, Error, Result};

/// A pull's or push's progress, as moby's JSON progress messages: one
/// JSONMessage per call, from the threads that move the layers.
pub type ProgressSink<'a> = &'a (dyn Fn(Value) + Sync);

/// Where `save` writes: Docker's archive (`docker save`) or an OCI layout.
pub use berth_image::archive::Format as ArchiveFormat;
pub use berth_image::inspect::Filters as ImageFilters;

/// The image crate's errors in the engine's classes: a conflict (an image
/// in use) is a 409, bad input a 400, a missing image or blob a 404.
impl From<berth_image::Error> for Error {
    fn from(e: berth_image::Error) -> Error {
        use berth_image::Error as E;
        match &e {
            E::ImageNotFound(_) | E::BlobNotFound(_) => Error::NotFound(e.to_string()),
            E::Invalid { what, .. } if what.starts_with("conflict") => {
                Error::Conflict(e.to_string())
            }
            E::InvalidReference { .. }
            | E::InvalidDigest { .. }
            | E::Invalid { .. }
            | E::LayerEntry { .. }
            | E::DigestMismatch { .. }
            | E::SizeMismatch { .. } => Error::Invalid(e.to_string()),
            E::Io { .. } => Error::Internal(e.to_string()),
        }
    }
}

/// One progress event as moby's JSONMessage.
pub fn progress_message(e: &Event) -> Value {
    let mut m = json!({"status": e.status});
    if let Some(id) = &e.id {
        m["id"] = json!(id);
    }
    if let Some((current, total)) = e.progress {
        m["progressDetail"] = json!({"current": current, "total": total});
    }
    m
}

impl Engine {
    /// `GET /images/json`: moby's ImageSummary list, filtered.
    pub fn image_list(&self, filters: &inspect::Filters) -> Result<Vec<Value>> {
        Ok(inspect::summaries(&self.images, filters)?)
    }

    /// `GET /images/{name}/json`: moby's ImageInspect.
    pub fn image_inspect(&self, name: &str) -> Result<Value> {
        Ok(inspect::image(&self.images, name)?)
    }

    /// `GET /images/{name}/history`.
    pub fn image_history(&self, name: &str) -> Result<Value> {
        Ok(json!(inspect::history(&self.images, name)?))
    }

    /// Whether `name` names an image here (a 404 before a stream starts).
    pub fn image_exists(&self, name: &str) -> Result<()> {
        self.images.resolve(name).map(drop).map_err(Error::from)
    }

    /// `POST /images/{name}/tag?repo=..&tag=..`.
    pub fn image_tag(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        if repo.is_empty() {
            return Err(Error::Invalid(
                "repository name must have at least one component".into(),
            ));
        }
        let target = match tag.filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        };
        self.images.tag(name, &ImageRef::parse(&target)?)?;
        Ok(())
    }

    /// `DELETE /images/{name}`: moby's ImageDeleteResponseItem list. An
    /// image a container uses is refused (409) unless `force`.
    pub fn image_remove(&self, name: &str, force: bool) -> Result<Vec<Value>> {
        let in_use = |id: &berth_image::Digest| self.image_in_use(&id.to_string()).is_some();
        let removed = self.images.remove(name, force, &in_use)?;
        Ok(removed_items(&removed))
    }

    /// `POST /images/prune`: untagged images no container uses, or every
    /// image no container uses when `all` (dangling=false); of those, only
    /// the ones whose labels (`Config.Labels`) `selected` accepts.
    pub fn image_prune(&self, all: bool, selected: &dyn Fn(&Value) -> bool) -> Result<Value> {
        let before = self.image_bytes();
        let in_use = |id: &berth_image::Digest| {
            let labels = self
                .images
                .resolve(&id.to_string())
                .and_then(|rec| self.images.config(&rec))
                .map(|c| c["config"]["Labels"].clone())
                .unwrap_or(Value::Null);
            // Kept: used by a container, or not selected by the filters.
            self.image_in_use(&id.to_string()).is_some() || !selected(&labels)
        };
        let removed = self.images.prune(all, &in_use)?;
        Ok(json!({
            "ImagesDeleted": if removed.is_empty() { Value::Null } else { json!(removed_items(&removed)) },
            "SpaceReclaimed": before.saturating_sub(self.image_bytes()),
        }))
    }

    fn image_bytes(&self) -> u64 {
        self.images
            .list()
            .map(|l| l.iter().map(|(r, _)| r.size).sum())
            .unwrap_or(0)
    }

    fn containers_using(&self, image_id: &str) -> usize {
        self.list().iter().filter(|c| c.image == image_id).count()
    }

    /// `POST /images/create?fromImage=..`: a pull from a registry, its
    /// progress sent to `progress` as it happens.
    pub fn image_pull(
        &self,
        reference: &str,
        platform: Option<&str>,
        credentials: Option<Credentials>,
        progress: ProgressSink<'_>,
    ) -> Result<()> {
        let r = ImageRef::parse(reference)?;
        let platform = platform
            .filter(|p| !p.is_empty())
            .map(berth_image::manifest::Platform::parse)
            .transpose()?;
        let opts = self.registry_options(credentials);
        let sink = |e: Event| progress(progress_message(&e));
        registry::pull::pull(&self.images, &r, platform.as_ref(), &opts, &sink)?;
        Ok(())
    }

    /// `POST /images/{name}/push?tag=..`: the final message carries moby's
    /// `aux` (Tag, Digest, Size) as dockerd sends it.
    pub fn image_push(
        &self,
        reference: &str,
        credentials: Option<Credentials>,
        progress: ProgressSink<'_>,
    ) -> Result<()> {
        let r = ImageRef::parse(reference)?;
        let opts = self.registry_options(credentials);
        let sink = |e: Event| progress(progress_message(&e));
        let digest = registry::push::push(&self.images, &r, &opts, &sink)?;
        let size = self
            .images
            .resolve(reference)
            .and_then(|rec| self.images.content.read(&rec.manifest))
            .map(|b| b.len())
            .unwrap_or(0);
        progress(json!({
            "progressDetail": {},
            "aux": {"Tag": r.tag().unwrap_or("latest"), "Digest": digest.to_string(), "Size": size},
        }));
        Ok(())
    }

    /// `POST /auth`: checks credentials against a registry (nothing is kept:
    /// the client stores them, as docker's does).
    pub fn registry_login(&self, server: &str, credentials: Credentials) -> Result<()> {
        let server = server
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let server = if server.is_empty() || server.contains("index.docker.io") {
            "docker.io"
        } else {
            server
        };
        let opts = self.registry_options(Some(credentials));
        let client = registry::client(server, &opts)?;
        client.ping().map_err(|e| match e {
            berth_image::Error::Io { .. } => Error::Internal(format!("login to {server}: {e}")),
            e => Error::Unauthorized(format!("login to {server}: {e}")),
        })
    }

    fn registry_options(&self, credentials: Option<Credentials>) -> registry::Options {
        registry::Options {
            insecure: self.config.insecure_registries.clone(),
            credentials,
        }
    }

    /// `POST /images/load`: a Docker or OCI archive; what was loaded, as
    /// `docker load` prints it.
    pub fn image_load(&self, archive: impl Read) -> Result<Vec<String>> {
        let loaded = archive::load(&self.images, archive)?;
        let mut lines = Vec::new();
        for l in loaded {
            if l.tags.is_empty() {
                lines.push(format!("Loaded image ID: {}", l.image.id));
            }
            for t in l.tags {
                lines.push(format!("Loaded image: {}", t.familiar()));
            }
        }
        Ok(lines)
    }

    /// `GET /images/get`: the named images as one archive.
    /// Whether `image_save` of `names` finds them all.
    pub fn image_save_check(&self, names: &[String]) -> Result<()> {
        archive::check_save(&self.images, names)?;
        Ok(())
    }

    pub fn image_save(
        &self,
        names: &[String],
        format: ArchiveFormat,
        out: impl Write,
    ) -> Result<()> {
        archive::save(&self.images, names, format, out)?;
        Ok(())
    }

    /// `POST /images/create?fromSrc=-`: a root filesystem tarball as an image.
    pub fn image_import(
        &self,
        tarball: impl Read,
        changes: Vec<String>,
        message: Option<String>,
        tag: Option<&str>,
        platform: Option<&str>,
    ) -> Result<String> {
        let opts = import::ImportOptions {
            changes,
            message,
            tag: tag.map(ImageRef::parse).transpose()?,
            platform: platform
                .filter(|p| !p.is_empty())
                .map(berth_image::manifest::Platform::parse)
                .transpose()?,
        };
        Ok(import::import(&self.images, tarball, &opts)?.id.to_string())
    }

    /// Images for `system df`: moby's ImageSummary with container counts.
    pub fn image_usage(&self) -> Result<Vec<Value>> {
        let mut list = self.image_list(&ImageFilters::default())?;
        for s in &mut list {
            let id = s["Id"].as_str().unwrap_or_default();
            s["Containers"] = json!(self.containers_using(id));
        }
        Ok(list)
    }
}

/// What rmi and image prune removed, as moby's ImageDeleteResponseItem.
fn removed_items(removed: &[Removed]) -> Vec<Value> {
    removed
        .iter()
        .map(|r| match r {
            Removed::Untagged(t) => json!({"Untagged": t}),
            Removed::Deleted(d) => json!({"Deleted": d.to_string()}),
        })
        .collect()
}
