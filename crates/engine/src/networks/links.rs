//! Legacy links (`--link name[:alias]`), as dockerd keeps them: on the
//! default bridge, where nothing resolves names, the linked container's
//! address goes into /etc/hosts under the alias, its name and short id,
//! and its ports and environment into variables (`ALIAS_PORT_80_TCP=...`);
//! on a user-defined network the alias is one more name its DNS answers
//! for the linking container.

use std::net::IpAddr;

use crate::model::{Container, HostConfig};
use crate::{Engine, Error, Result};

/// One link: the linked container's name and the alias it is known by.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub name: String,
    pub alias: String,
}

/// `db`, `db:alias`, or dockerd's stored form `/db:/me/alias`.
pub fn parse(spec: &str) -> Result<Link> {
    let (name, alias) = spec.split_once(':').unwrap_or((spec, spec));
    let name = name.trim_start_matches('/').to_string();
    let alias = alias.rsplit('/').next().unwrap_or(alias).to_string();
    if name.is_empty() || alias.is_empty() {
        return Err(Error::Invalid(format!(
            "invalid link {spec:?}: expected name or name:alias"
        )));
    }
    Ok(Link { name, alias })
}

pub fn of(hc: &HostConfig) -> Result<Vec<Link>> {
    hc.links.iter().flatten().map(|l| parse(l)).collect()
}

impl Engine {
    /// `DELETE /containers/{parent}/{alias}?link=1` (`docker rm --link`):
    /// the parent forgets its link under `alias` (it goes from its
    /// HostConfig.Links; /etc/hosts and the environment change at its next
    /// start). Errors in dockerd's words.
    pub fn remove_link(&self, parent: &str, alias: &str) -> Result<()> {
        let name = format!("{parent}/{alias}");
        let c = self
            .get(parent)
            .map_err(|_| Error::NotFound(format!("No such container: {name}")))?;
        let links = of(&c.host_config)?;
        if !links.iter().any(|l| l.alias == alias) {
            return Err(Error::NotFound(format!("No such container: {name}")));
        }
        self.update(&c.id, |c| {
            if let Some(l) = c.host_config.links.as_mut() {
                l.retain(|spec| parse(spec).map_or(true, |l| l.alias != alias));
            }
        })
    }

    /// At start, on the default bridge: each linked container, running and
    /// on the default bridge, with its address there.
    pub(crate) fn linked(&self, c: &Container) -> Result<Vec<(Link, Container, IpAddr)>> {
        let mut out = Vec::new();
        for l in of(&c.host_config)? {
            let target = self.get(&l.name)?;
            if !target.is_running() {
                return Err(Error::Invalid(format!(
                    "Cannot link to a non running container: /{} AS /{}/{}",
                    target.name, c.name, l.alias
                )));
            }
            let Some(ip) = target
                .network_settings
                .networks
                .get(super::record::BRIDGE)
                .and_then(|e| e.ip_address.parse::<IpAddr>().ok())
            else {
                return Err(Error::Invalid(format!(
                    "Cannot link to /{}, as it does not belong to the default network",
                    target.name
                )));
            };
            out.push((l, target, ip));
        }
        Ok(out)
    }
}

/// /etc/hosts lines for the links: `ip alias shortid name`.
pub fn hosts_lines(linked: &[(Link, Container, IpAddr)]) -> String {
    linked
        .iter()
        .map(|(l, t, ip)| {
            let mut names = vec![l.alias.clone(), t.short_id().to_string()];
            if t.name != l.alias {
                names.push(t.name.clone());
            }
            format!("{ip}\t{}\n", names.join(" "))
        })
        .collect()
}

/// dockerd's link variables: `ALIAS_NAME`, `ALIAS_PORT*` per exposed port,
/// `ALIAS_ENV_*` for the linked container's own environment.
pub fn env(me: &str, linked: &[(Link, Container, IpAddr)]) -> Vec<String> {
    let mut out = Vec::new();
    for (l, t, ip) in linked {
        let prefix: String = l
            .alias
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        out.push(format!("{prefix}_NAME=/{me}/{}", l.alias));
        let mut ports: Vec<(u16, String)> = t
            .config
            .exposed_ports
            .iter()
            .flatten()
            .filter_map(|(k, _)| {
                let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
                Some((p.parse().ok()?, proto.to_string()))
            })
            .collect();
        ports.sort();
        if let Some((p, proto)) = ports.first() {
            out.push(format!("{prefix}_PORT={proto}://{ip}:{p}"));
        }
        for (p, proto) in &ports {
            let key = format!("{prefix}_PORT_{p}_{}", proto.to_uppercase());
            out.push(format!("{key}={proto}://{ip}:{p}"));
            out.push(format!("{key}_ADDR={ip}"));
            out.push(format!("{key}_PORT={p}"));
            out.push(format!("{key}_PROTO={proto}"));
        }
        for kv in t.config.env.iter().flatten() {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            if matches!(k, "HOME" | "HOSTNAME" | "PATH") {
                continue;
            }
            out.push(format!("{prefix}_ENV_{k}={v}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_in_every_form() {
        let l = |s| parse(s).unwrap();
        assert_eq!(
            l("db"),
            Link {
                name: "db".into(),
                alias: "db".into()
            }
        );
        assert_eq!(
            l("db:data"),
            Link {
                name: "db".into(),
                alias: "data".into()
            }
        );
        assert_eq!(
            l("/db:/web/data"),
            Link {
                name: "db".into(),
                alias: "data".into()
            }
        );
        assert!(parse(":x").is_err());
    }
}
