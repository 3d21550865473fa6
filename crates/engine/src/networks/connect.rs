//! `network connect` and `network disconnect`: a stopped container's record
//! changes; a running one also gets (or loses) its link at once.

use std::sync::Arc;

use berth_models::network::{NetworkConnectRequest, NetworkDisconnectRequest};

use super::record::{HOST, NONE};
use crate::{Engine, Error, Result};

fn host_mode_error() -> Error {
    Error::Forbidden(
        "container cannot be disconnected from host network or connected to host network".into(),
    )
}

impl Engine {
    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(
        self: &Arc<Self>,
        network: &str,
        req: NetworkConnectRequest,
    ) -> Result<()> {
        let n = self.network(network)?;
        let c = self.get(&req.container)?;
        if n.name == HOST || c.network_settings.networks.contains_key(HOST) {
            return Err(host_mode_error());
        }
        if n.name == NONE || c.network_settings.networks.contains_key(NONE) {
            return Err(Error::Forbidden(format!(
                "container cannot be connected to multiple networks with one of the networks in private ({NONE}) mode"
            )));
        }
        if c.network_settings.networks.contains_key(&n.name)
            || c.network_settings
                .networks
                .values()
                .any(|e| e.network_id == n.id)
        {
            return Err(Error::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                c.name, n.name
            )));
        }
        let mut asked = req.endpoint_config.unwrap_or_default();
        super::request::check_endpoint(&n, &asked)?;
        asked.network_id = n.id.clone();
        let engine = self.clone();
        let id = c.id.clone();
        tokio::task::spawn_blocking(move || engine.connect_blocking(&id, n, asked))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    }

    fn connect_blocking(
        self: &Arc<Self>,
        id: &str,
        n: super::NetworkRecord,
        asked: berth_models::network::EndpointSettings,
    ) -> Result<()> {
        let _guard = self.network_changes.lock().expect("network lock");
        // The network may have gone while this request waited.
        let n = self.network(&n.id)?;
        let c = self.get(id)?;
        let mut settings = asked.clone();
        if c.is_running() && c.state.pid > 0 {
            let index = c.network_settings.networks.len();
            let mut ips = Vec::new();
            let planned = self.plan_endpoint(&c, &n.name, &asked, index, false, &mut ips)?;
            if let Some(ep) = planned {
                settings = ep.settings.clone();
                let plan = super::attach::Plan::single(ep, ips);
                self.network_plumb(&c.id, c.state.pid, plan)?;
            }
        }
        let name = n.name.clone();
        self.update(id, |c| {
            c.network_settings.networks.insert(name, settings);
        })?;
        self.network_event("connect", &n, Some(id));
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(
        self: &Arc<Self>,
        network: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<()> {
        let c = self.get(&req.container)?;
        let n = match self.network(network) {
            Ok(n) => n,
            // `force` takes a container off a network that is gone.
            Err(Error::NotFound(_)) if req.force => {
                let name = network.to_string();
                self.update(&c.id, |c| {
                    c.network_settings.networks.remove(&name);
                })?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if n.name == HOST {
            return Err(host_mode_error());
        }
        let Some((key, _)) = c
            .network_settings
            .networks
            .iter()
            .find(|(k, e)| e.network_id == n.id || **k == n.name)
        else {
            // dockerd answers 500 for it.
            return Err(Error::Internal(format!(
                "container {} is not connected to network {}",
                c.id, n.name
            )));
        };
        let key = key.clone();
        let engine = self.clone();
        let id = c.id.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = engine.network_changes.lock().expect("network lock");
            if c.is_running() {
                engine.network_unplumb(&id, &n.id);
            }
            engine.update(&id, |c| {
                c.network_settings.networks.remove(&key);
            })?;
            engine.network_event("disconnect", &n, Some(&id));
            Ok(())
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
    }
}
