//! The classic builder's walk: each needed stage in order, each of its
//! instructions a step that is either found in the cache or made (a
//! config change, a container run, a copy), printed as docker prints it.
//!
//! A step's cache key is its parent image's id and what the step reads:
//! the instruction after expansion, the build args in scope for RUN, the
//! content (not the times) of what COPY reads. A changed file changes the
//! key of its COPY, so that step and every one after it are made again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::args::{self, Given};
use crate::backend::{Backend, Image, RunMount, RunSpec, StepFailure};
use crate::config;
use crate::copy::{self, Attrs};
use crate::dockerfile::{self, Command, CopyArgs, Dockerfile, Heredoc, Instruction, Kind};
use crate::error::{Error, Result};
use crate::options::BuildOptions;
use crate::output::Output;
use crate::stages::{Stage, Stages};

/// Docker's default SHELL.
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// What a build made.
#[derive(Debug, Clone)]
pub struct Built {
    /// The final image's id (`sha256:...`).
    pub id: String,
    /// The tags it got, as Docker prints them (`web:latest`).
    pub tags: Vec<String>,
}

/// A stage being built.
struct StageState {
    /// None until a first image (`FROM scratch` has none).
    image: Option<Image>,
    /// The whole image config as it stands.
    config: Value,
    /// ARGs in scope, in order of declaration.
    args: Vec<(String, String)>,
    shell: Vec<String>,
    /// Whether this stage set CMD (an ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// Where this stage prints (live, or held until the stages printed
    /// before it are done) and the number of its last step printed.
    out: Output,
    step: usize,
}

impl StageState {
    fn parent_id(&self) -> &str {
        self.image.as_ref().map_or("", |i| i.id.as_str())
    }

    fn workdir(&self) -> String {
        config::get(&self.config, "WorkingDir")
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

pub struct Builder<'a, B: Backend> {
    backend: &'a B,
    context: &'a Path,
    df: &'a Dockerfile,
    opts: &'a BuildOptions,
    out: Output,
    stages: Stages,
    given: Mutex<Given>,
    /// ARGs before the first FROM, with their values.
    meta: Vec<(String, String)>,
    /// The platform args BuildKit predefines (TARGETPLATFORM, ...).
    platform: BTreeMap<String, String>,
    /// Stages built so far: what later stages start from and copy from.
    built: Mutex<BTreeMap<usize, Image>>,
    /// `--cache-from` images found here.
    cache_sources: Vec<Image>,
    total: usize,
}

/// A step as `--cache-from` matches it against an image's history.
pub(crate) struct Step<'a> {
    pub created_by: &'a str,
    /// Whether the step makes a layer.
    pub layer: bool,
}

