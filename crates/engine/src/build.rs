//! Builds (`POST /build`): the engine's side of berth-build's [`Backend`].
//! FROM resolves and pulls through the image store; RUN is a container
//! made, attached, started and committed like any other, so a step has
//! `run`'s isolation, defaults, DNS and networks; COPY writes into an
//! overlay of the parent image whose upper directory becomes the layer.

use std::sync::Arc;

use berth_build::{Backend, BuildOptions, Built, Image, RunMount, RunSpec, StepFailure};
use berth_image::ImageRef;
use berth_models::container::{Config, HostConfig, Mount};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::Engine;
use crate::containers::CreateRequest;
use crate::error::{Error, Result};

use crate::image_fs::{self as root, ImageView};
use berth_image::commit::NewLayer;

pub use berth_build::{BuildOptions as Options, Context, ContextLimit, Message, Output};

/// How a build's RUN containers are made beyond what the Dockerfile says:
/// `POST /build`'s resource limits, extra hosts and shm size, and whether
/// the containers of steps that went through are removed (`rm`).
#[derive(Debug, Clone)]
pub struct RunDefaults {
    pub host_config: HostConfig,
    pub remove: bool,
}

impl Default for RunDefaults {
    fn default() -> Self {
        RunDefaults {
            host_config: HostConfig::default(),
            remove: true,
        }
    }
}

impl Engine {
    /// Builds `opts.target` of the Dockerfile `dockerfile` in `context`,
    /// its progress to `out`.
    pub async fn build(
        self: &Arc<Self>,
        context: &Context,
        dockerfile: &str,
        opts: &BuildOptions,
        run: RunDefaults,
        out: Output,
    ) -> Result<Built> {
        let df = context.dockerfile(dockerfile).map_err(build_error)?;
        for t in &opts.tags {
            ImageRef::parse(t)?;
        }
        let backend = EngineBuild {
            engine: self.clone(),
            run,
        };
        let builder = berth_build::Builder::new(&backend, context.path(), &df, opts, out)
            .map_err(build_error)?;
        builder.build().await.map_err(build_error)
    }

    /// The most a build context may hold (`--build-context-limit`).
    pub fn build_context_limit(&self) -> ContextLimit {
        self.config
            .build_context_limit
            .map(ContextLimit)
            .unwrap_or_default()
    }

    /// Where build contexts are unpacked (removed with the build).
    pub fn build_tmp(&self) -> std::path::PathBuf {
        self.config.data_root.join("tmp")
    }

    /// Images that stay whatever the cache does: tagged ones, those
    /// containers use, and every image they were built on.
    fn kept_images(&self) -> Result<std::collections::BTreeSet<String>> {
        let list = self.images.list()?;
        let parent_of: std::collections::BTreeMap<String, Option<String>> = list
            .iter()
            .map(|(r, _)| (r.id.to_string(), r.parent.as_ref().map(|p| p.to_string())))
            .collect();
        let used: std::collections::BTreeSet<String> =
            self.list().into_iter().map(|c| c.image).collect();
        let mut kept = std::collections::BTreeSet::new();
        for (rec, tags) in &list {
            let id = rec.id.to_string();
            if tags.is_empty() && !used.contains(&id) {
                continue;
            }
            let mut at = Some(id);
            while let Some(i) = at {
                if !kept.insert(i.clone()) {
                    break;
                }
                at = parent_of.get(&i).cloned().flatten();
            }
        }
        Ok(kept)
    }

    /// The size of what an image adds to its parent: its top layer's
    /// files, or nothing for a step that changed only the config.
    fn own_size(&self, rec: &berth_image::images::ImageRecord) -> u64 {
        let parent_layers = rec
            .parent
            .as_ref()
            .and_then(|p| self.images.resolve(&p.to_string()).ok())
            .map_or(0, |p| p.diff_ids.len());
        match &rec.top {
            Some(top) if rec.diff_ids.len() > parent_layers => {
                berth_image::images::du(&self.images.snapshots.fs(top))
            }
            _ => 0,
        }
    }

    /// `system df`'s BuildCache: an entry per cached step whose image is
    /// here, as moby's BuildCache objects.
    pub fn build_cache_usage(&self) -> Result<Vec<serde_json::Value>> {
        let kept = self.kept_images()?;
        let mut out = Vec::new();
        for id in self.images.build_cache_images()? {
            let Ok(rec) = self.images.resolve(&id.to_string()) else {
                continue;
            };
            let config = self.images.config(&rec).unwrap_or_default();
            let step = config["history"]
                .as_array()
                .and_then(|h| h.last())
                .and_then(|h| h["created_by"].as_str())
                .unwrap_or("")
                .to_string();
            let created = config["created"].as_str().unwrap_or("").to_string();
            out.push(serde_json::json!({
                "ID": rec.id.hex()[..12].to_string(),
                "Parent": rec.parent.as_ref().map(|p| p.hex()[..12].to_string()).unwrap_or_default(),
                "Type": "regular",
                "Description": step,
                "InUse": self.list().iter().any(|c| c.image == rec.id.to_string()),
                "Shared": kept.contains(&rec.id.to_string()),
                "Size": self.own_size(&rec),
                "CreatedAt": created,
                "LastUsedAt": serde_json::Value::Null,
                "UsageCount": 0,
            }));
        }
        Ok(out)
    }

