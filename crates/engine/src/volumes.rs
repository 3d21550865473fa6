//! Volumes as the engine serves them: the local driver (berth-volume) plus
//! what only the engine knows, which containers use a volume.

use berth_models::volume as wire;
use berth_volume::{CreateRequest, Volume};

use crate::{Engine, Error, Result};

impl From<berth_volume::Error> for Error {
    fn from(e: berth_volume::Error) -> Error {
        use berth_volume::Error as V;
        match e {
            V::InvalidParameter(m) => Error::Invalid(m),
            V::NotFound(_) => Error::NotFound(e.to_string()),
            V::Conflict(m) => Error::Conflict(m),
            V::Io { .. } => Error::Internal(e.to_string()),
            V::Store(s) => s.into(),
        }
    }
}

/// `GET /volumes`'s filters, parsed.
#[derive(Debug, Default, Clone)]
pub struct VolumeFilters {
    /// Used by no container (true) or by one (false).
    pub dangling: Option<bool>,
    pub driver: Vec<String>,
    /// `key` or `key=value`, all must match.
    pub label: Vec<String>,
    /// `label!`: none may match.
    pub label_not: Vec<String>,
    /// Substrings of the name (dockerd matches them as regular expressions;
    /// plain names, the common case, behave the same).
    pub name: Vec<String>,
}

impl VolumeFilters {
    fn keeps(&self, v: &Volume, in_use: bool) -> bool {
        let label_ok = |spec: &String| match spec.split_once('=') {
            Some((k, val)) => v.labels.get(k).is_some_and(|x| x == val),
            None => v.labels.contains_key(spec.as_str()),
        };
        self.dangling.is_none_or(|d| d != in_use)
            && (self.driver.is_empty() || self.driver.contains(&v.driver))
            && self.label.iter().all(label_ok)
            && !self.label_not.iter().any(label_ok)
            && (self.name.is_empty() || self.name.iter().any(|n| v.name.contains(n.as_str())))
    }
}

impl Engine {
    /// `POST /volumes/create`.
    pub fn volume_create(&self, opts: wire::VolumeCreateOptions) -> Result<wire::Volume> {
        if opts.cluster_volume_spec.is_some() {
            return Err(Error::Invalid(
                "ClusterVolumeSpec: cluster volumes need swarm, which berth does not have".into(),
            ));
        }
        let name = opts.name.clone().unwrap_or_default();
        let v = self
            .volumes
            .create(CreateRequest {
                name: opts.name,
                driver: opts.driver,
                options: opts.driver_opts.unwrap_or_default(),
                labels: opts.labels.unwrap_or_default(),
            })
            .map_err(|e| match Error::from(e) {
                Error::Invalid(m) => Error::Invalid(format!("create {name}: {m}")),
                other => other,
            })?;
        self.events.volume("create", &v.name, &v.driver);
        Ok(self.volume_wire(v))
    }

    /// `GET /volumes/{name}`.
    pub fn volume_inspect(&self, name: &str) -> Result<wire::Volume> {
        Ok(self.volume_wire(self.volumes.get(name)?))
    }

    /// `GET /volumes`.
    pub fn volume_list(&self, f: &VolumeFilters) -> Result<wire::VolumeListResponse> {
        let used = self.volumes_in_use();
        let volumes = self
            .volumes
            .list()?
            .into_iter()
            .filter(|v| f.keeps(v, used.contains_key(&v.name)))
            .map(|v| self.volume_wire(v))
            .collect();
        Ok(wire::VolumeListResponse {
            volumes,
            warnings: None,
        })
    }

    /// `DELETE /volumes/{name}`: refused while a container uses it; `force`
    /// makes a missing volume no error (as dockerd's `?force=1`).
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        if let Some(users) = self.volumes_in_use().get(name) {
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        match self.volumes.remove(name) {
            Ok(()) => {
                self.events.volume("destroy", name, berth_volume::LOCAL);
                Ok(())
            }
            Err(berth_volume::Error::NotFound(_)) if force => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /volumes/prune`: volumes no container uses and the filters
    /// keep; named ones only with `all` (API 1.42+; older clients prune
    /// every unused volume, as dockerd does for them). As dockerd, a volume
    /// with driver options (a tmpfs, a device, an NFS share) is never pruned.
    pub fn volume_prune(&self, f: &VolumeFilters, all: bool) -> Result<wire::VolumePruneResponse> {
        let used = self.volumes_in_use();
        let mut out = wire::VolumePruneResponse::default();
        for v in self.volumes.list()? {
            if used.contains_key(&v.name)
                || !v.options.is_empty()
                || !f.keeps(&v, false)
                || !(all || v.is_anonymous())
            {
                continue;
            }
            let size = self.volumes.size(&v.name);
            match self.volume_remove(&v.name, false) {
                Ok(()) => {
                    out.volumes_deleted.push(v.name);
                    out.space_reclaimed += size;
                }
                // Taken into use since the listing: not ours to remove.
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.events.publish_volume_prune(out.space_reclaimed);
        Ok(out)
    }

    /// Every volume with its size and how many containers use it
    /// (`GET /system/df`).
    pub fn volume_usage(&self) -> Result<Vec<wire::Volume>> {
        let used = self.volumes_in_use();
        Ok(self
            .volumes
            .list()?
            .into_iter()
            .map(|v| {
                let usage = wire::UsageData {
                    size: self.volumes.size(&v.name) as i64,
                    ref_count: used.get(&v.name).map_or(0, |u| u.len() as i64),
                };
                let mut w = self.volume_wire(v);
                w.usage_data = Some(usage);
                w
            })
            .collect())
    }

    /// Volume name -> the ids of the containers that mount it.
    pub fn volumes_in_use(&self) -> std::collections::HashMap<String, Vec<String>> {
        let mut used: std::collections::HashMap<String, Vec<String>> = Default::default();
        for c in self.list() {
            for name in c.volume_names() {
                used.entry(name.to_string()).or_default().push(c.id.clone());
            }
        }
        used
    }

    fn volume_wire(&self, v: Volume) -> wire::Volume {
        wire::Volume {
            mountpoint: self.volumes.mountpoint(&v.name).display().to_string(),
            created_at: v.created_at,
            driver: v.driver,
            labels: v.labels,
            name: v.name,
            options: v.options,
            scope: "local".into(),
            usage_data: None,
        }
    }
}
