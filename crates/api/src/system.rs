//! `GET /system/df`: what images, containers and volumes take on disk.

use std::sync::Arc;

use berth_engine::Engine;
use hyper::Response;
use serde_json::json;

use crate::{Body, error, json};

pub async fn df(engine: Arc<Engine>) -> Response<Body> {
    let res = tokio::task::spawn_blocking(move || {
        let containers = engine.list();
        let images = engine.image_usage().map_err(|e| e.to_string())?;
        let volumes = engine.volume_usage().map_err(|e| e.to_string())?;
        let cache = engine.build_cache_usage().map_err(|e| e.to_string())?;
        let layers: u64 = images.iter().filter_map(|i| i["Size"].as_u64()).sum();
        let container_rows: Vec<_> = containers
            .iter()
            .map(|c| {
                let rw = berth_engine::disk_usage(&engine.container_dir(&c.id).join("upper"));
                json!({
                    "Id": c.id,
                    "Names": [format!("/{}", c.name)],
                    "Image": c.config.image,
                    "ImageID": c.image,
                    "Command": c.path,
                    "Created": crate::containers::unix_secs(&c.created),
                    "State": c.state.status.as_str(),
                    "Status": crate::containers::status_text(c),
                    "SizeRw": rw,
                    "SizeRootFs": rw,
                    "Labels": c.config.labels.clone().unwrap_or_default(),
                    "Mounts": c.mounts.iter().filter(|m| m.listed).map(|m| m.wire()).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok::<_, String>(json!({
            "LayersSize": layers,
            "Images": images,
            "Containers": container_rows,
            "Volumes": volumes,
            "BuildCache": cache,
        }))
    })
    .await;
    match res {
        Ok(Ok(v)) => json(200, &v),
        Ok(Err(e)) => error(500, e),
        Err(e) => error(500, e),
    }
}