/// The lowercase hex of a sha256.
fn hex(hash: Sha256) -> String {
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn failure(e: StepFailure) -> Error {
    Error::Step(e.to_string())
}

impl<'a, B: Backend> Builder<'a, B> {
    pub fn new(
        backend: &'a B,
        context: &'a Path,
        df: &'a Dockerfile,
        opts: &'a BuildOptions,
        out: Output,
    ) -> Result<Self> {
        if let Some(p) = &opts.platform {
            let host = format!("linux/{}", config::host_arch());
            if !p.is_empty() && p != &host && p != "linux" {
                return Err(Error::Invalid(format!(
                    "platform {p} is not this host's ({host}): berth builds for the host only"
                )));
            }
        }
        Ok(Builder {
            backend,
            context,
            df,
            opts,
            out,
            stages: Stages::split(df)?,
            given: Mutex::new(Given {
                values: opts.build_args.clone(),
                used: Default::default(),
            }),
            meta: Vec::new(),
            platform: args::platform_args(),
            built: Mutex::new(BTreeMap::new()),
            cache_sources: Vec::new(),
            total: 0,
        })
    }

    /// Builds the target stage and tags it.
    pub async fn build(mut self) -> Result<Built> {
        for name in &self.opts.cache_from {
            match self.backend.local_image(name) {
                Some(img) => self.cache_sources.push(img),
                None => self.out.text(format!(
                    "[Warning] --cache-from {name}: no such image here (pull it first)\n"
                )),
            }
        }
        for ins in self.stages.meta_args.clone() {
            let Kind::Arg(decls) = &ins.kind else {
                unreachable!("meta args are ARGs")
            };
            let mut meta = std::mem::take(&mut self.meta);
            for (name, default) in decls {
                // A bare meta ARG takes a predefined platform arg.
                let fallback = self.platform.get(name).cloned();
                let lookup = |n: &str| {
                    meta.iter()
                        .rev()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v.clone())
                        .or_else(|| self.platform.get(n).cloned())
                };
                let value = self.arg_value(name, default.as_deref(), fallback, &|w| {
                    self.expand(&ins, w, &lookup)
                })?;
                declare(&mut meta, name, value);
            }
            self.meta = meta;
        }
        let target = self.stages.target(self.opts.target.as_deref())?;
        let waves = {
            let resolve = |s: &str| -> Result<String> {
                dockerfile::expand::expand_word(s, self.df.escape, &|n| self.meta_lookup(n))
                    .map_err(|e| Error::Invalid(e.to_string()))
            };
            let needed = self.stages.needed(target, &resolve)?;
            self.stages.waves(&needed, &resolve)?
        };
        self.total = self.stages.meta_args.len()
            + waves
                .iter()
                .flatten()
                .map(|i| 1 + self.stages.stages[*i].steps.len())
                .sum::<usize>()
            + usize::from(!self.opts.labels.is_empty());
        let mut step = 0;
        for ins in &self.stages.meta_args {
            step += 1;
            self.out
                .text(format!("Step {step}/{} : {}\n", self.total, ins.original));
        }
        // Stages whose inputs are all built run together, each printing
        // its steps under the numbers it would have one after the other;
        // all but the first of a wave hold their output until the ones
        // before them have printed theirs.
        let mut first_step = BTreeMap::new();
        for i in waves.iter().flatten() {
            first_step.insert(*i, step);
            step += 1 + self.stages.stages[*i].steps.len();
        }
        for wave in waves {
            let mut held = Vec::new();
            let mut runs = Vec::new();
            for (n, i) in wave.iter().enumerate() {
                let out = if n == 0 {
                    self.out.clone()
                } else {
                    let (out, rx) = self.out.held();
                    held.push(rx);
                    out
                };
                let stage = &self.stages.stages[*i];
                runs.push(self.build_stage(stage, *i == target, first_step[i], out));
            }
            // All run to their end (a RUN cut off would leave its
            // container); the first failure, in stage order, is the one.
            let results = futures_util::future::join_all(runs).await;
            for rx in held {
                self.out.forward(rx);
            }
            for (i, r) in wave.iter().zip(results) {
                let image = r?;
                self.built.lock().expect("built stages").insert(*i, image);
            }
        }
        let image = self
            .built
            .lock()
            .expect("built stages")
            .remove(&target)
            .expect("the target was built");
        let unused = self.given.lock().expect("build args").unused();
        if !unused.is_empty() {
            self.out.text(format!(
                "[Warning] One or more build-args [{}] were not consumed\n",
                unused.join(" ")
            ));
        }
        self.out.aux(json!({"ID": image.id}));
        self.out
            .text(format!("Successfully built {}\n", short(&image.id)));
        let tags = self
            .backend
            .tag(&image.id, &self.opts.tags)
            .map_err(failure)?;
        for t in &tags {
            self.out.text(format!("Successfully tagged {t}\n"));
        }
        if self.out.is_quiet() {
            self.out.always(format!("{}\n", image.id));
        }
        Ok(Built { id: image.id, tags })
    }

    fn meta_lookup(&self, name: &str) -> Option<String> {
        self.meta
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| self.platform.get(name).cloned())
    }

    fn print_step(&self, st: &mut StageState, ins: &Instruction) {
        st.step += 1;
        st.out.text(format!(
            "Step {}/{} : {}\n",
            st.step, self.total, ins.original
        ));
    }

    /// The `--build-arg` value of `name`, marking it used.
    fn take_arg(&self, name: &str) -> Option<String> {
        self.given.lock().expect("build args").take(name)
    }

    /// An ARG's value: the `--build-arg` given, else its default expanded,
    /// else `fallback` (for a bare ARG: the meta ARG's or platform arg's).
    fn arg_value(
        &self,
        name: &str,
        default: Option<&str>,
        fallback: Option<String>,
        expand: &dyn Fn(&str) -> Result<String>,
    ) -> Result<Option<String>> {
        Ok(match self.take_arg(name) {
            Some(v) => Some(v),
            None => match default {
                Some(d) => Some(expand(d)?),
                None => fallback,
            },
        })
    }

    fn expand(
        &self,
        ins: &Instruction,
        word: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String> {
        dockerfile::expand::expand_word(word, self.df.escape, lookup).map_err(|e| Error::at(ins, e))
    }

    /// Expands `word` with the stage's ENV, then its ARGs.
    fn expand_in(&self, st: &StageState, ins: &Instruction, word: &str) -> Result<String> {
        self.expand(ins, word, &|n| stage_lookup(st, n))
    }

    fn expand_words_in(
        &self,
        st: &StageState,
        ins: &Instruction,
        word: &str,
    ) -> Result<Vec<String>> {
        dockerfile::expand::expand_words(word, self.df.escape, &|n| stage_lookup(st, n))
            .map_err(|e| Error::at(ins, e))
    }

    /// Builds one stage, its first step numbered `step + 1`, printing to
    /// `out`.
    async fn build_stage(
        &self,
        stage: &Stage,
        is_target: bool,
        step: usize,
        out: Output,
    ) -> Result<Image> {
        let step = step + 1;
        out.text(format!(
            "Step {step}/{} : {}\n",
            self.total, stage.from.original
        ));
        if out.closed() {
            return Err(Error::Cancelled);
        }
        let platform = &self.platform;
        let base = self.expand(&stage.from, stage.base(), &|n| self.meta_lookup(n))?;
        if let Kind::From {
            platform: Some(p), ..
        } = &stage.from.kind
        {
            let p = self.expand(&stage.from, p, &|n| self.meta_lookup(n))?;
            if p != platform["TARGETPLATFORM"] && p != "linux" {
                return Err(Error::at(
                    &stage.from,
                    format!(
                        "--platform={p}: berth builds for this host only ({})",
                        platform["TARGETPLATFORM"]
                    ),
                ));
            }
        }
        let image = if let Some(i) = self.stages.by_name(&base) {
            Some(self.built_stage(i))
        } else if base.eq_ignore_ascii_case("scratch") {
            None
        } else {
            Some(
                self.backend
                    .image(&base, self.opts.pull, &out)
                    .await
                    .map_err(|e| Error::at(&stage.from, e))?,
            )
        };
        let config = image
            .as_ref()
            .map_or_else(config::scratch, |i| i.config.clone());
        let shell = strings(config::get(&config, "Shell"))
            .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect());
        let mut st = StageState {
            image,
            config,
            args: Vec::new(),
            shell,
            cmd_set: false,
            out,
            step,
        };
        if let Some(i) = &st.image {
            st.out.text(format!(" ---> {}\n", short(&i.id)));
        }
        self.run_triggers(&mut st).await?;
        for ins in &stage.steps {
            self.print_step(&mut st, ins);
            if st.out.closed() {
                return Err(Error::Cancelled);
            }
            self.dispatch(&mut st, ins).await?;
        }
        if is_target && !self.opts.labels.is_empty() {
            let original = format!(
                "LABEL {}",
                self.opts
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k:?}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            st.step += 1;
            st.out
                .text(format!("Step {}/{} : {original}\n", st.step, self.total));
            for (k, v) in &self.opts.labels {
                config::map_insert(&mut st.config, "Labels", k, json!(v));
            }
            self.commit_meta(&mut st, &original).await?;
        }
        match st.image {
            Some(i) => Ok(i),
            None => Err(Error::Invalid(
                "No image was generated. Is your Dockerfile empty?".into(),
            )),
        }
    }

    /// A stage built before this one needed it.
    fn built_stage(&self, i: usize) -> Image {
        self.built
            .lock()
            .expect("built stages")
            .get(&i)
            .cloned()
            .expect("needed stages are built first")
    }

    /// The ONBUILD triggers of the base image, run right after FROM.
    async fn run_triggers(&self, st: &mut StageState) -> Result<()> {
        let triggers = strings(config::get(&st.config, "OnBuild")).unwrap_or_default();
        if triggers.is_empty() {
            return Ok(());
        }
        config::set(&mut st.config, "OnBuild", Value::Null);
        st.out.text(format!(
            "# Executing {} build trigger{}\n",
            triggers.len(),
            if triggers.len() == 1 { "" } else { "s" }
        ));
        for t in triggers {
            let instructions = dockerfile::parse_instructions(&t).map_err(|e| {
                Error::Invalid(format!("the base image's ONBUILD trigger {t:?}: {e}"))
            })?;
            for ins in &instructions {
                if matches!(ins.kind, Kind::From { .. } | Kind::Onbuild(_)) {
                    return Err(Error::Invalid(format!(
                        "the base image's ONBUILD trigger {t:?} is not allowed"
                    )));
                }
                Box::pin(self.dispatch(st, ins)).await?;
            }
        }
        Ok(())
    }

    async fn dispatch(&self, st: &mut StageState, ins: &Instruction) -> Result<()> {
        match &ins.kind {
            Kind::From { .. } => unreachable!("stages split at FROM"),
            Kind::Arg(decls) => {
                for (name, default) in decls {
                    // A bare ARG takes the value of a meta ARG.
                    let fallback = self.meta_lookup(name);
                    let value = self.arg_value(name, default.as_deref(), fallback, &|w| {
                        self.expand_in(st, ins, w)
                    })?;
                    declare(&mut st.args, name, value);
                }
                // An ARG changes no config; the steps after it key on it.
                if let Some(i) = &st.image {
                    st.out.text(format!(" ---> {}\n", short(&i.id)));
                }
                Ok(())
            }
            Kind::Env(pairs) => {
                for (k, v) in pairs {
                    let v = self.expand_in(st, ins, v)?;
                    config::set_env(&mut st.config, k, &v);
                }
                self.commit_meta(st, &ins.original).await
            }
            Kind::Label(pairs) => {
                for (k, v) in pairs {
                    let k = self.expand_in(st, ins, k)?;
                    let v = self.expand_in(st, ins, v)?;
                    config::map_insert(&mut st.config, "Labels", &k, json!(v));
                }
                self.commit_meta(st, &ins.original).await
            }
            Kind::Maintainer(m) => {
                st.config["author"] = json!(m);
                self.commit_meta(st, &ins.original).await
            }
            Kind::Workdir(dir) => {
                let dir = self.expand_in(st, ins, dir)?;
                let joined = Path::new("/").join(st.workdir()).join(&dir);
                config::set(&mut st.config, "WorkingDir", json!(clean_abs(&joined)));
                self.commit_meta(st, &ins.original).await
            }
            Kind::User(u) => {
                let u = self.expand_in(st, ins, u)?;
                config::set(&mut st.config, "User", json!(u));
                self.commit_meta(st, &ins.original).await
            }
            Kind::Cmd(c) => {
                let cmd = self.command(st, c);
                config::set(&mut st.config, "Cmd", json!(cmd));
                st.cmd_set = true;
                self.commit_meta(st, &ins.original).await
            }
            Kind::Entrypoint(c) => {
                let ep = self.command(st, c);
                config::set(&mut st.config, "Entrypoint", json!(ep));
                if !st.cmd_set {
                    config::set(&mut st.config, "Cmd", Value::Null);
                }
                self.commit_meta(st, &ins.original).await
            }
            Kind::Shell(sh) => {
                st.shell = sh.clone();
                config::set(&mut st.config, "Shell", json!(sh));
                self.commit_meta(st, &ins.original).await
            }
            Kind::Expose(ports) => {
                for p in ports {
                    for word in self.expand_words_in(st, ins, p)? {
                        for key in config::exposed_ports(&word).map_err(|e| Error::at(ins, e))? {
                            config::map_insert(&mut st.config, "ExposedPorts", &key, json!({}));
                        }
                    }
                }
                self.commit_meta(st, &ins.original).await
            }
            Kind::Volume(vols) => {
                for v in vols {
                    let v = self.expand_in(st, ins, v)?;
                    if v.trim().is_empty() {
                        return Err(Error::at(
                            ins,
                            "VOLUME specified can not be an empty string",
                        ));
                    }
                    config::map_insert(&mut st.config, "Volumes", &v, json!({}));
                }
                self.commit_meta(st, &ins.original).await
            }
            Kind::StopSignal(s) => {
                let s = self.expand_in(st, ins, s)?;
                config::set(&mut st.config, "StopSignal", json!(s));
                self.commit_meta(st, &ins.original).await
            }
            Kind::Healthcheck(h) => {
                let value = match h {
                    None => json!({"Test": ["NONE"]}),
                    Some((flags, cmd)) => {
                        let test = match cmd {
                            Command::Shell(s) => json!(["CMD-SHELL", s]),
                            Command::Exec(v) => {
                                let mut t = vec!["CMD".to_string()];
                                t.extend(v.iter().cloned());
                                json!(t)
                            }
                        };
                        let mut hc = json!({"Test": test});
                        for (flag, field, v) in [
                            ("interval", "Interval", &flags.interval),
                            ("timeout", "Timeout", &flags.timeout),
                            ("start-period", "StartPeriod", &flags.start_period),
                            ("start-interval", "StartInterval", &flags.start_interval),
                        ] {
                            if let Some(v) = v {
                                hc[field] = json!(
                                    config::health_duration(flag, v)
                                        .map_err(|e| Error::at(ins, e))?
                                );
                            }
                        }
                        if let Some(r) = &flags.retries {
                            let n: i64 = r.parse().map_err(|_| {
                                Error::at(ins, format!("--retries: invalid number {r:?}"))
                            })?;
                            if n < 0 {
                                return Err(Error::at(ins, "--retries cannot be negative"));
                            }
                            hc["Retries"] = json!(n);
                        }
                        hc
                    }
                };
                config::set(&mut st.config, "Healthcheck", value);
                self.commit_meta(st, &ins.original).await
            }
            Kind::Onbuild(trigger) => {
                let text = trigger.original.clone();
                let mut triggers = strings(config::get(&st.config, "OnBuild")).unwrap_or_default();
                triggers.push(text);
                config::set(&mut st.config, "OnBuild", json!(triggers));
                self.commit_meta(st, &ins.original).await
            }
            Kind::Run {
                flags,
                command,
                heredocs,
            } => self.run(st, ins, flags, command, heredocs).await,
            Kind::Copy(c) => self.copy(st, ins, c, false).await,
            Kind::Add(c) => self.copy(st, ins, c, true).await,
        }
    }

    /// A command in the config's form: shell form run by the SHELL.
    fn command(&self, st: &StageState, c: &Command) -> Vec<String> {
        match c {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let mut v = st.shell.clone();
                v.push(s.clone());
                v
            }
        }
    }

    /// The cache key of a step on `parent` that reads `what`.
    fn key(parent: &str, what: &str) -> String {
        let mut h = Sha256::new();
        h.update(parent.as_bytes());
        h.update([0]);
        h.update(what.as_bytes());
        hex(h)
    }

    /// The image a step with `key` made before, when the cache is on; else
    /// the same step in a `--cache-from` image (`step`: what the step
    /// writes in history, and whether it makes a layer).
    fn probe(&self, st: &mut StageState, key: &str, step: &Step) -> Result<bool> {
        if self.opts.no_cache {
            return Ok(false);
        }
        // With --cache-from, the engine's own cache counts only for images
        // in the named images' chains (dockerd's ImageCache), none when
        // none of them is here.
        let cached = self.backend.cached(key).filter(|img| {
            self.opts.cache_from.is_empty()
                || self
                    .cache_sources
                    .iter()
                    .any(|s| crate::cache_from::is_in_chain_of(img, s))
        });
        let img = match cached {
            Some(img) => img,
            None => match crate::cache_from::find(&self.cache_sources, &st.config, step) {
                Some(hit) => {
                    let img = self
                        .backend
                        .reuse(
                            st.image.as_ref(),
                            &hit.source,
                            hit.layer,
                            st.config.clone(),
                            hit.history,
                        )
                        .map_err(failure)?;
                    self.backend.remember(key, &img.id).map_err(failure)?;
                    img
                }
                None => return Ok(false),
            },
        };
        st.out
            .text(format!(" ---> Using cache\n ---> {}\n", short(&img.id)));
        st.config = img.config.clone();
        st.image = Some(img);
        Ok(true)
    }

    fn made(&self, st: &mut StageState, key: &str, img: Image) -> Result<()> {
        self.backend.remember(key, &img.id).map_err(failure)?;
        st.out.text(format!(" ---> {}\n", short(&img.id)));
        st.config = img.config.clone();
        st.image = Some(img);
        Ok(())
    }

    /// A step that changed only the config: an image without a layer.
    async fn commit_meta(&self, st: &mut StageState, original: &str) -> Result<()> {
        let what = format!(
            "meta\0{original}\0{}\0{}",
            st.config["config"], st.config["author"]
        );
        let key = Self::key(st.parent_id(), &what);
        let created_by = format!("/bin/sh -c #(nop)  {original}");
        let step = Step {
            created_by: &created_by,
            layer: false,
        };
        if self.probe(st, &key, &step)? {
            return Ok(());
        }
        let history = json!({"created_by": created_by});
        let img = self
            .backend
            .commit(st.image.as_ref(), None, st.config.clone(), history)
            .map_err(failure)?;
        self.made(st, &key, img)
    }

    /// The build args a RUN sees: the ARGs in scope that no ENV overrides,
    /// then the proxy args given.
    fn run_args(&self, st: &StageState) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = st
            .args
            .iter()
            .filter(|(n, _)| config::env_get(&st.config, n).is_none())
            .cloned()
            .collect();
        for (k, v) in self.given.lock().expect("build args").proxies() {
            if !out.iter().any(|(n, _)| *n == k) {
                out.push((k, v));
            }
        }
        out
    }

    async fn run(
        &self,
        st: &mut StageState,
        ins: &Instruction,
        flags: &dockerfile::RunFlags,
        command: &Command,
        heredocs: &[Heredoc],
    ) -> Result<()> {
        let Some(parent) = st.image.clone() else {
            return Err(Error::at(
                ins,
                "there is nothing to run in: the stage has no files yet (FROM scratch)",
            ));
        };
        let cmd = match command {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let mut v = st.shell.clone();
                v.push(heredoc_script(s, heredocs));
                v
            }
        };
        let network = match flags.network.as_deref() {
            // The engine's default: its bridge, or none without one.
            None | Some("default") => self.opts.network.clone(),
            Some(n @ ("none" | "host")) => n.to_string(),
            Some(other) => {
                return Err(Error::at(
                    ins,
                    format!("unsupported network mode {other:?}: none, host or default"),
                ));
            }
        };
        if let Some(s) = &flags.security
            && s != "sandbox"
        {
            return Err(Error::at(
                ins,
                format!("--security={s} needs an entitlement berth does not grant"),
            ));
        }
        let mut mounts = Vec::new();
        let mut mount_keys = Vec::new();
        // Stages mounted for the run, held until it is over.
        let mut views = Vec::new();
        for m in &flags.mounts {
            let (mount, key, view) = self.run_mount(st, ins, m)?;
            mounts.push(mount);
            mount_keys.push(key);
            views.extend(view);
        }
        let args = self.run_args(st);
        let mut env = config::env(&st.config);
        env.extend(args.iter().map(|(k, v)| format!("{k}={v}")));
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        }
        let recorded: Vec<&(String, String)> = args
            .iter()
            .filter(|(k, _)| !args::PROXY_ARGS.contains(&k.as_str()))
            .collect();
        let mut created_by = String::new();
        if !recorded.is_empty() {
            created_by = format!(
                "|{} {} ",
                recorded.len(),
                recorded
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        created_by.push_str(&cmd.join(" "));
        let what = format!(
            "run\0{}\0{created_by}\0{network}\0{}",
            serde_json::to_string(&cmd).expect("strings serialize"),
            mount_keys.join("\0")
        );
        let key = Self::key(&parent.id, &what);
        let step = Step {
            created_by: &created_by,
            layer: true,
        };
        if self.probe(st, &key, &step)? {
            return Ok(());
        }
        let spec = RunSpec {
            cmd: cmd.clone(),
            env,
            user: config::get(&st.config, "User")
                .as_str()
                .unwrap_or("")
                .into(),
            workdir: st.workdir(),
            network,
            mounts,
        };
        let (out, tail) = st.out.keeping_tail();
        let made = self
            .backend
            .run(
                &parent,
                spec,
                st.config.clone(),
                json!({"created_by": created_by}),
                &out,
            )
            .await;
        drop(views);
        match made {
            Ok(img) => self.made(st, &key, img),
            Err(StepFailure::Exit { code }) => {
                let mut msg = format!(
                    "The command '{}' returned a non-zero code: {code}",
                    cmd.join(" ")
                );
                if st.out.is_quiet() {
                    let tail = tail.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    msg = format!(
                        "Step {}/{} : {}\n{}{msg}",
                        st.step, self.total, ins.original, tail
                    );
                }
                Err(Error::Exit { message: msg, code })
            }
            Err(e) => Err(Error::at(ins, e)),
        }
    }

    /// A `RUN --mount=...` as the engine mounts it, and what of it goes
    /// into the step's cache key.
    fn run_mount(
        &self,
        st: &StageState,
        ins: &Instruction,
        spec: &str,
    ) -> Result<(RunMount, String, Option<B::View>)> {
        let mut kv: BTreeMap<String, String> = BTreeMap::new();
        for part in spec.split(',') {
            let part = self.expand_in(st, ins, part)?;
            let (k, v) = part.split_once('=').unwrap_or((&part, "true"));
            kv.insert(k.to_lowercase(), v.to_string());
        }
        let target = kv
            .get("target")
            .or_else(|| kv.get("dst"))
            .or_else(|| kv.get("destination"))
            .cloned()
            .ok_or_else(|| Error::at(ins, format!("--mount={spec}: no target")))?;
        let target = clean_abs(&Path::new("/").join(st.workdir()).join(&target));
        let kind = kv.get("type").map_or("bind", String::as_str);
        let known: &[&str] = match kind {
            "bind" => &[
                "type",
                "target",
                "dst",
                "destination",
                "source",
                "src",
                "from",
                "rw",
                "readwrite",
                "readonly",
                "ro",
            ],
            "cache" => &[
                "type",
                "target",
                "dst",
                "destination",
                "id",
                "sharing",
                "mode",
                "uid",
                "gid",
                "source",
                "src",
                "from",
                "readonly",
                "ro",
            ],
            "tmpfs" => &["type", "target", "dst", "destination", "size"],
            "secret" | "ssh" => {
                return Err(Error::at(
                    ins,
                    format!(
                        "--mount=type={kind} needs a BuildKit session, which the classic build API has no way to carry"
                    ),
                ));
            }
            other => return Err(Error::at(ins, format!("--mount: unknown type {other:?}"))),
        };
        if let Some(bad) = kv.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Error::at(
                ins,
                format!("--mount: unknown option {bad:?} for type={kind}"),
            ));
        }
        if kv.contains_key("from") && kind != "bind" {
            return Err(Error::at(
                ins,
                "--mount: from= is supported for type=bind only",
            ));
        }
        let flag = |k: &str| kv.get(k).is_some_and(|v| v != "false");
        match kind {
            "tmpfs" => Ok((
                RunMount::Tmpfs {
                    target: target.clone(),
                },
                format!("tmpfs:{target}"),
                None,
            )),
            "cache" => {
                let id = kv.get("id").cloned().unwrap_or_else(|| target.clone());
                let dir = self.backend.cache_dir(&id).map_err(|e| Error::at(ins, e))?;
                // The cache's content is not an input of the step: it is a
                // cache (its id and target are).
                Ok((
                    RunMount::Bind {
                        source: dir,
                        target: target.clone(),
                        read_only: flag("readonly") || flag("ro"),
                    },
                    format!("cache:{id}:{target}"),
                    None,
                ))
            }
            _ => {
                let source = kv
                    .get("source")
                    .or_else(|| kv.get("src"))
                    .cloned()
                    .unwrap_or_default();
                let rel = copy::clean(&source).map_err(|e| Error::at(ins, e))?;
                let (root, key_root, view) = match kv.get("from") {
                    Some(from) => {
                        let i = self.stages.by_name_or_index(from).ok_or_else(|| {
                            Error::at(ins, format!("--mount from={from}: no such stage"))
                        })?;
                        let img = &self.built_stage(i);
                        let view = self.backend.view(img).map_err(|e| Error::at(ins, e))?;
                        (view.as_ref().to_path_buf(), img.id.clone(), Some(view))
                    }
                    None => (self.context.to_path_buf(), "context".to_string(), None),
                };
                let mut h = Sha256::new();
                h.update(key_root.as_bytes());
                if kv.contains_key("from") {
                    h.update(rel.as_os_str().as_encoded_bytes());
                } else {
                    copy::hash_sources(
                        &root,
                        &[copy::Source { rel: rel.clone() }],
                        &[],
                        false,
                        &mut h,
                    )
                    .map_err(|e| Error::at(ins, e))?;
                }
                // The source resolved inside its root, then named by the
                // real path the kernel found: a symlink cannot lead out.
                let source = copy::resolve_in(&root, &rel).map_err(|e| Error::at(ins, e))?;
                Ok((
                    RunMount::Bind {
                        source,
                        target: target.clone(),
                        read_only: !(flag("rw") || flag("readwrite")),
                    },
                    format!("bind:{}:{target}", hex(h)),
                    view,
                ))
            }
        }
    }

    /// Downloads `url` for ADD into `dir`; returns the file's name there.
    async fn download(
        &self,
        st: &StageState,
        ins: &Instruction,
        c: &CopyArgs,
        url: &str,
        dir: &Path,
    ) -> Result<String> {
        let name = crate::fetch::file_name(url);
        st.out.text(format!("Downloading {url}\n"));
        // The download blocks (ureq): on a blocking thread, so that a slow
        // server does not hold one of the engine's async workers.
        let (from, dest) = (url.to_string(), dir.join(&name));
        let limit = crate::context::ContextLimit::default().0;
        let got = tokio::task::spawn_blocking(move || crate::fetch::fetch(&from, &dest, limit))
            .await
            .map_err(|e| Error::Step(format!("ADD failed: the download's thread: {e}")))?
            .map_err(|e| Error::Step(format!("ADD failed: {e}")))?;
        if let Some(want) = &c.checksum {
            let want = self.expand_in(st, ins, want)?;
            let want = if want.contains(':') {
                want
            } else {
                format!("sha256:{want}")
            };
            if want != got.digest {
                return Err(Error::Step(format!(
                    "ADD failed: the digest of {url} is {}, not {want} (--checksum)",
                    got.digest
                )));
            }
        }
        // Docker gives a downloaded file mode 0600 and the server's time.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&got.path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::Invalid(format!("{}: {e}", got.path.display())))?;
        if let Some(t) = got.modified
            && let Ok(f) = std::fs::File::options().write(true).open(&got.path)
        {
            let _ = f.set_modified(t);
        }
        Ok(name)
    }

    async fn copy(
        &self,
        st: &mut StageState,
        ins: &Instruction,
        c: &CopyArgs,
        add: bool,
    ) -> Result<()> {
        let name = if add { "ADD" } else { "COPY" };
        // Where the sources are: the context, another stage, an image.
        let mut view = None;
        let (src_root, from_id, keep_owner): (PathBuf, String, bool) = match &c.from {
            None => (self.context.to_path_buf(), String::new(), false),
            Some(from) => {
                let from = self.expand_in(st, ins, from)?;
                let img = match self.stages.by_name_or_index(&from) {
                    Some(i) => self.built_stage(i),
                    None => self
                        .backend
                        .image(&from, false, &st.out)
                        .await
                        .map_err(|e| Error::at(ins, e))?,
                };
                let v = self.backend.view(&img).map_err(|e| Error::at(ins, e))?;
                let root = v.as_ref().to_path_buf();
                view = Some(v);
                (root, img.id, true)
            }
        };
        // Heredoc sources and ADD's URLs become files of a directory of
        // their own.
        let own_dir;
        let mut from_urls = false;
        let (src_root, patterns) = if c.heredocs.is_empty() {
            let mut patterns = Vec::new();
            for s in &c.sources {
                let s = self.expand_in(st, ins, s)?;
                if s.starts_with("git@") || s.ends_with(".git") {
                    return Err(Error::at(
                        ins,
                        "ADD of a git repository is not supported yet",
                    ));
                }
                patterns.push(s);
            }
            let is_url = |s: &String| s.starts_with("http://") || s.starts_with("https://");
            if add && patterns.iter().any(is_url) {
                if !patterns.iter().all(is_url) {
                    return Err(Error::at(
                        ins,
                        "ADD of URLs and local files in one instruction is not supported: split it",
                    ));
                }
                own_dir = tempdir_for_heredocs()?;
                let mut names = Vec::new();
                for url in &patterns {
                    names.push(self.download(st, ins, c, url, own_dir.path()).await?);
                }
                from_urls = true;
                (own_dir.path().to_path_buf(), names)
            } else {
                if c.checksum.is_some() {
                    return Err(Error::at(ins, "--checksum is for sources given by URL"));
                }
                (src_root, patterns)
            }
        } else {
            own_dir = tempdir_for_heredocs()?;
            let mut patterns = Vec::new();
            for h in &c.heredocs {
                let body = if h.expand {
                    self.expand_in(st, ins, &h.content)?
                } else {
                    h.content.clone()
                };
                std::fs::write(own_dir.path().join(&h.name), body)
                    .map_err(|e| Error::Invalid(format!("writing heredoc {}: {e}", h.name)))?;
                patterns.push(h.name.clone());
            }
            (own_dir.path().to_path_buf(), patterns)
        };
        let sources = copy::find_sources(&src_root, &patterns)
            .map_err(|e| Error::Step(format!("{name} failed: {e}")))?;
        let mut dest = self.expand_in(st, ins, &c.dest)?;
        if !dest.starts_with('/') {
            let wd = st.workdir();
            let trailing = dest.ends_with('/') || dest == "." || dest.is_empty();
            dest = clean_abs(&Path::new("/").join(&wd).join(&dest));
            if trailing && !dest.ends_with('/') {
                dest.push('/');
            }
        }
        if c.parents && c.sources.iter().any(|s| s.contains("/./")) {
            return Err(Error::at(
                ins,
                "--parents with a ./ pivot is not supported yet",
            ));
        }
        if (sources.len() > 1 || c.parents) && !dest.ends_with('/') {
            return Err(Error::at(
                ins,
                format!(
                    "When using {name} with more than one source file, the destination must be a directory and end with a /"
                ),
            ));
        }
        let chown = c
            .chown
            .as_ref()
            .map(|o| self.expand_in(st, ins, o))
            .transpose()?;
        let mode = match &c.chmod {
            None => None,
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        Error::at(
                            ins,
                            format!("invalid chmod parameter {m:?}: an octal mode such as 0755"),
                        )
                    })?,
            ),
        };
        let excludes: Vec<String> = c
            .excludes
            .iter()
            .map(|e| self.expand_in(st, ins, e))
            .collect::<Result<_>>()?;
        let mut h = Sha256::new();
        copy::hash_sources(&src_root, &sources, &excludes, keep_owner, &mut h)
            .map_err(|e| Error::Step(format!("{name} failed: {e}")))?;
        let content = hex(h);
        let what = format!(
            "{name}\0{from_id}\0{content}\0{dest}\0{chown:?}\0{mode:?}\0{excludes:?}\0{}\0{}",
            st.config["config"], c.parents
        );
        let key = Self::key(st.parent_id(), &what);
        let kind = if sources.len() > 1 { "multi" } else { "file" };
        let created_by = format!("/bin/sh -c #(nop) {name} {kind}:{content} in {dest} ");
        let step = Step {
            created_by: &created_by,
            layer: true,
        };
        if self.probe(st, &key, &step)? {
            return Ok(());
        }
        let history = json!({ "created_by": created_by });
        let user_db = chown.clone();
        // A URL's file is unpacked only when asked (`--unpack`).
        let unpack = match c.unpack {
            Some(u) => u,
            None => !from_urls,
        };
        let mut fill = |root: &Path| -> std::result::Result<(), StepFailure> {
            let owner = match &user_db {
                Some(spec) => Some(crate::users::resolve(root, spec).map_err(StepFailure::Other)?),
                None => None,
            };
            let attrs = Attrs {
                owner,
                keep_owner,
                mode,
                parents: c.parents,
            };
            // ADD unpacks local archives unless `--unpack=false`.
            if add && unpack {
                crate::archive::add(&src_root, &sources, root, &dest, &excludes, &attrs)
            } else {
                copy::copy(&src_root, &sources, root, &dest, &excludes, &attrs)
            }
            .map_err(|e| StepFailure::Other(format!("{name} failed: {e}")))
        };
        let made = self.backend.commit(
            st.image.as_ref(),
            Some(&mut fill),
            st.config.clone(),
            history,
        );
        drop(view);
        let img = made.map_err(|e| Error::at(ins, e))?;
        self.made(st, &key, img)
    }
}