    /// `POST /build/prune`: forgets the build cache and removes the images
    /// only it kept (none that a tagged or used image was built on).
    /// Returns the ids removed and the bytes they held.
    pub fn build_prune(&self) -> Result<(Vec<String>, u64)> {
        let cached = self.images.build_cache_images()?;
        self.images.clear_build_cache()?;
        let kept = self.kept_images()?;
        let mut removed = Vec::new();
        let mut freed = 0;
        for id in cached {
            let id = id.to_string();
            if kept.contains(&id) {
                continue;
            }
            let Ok(rec) = self.images.resolve(&id) else {
                continue;
            };
            let size = self.own_size(&rec);
            if self.images.remove(&id, false, &|_| false).is_ok() {
                removed.push(id);
                freed += size;
            }
        }
        Ok((removed, freed))
    }
}

/// The builder's errors as the engine's: bad input is a 400.
fn build_error(e: berth_build::Error) -> Error {
    match e {
        berth_build::Error::Cancelled => Error::Invalid(e.to_string()),
        berth_build::Error::Exit { message, code } => Error::Build { message, code },
        berth_build::Error::Step(message) => Error::Build { message, code: 1 },
        other => Error::Invalid(other.to_string()),
    }
}

fn failed(e: impl std::fmt::Display) -> StepFailure {
    StepFailure::Other(e.to_string())
}

struct EngineBuild {
    engine: Arc<Engine>,
    run: RunDefaults,
}

impl EngineBuild {
    fn image_of(&self, rec: &berth_image::images::ImageRecord) -> Result<Image, StepFailure> {
        Ok(Image {
            id: rec.id.to_string(),
            config: self.engine.images.config(rec).map_err(failed)?,
        })
    }

    fn record(&self, image: &Image) -> Result<berth_image::images::ImageRecord, StepFailure> {
        self.engine.images.resolve(&image.id).map_err(failed)
    }
}

impl Backend for EngineBuild {
    type View = ImageView;

    async fn image(&self, name: &str, pull: bool, out: &Output) -> Result<Image, StepFailure> {
        let r = ImageRef::parse(name).map_err(failed)?;
        let full = r.to_string();
        if !pull && let Ok(rec) = self.engine.images.resolve(&full) {
            return self.image_of(&rec);
        }
        let engine = self.engine.clone();
        let progress = out.clone();
        let reference = full.clone();
        tokio::task::spawn_blocking(move || {
            engine.image_pull(&reference, None, None, &move |v: Value| {
                progress.progress(v)
            })
        })
        .await
        .map_err(failed)?
        .map_err(failed)?;
        let rec = self.engine.images.resolve(&full).map_err(failed)?;
        self.image_of(&rec)
    }

    fn local_image(&self, name: &str) -> Option<Image> {
        let rec = self.engine.images.resolve(name).ok()?;
        self.image_of(&rec).ok()
    }

    fn reuse(
        &self,
        parent: Option<&Image>,
        source: &Image,
        layer: Option<usize>,
        config: Value,
        history: Value,
    ) -> Result<Image, StepFailure> {
        let parent_rec = parent.map(|p| self.record(p)).transpose()?;
        let new_layer = match layer {
            None => NewLayer::None,
            Some(i) => {
                let src = self.record(source)?;
                let manifest = self.engine.images.manifest(&src).map_err(failed)?;
                let desc = manifest.layers.get(i).cloned();
                let diff_id = src.diff_ids.get(i).cloned();
                match (desc, diff_id) {
                    (Some(d), Some(id)) => NewLayer::Existing(Box::new(d), id),
                    _ => return Err(failed(format!("{} has no layer {i}", source.id))),
                }
            }
        };
        let rec = berth_image::commit::add_layer(
            &self.engine.images,
            parent_rec.as_ref(),
            config,
            new_layer,
            history,
            &[],
        )
        .map_err(failed)?;
        self.image_of(&rec)
    }

    fn cached(&self, key: &str) -> Option<Image> {
        let rec = self.engine.images.cached_step(key).ok()??;
        self.image_of(&rec).ok()
    }

    fn remember(&self, key: &str, id: &str) -> Result<(), StepFailure> {
        let id = id.parse().map_err(failed)?;
        self.engine.images.cache_step(key, &id).map_err(failed)
    }

