//! `up` in the foreground: every container's output, prefixed with its
//! name, until they all exit or the user presses Ctrl-C (which stops them,
//! as compose does); `--abort-on-container-exit` stops all when one exits
//! and gives its code.

use std::collections::BTreeMap;

use anyhow::Result;
use berth_client::Engine;

use crate::model::Project;

pub async fn attach(
    e: &Engine,
    project: &Project,
    made: &BTreeMap<String, Vec<String>>,
    abort_on_exit: bool,
    timeout: Option<i64>,
) -> Result<i32> {
    let services: Vec<String> = made.keys().cloned().collect();
    let logs = crate::ps::logs(e, project, &services, true, Some("all"), false, true);
    let ids: Vec<String> = made.values().flatten().cloned().collect();
    let first_exit = async {
        let mut waits = Vec::new();
        for id in &ids {
            let e = e.clone();
            let id = id.clone();
            waits.push(Box::pin(async move {
                let v = e
                    .post_json(&format!("/containers/{id}/wait"), &serde_json::json!({}))
                    .await?;
                anyhow::Ok(v["StatusCode"].as_i64().unwrap_or(0))
            }));
        }
        if waits.is_empty() {
            return Ok(0);
        }
        let (code, _, _) = futures_util::future::select_all(waits).await;
        code
    };
    tokio::select! {
        r = logs => { r?; Ok(0) }
        code = first_exit, if abort_on_exit => {
            let code = code?;
            stop_all(e, &ids, timeout).await?;
            Ok(code as i32)
        }
        _ = tokio::signal::ctrl_c() => {
            stop_all(e, &ids, timeout).await?;
            Ok(130)
        }
    }
}

/// Stops every container at once, as compose does; a second Ctrl-C
/// kills them instead of waiting out their grace period.
async fn stop_all(e: &Engine, ids: &[String], timeout: Option<i64>) -> Result<()> {
    eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
    let stops = futures_util::future::try_join_all(
        ids.iter().map(|id| crate::engine::stop(e, id, timeout)),
    );
    tokio::select! {
        r = stops => r.map(drop),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("Killing...");
            futures_util::future::try_join_all(ids.iter().map(|id| crate::engine::kill(e, id))).await?;
            Ok(())
        }
    }
}