/// The script a shell-form RUN gives its SHELL. `RUN <<EOF` alone runs
/// the body as the script (through its `#!` interpreter when it has one,
/// as BuildKit does); otherwise the line and the bodies go to the shell,
/// which feeds each body to its command itself.
fn heredoc_script(line: &str, heredocs: &[Heredoc]) -> String {
    let line = line.trim();
    if let [only] = heredocs
        && line.starts_with("<<")
        && !line.contains(char::is_whitespace)
    {
        if only.content.starts_with("#!") {
            let marker = "BERTH_HEREDOC_SCRIPT_END";
            return format!(
                "f=$(mktemp) && cat > \"$f\" <<'{marker}' && chmod +x \"$f\" && \"$f\"; rc=$?; rm -f \"$f\"; exit $rc\n{}{marker}",
                only.content
            );
        }
        return only.content.clone();
    }
    let mut script = line.to_string();
    for h in heredocs {
        script.push('\n');
        script.push_str(&h.content);
        script.push_str(&h.name);
    }
    script
}

/// Declares ARG `name` in `scope` (a later declaration replaces an
/// earlier one; an ARG without a value is in scope unset).
fn declare(scope: &mut Vec<(String, String)>, name: &str, value: Option<String>) {
    scope.retain(|(n, _)| n != name);
    if let Some(v) = value {
        scope.push((name.to_string(), v));
    }
}

/// ENV first, then the ARGs in scope (an ENV wins over an ARG).
fn stage_lookup(st: &StageState, name: &str) -> Option<String> {
    config::env_get(&st.config, name).or_else(|| {
        st.args
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    })
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    })
}

/// An absolute path without `.`, `..` or doubled `/`.
fn clean_abs(p: &Path) -> String {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::Normal(n) => parts.push(n),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let mut s = String::from("/");
    s.push_str(
        &parts
            .iter()
            .map(|p| p.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    );
    s
}

fn tempdir_for_heredocs() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("berth-heredoc-")
        .tempdir()
        .map_err(|e| Error::Invalid(format!("a temporary directory for heredocs: {e}")))
}