    async fn run(
        &self,
        parent: &Image,
        spec: RunSpec,
        config: Value,
        history: Value,
        out: &Output,
    ) -> Result<Image, StepFailure> {
        let engine = &self.engine;
        let network_mode = match spec.network.as_str() {
            "" | "default" => String::new(),
            n => n.to_string(),
        };
        let mounts = spec
            .mounts
            .iter()
            .map(|m| match m {
                RunMount::Bind {
                    source,
                    target,
                    read_only,
                } => Mount {
                    kind: "bind".into(),
                    source: source.display().to_string(),
                    target: target.clone(),
                    read_only: *read_only,
                    ..Default::default()
                },
                RunMount::Tmpfs { target } => Mount {
                    kind: "tmpfs".into(),
                    target: target.clone(),
                    ..Default::default()
                },
            })
            .collect::<Vec<_>>();
        let req = CreateRequest {
            name: None,
            config: Config {
                image: parent.id.clone(),
                cmd: Some(spec.cmd.clone()),
                entrypoint: Some(Vec::new()),
                env: Some(spec.env.clone()),
                user: spec.user.clone(),
                working_dir: spec.workdir.clone(),
                attach_stdout: true,
                attach_stderr: true,
                ..Default::default()
            },
            host_config: HostConfig {
                network_mode,
                mounts: (!mounts.is_empty()).then_some(mounts),
                ..self.run.host_config.clone()
            },
        };
        let (c, _warnings) = engine.create(req).map_err(failed)?;
        let id = c.id.clone();
        let result = self.run_created(&id, config, history, out).await;
        // A failed step's container goes too: a failed build leaves nothing.
        if self.run.remove || result.is_err() {
            let _ = engine.remove(&id, true, true).await;
            out.text(format!("Removing intermediate container {}\n", &id[..12]));
        }
        result
    }

    fn commit(
        &self,
        parent: Option<&Image>,
        fill: Option<berth_build::Fill<'_>>,
        config: Value,
        history: Value,
    ) -> Result<Image, StepFailure> {
        let parent_rec = parent.map(|p| self.record(p)).transpose()?;
        let rec = match fill {
            None => berth_image::commit::add_layer(
                &self.engine.images,
                parent_rec.as_ref(),
                config,
                NewLayer::None,
                history,
                &[],
            )
            .map_err(failed)?,
            Some(fill) => {
                let layers = match &parent_rec {
                    Some(r) => self.engine.layers_of(r).map_err(failed)?,
                    None => Vec::new(),
                };
                let root =
                    root::WritableRoot::mount(&layers, &self.engine.build_tmp()).map_err(failed)?;
                fill(root.path())?;
                let upper = root.finish().map_err(failed)?;
                berth_image::commit::add_layer(
                    &self.engine.images,
                    parent_rec.as_ref(),
                    config,
                    NewLayer::Dir(&upper.path()),
                    history,
                    &[],
                )
                .map_err(failed)?
            }
        };
        self.image_of(&rec)
    }

    fn view(&self, image: &Image) -> Result<ImageView, StepFailure> {
        let rec = self.record(image)?;
        let layers = self.engine.layers_of(&rec).map_err(failed)?;
        ImageView::mount(&layers, &self.engine.config.data_root).map_err(failed)
    }

    fn cache_dir(&self, id: &str) -> Result<std::path::PathBuf, StepFailure> {
        // The id's bytes in hex: any id is a safe single path name.
        let name: String = id.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        let dir = self.engine.config.data_root.join("build-cache").join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| failed(format!("creating {}: {e}", dir.display())))?;
        Ok(dir)
    }

    fn tag(&self, id: &str, tags: &[String]) -> Result<Vec<String>, StepFailure> {
        let mut out = Vec::new();
        for t in tags {
            let r = ImageRef::parse(t).map_err(failed)?;
            self.engine.images.tag(id, &r).map_err(failed)?;
            out.push(r.familiar());
        }
        Ok(out)
    }
}

impl EngineBuild {
    /// Attaches to the created container, starts it, streams its output
    /// and, when it exits 0, commits its changes.
    async fn run_created(
        &self,
        id: &str,
        config: Value,
        history: Value,
        out: &Output,
    ) -> Result<Image, StepFailure> {
        let engine = &self.engine;
        out.text(format!(" ---> Running in {}\n", &id[..12]));
        let attach = engine.attach(id, false, true, true);
        let exited = engine.wait_registered(id, "next-exit");
        engine.start(id).await.map_err(failed)?;
        let mut stream = attach.await.map_err(failed)?;
        // Docker's multiplexed frames: [stream, 0, 0, 0, size BE32] + data.
        let mut header = [0u8; 8];
        while stream.read_exact(&mut header).await.is_ok() {
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            let mut data = vec![0u8; len];
            if stream.read_exact(&mut data).await.is_err() {
                break;
            }
            let text = String::from_utf8_lossy(&data);
            if header[0] == 2 {
                // stderr in red, as dockerd's classic builder sends it
                // (streamformatter's StderrWriter); clients look for it.
                out.text(format!("\x1b[91m{text}\x1b[0m"));
            } else {
                out.text(text.into_owned());
            }
        }
        let code = exited.await.map_err(failed)?;
        if code != 0 {
            return Err(StepFailure::Exit { code: code.into() });
        }
        let c = engine.get(id).map_err(failed)?;
        // Mount points live in the init layer below: the upper directory
        // holds only what the command changed.
        let upper = engine.container_dir(&c.id).join("upper");
        let parent = engine.images.resolve(&c.image).map_err(failed)?;
        let rec = berth_image::commit::add_layer(
            &engine.images,
            Some(&parent),
            config,
            NewLayer::Dir(&upper),
            history,
            &[],
        )
        .map_err(failed)?;
        self.image_of(&rec)
    }
}
