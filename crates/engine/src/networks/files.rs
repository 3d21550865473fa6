//! The files that give a container its network identity, written into its
//! bundle at each start as dockerd writes them: /etc/hosts (its addresses,
//! `--add-host`), /etc/hostname, /etc/resolv.conf (the embedded DNS server
//! on user networks, the host's resolvers elsewhere). A container on
//! another's network (`--network container:<x>`) uses x's files, its
//! namespace and its hostname.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::model::Container;
use crate::spec::{self, Files, SharedNetwork};
use crate::{Engine, Error, Result};

pub struct NetworkFiles {
    hosts: PathBuf,
    hostname: PathBuf,
    resolv: PathBuf,
    /// The other container's namespace and hostname.
    shared: Option<(PathBuf, String)>,
}

impl NetworkFiles {
    pub fn files(&self) -> Files<'_> {
        Files {
            hosts: &self.hosts,
            hostname: &self.hostname,
            resolv: &self.resolv,
            shared_network: self.shared.as_ref().map(|(netns, hostname)| SharedNetwork {
                netns: Some(netns),
                hostname,
            }),
        }
    }
}

impl Engine {
    /// The container whose network `c` joins (`container:<x>`), running.
    pub(crate) fn network_owner(&self, c: &Container) -> Result<Option<Container>> {
        let Some(name) = c.host_config.network_mode.strip_prefix("container:") else {
            return Ok(None);
        };
        let owner = self.get(name)?;
        if !owner.is_running() || owner.state.pid <= 0 {
            return Err(Error::Conflict(format!(
                "cannot join network of a non running container: {}",
                owner.id
            )));
        }
        Ok(Some(owner))
    }

    /// The links that /etc/hosts and the environment carry: those of a
    /// container on the default bridge (elsewhere, DNS answers them).
    pub(crate) fn default_bridge_links(
        &self,
        c: &Container,
    ) -> Result<Vec<(super::links::Link, Container, IpAddr)>> {
        if !c
            .network_settings
            .networks
            .contains_key(super::record::BRIDGE)
        {
            return Ok(Vec::new());
        }
        self.linked(c)
    }

    pub(crate) fn network_files(
        &self,
        c: &Container,
        dir: &Path,
        addresses: &[IpAddr],
    ) -> Result<NetworkFiles> {
        if let Some(owner) = self.network_owner(c)? {
            let theirs = self.current_bundle(&owner.id);
            return Ok(NetworkFiles {
                hosts: theirs.join("hosts"),
                hostname: theirs.join("hostname"),
                resolv: theirs.join("resolv.conf"),
                shared: Some((
                    PathBuf::from(format!("/proc/{}/ns/net", owner.state.pid)),
                    spec::hostname(&owner),
                )),
            });
        }
        let io = |what: &str, e| Error::io(format!("container {}: {what}", c.short_id()), e);
        let hostname = spec::hostname(c);
        let files = NetworkFiles {
            hosts: dir.join("hosts"),
            hostname: dir.join("hostname"),
            resolv: dir.join("resolv.conf"),
            shared: None,
        };
        let hc = &c.host_config;
        if hc.network_mode == "host" {
            std::fs::copy("/etc/hosts", &files.hosts).map_err(|e| io("copying /etc/hosts", e))?;
        } else {
            let mut text = spec::hosts_file(
                hc.extra_hosts.as_deref().unwrap_or_default(),
                addresses,
                &hostname,
                &c.config.domainname,
                self.host_gateway(),
            )?;
            text.push_str(&super::links::hosts_lines(&self.default_bridge_links(c)?));
            std::fs::write(&files.hosts, text).map_err(|e| io("writing hosts", e))?;
        }
        std::fs::write(&files.hostname, format!("{hostname}\n"))
            .map_err(|e| io("writing hostname", e))?;
        let text = if self.uses_embedded_dns(c) {
            // `--dns` then only feeds the server's forwarding, as dockerd's.
            super::dns::resolv_conf(
                hc.dns_search.as_deref().unwrap_or_default(),
                hc.dns_options.as_deref().unwrap_or_default(),
            )
        } else {
            spec::resolv_conf(
                hc.dns.as_deref().unwrap_or_default(),
                hc.dns_search.as_deref().unwrap_or_default(),
                hc.dns_options.as_deref().unwrap_or_default(),
            )
        };
        std::fs::write(&files.resolv, text).map_err(|e| io("writing resolv.conf", e))?;
        Ok(files)
    }
}
