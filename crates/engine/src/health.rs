//! Health checks, run by the engine itself (these hosts have no systemd):
//! the image's HEALTHCHECK or the container's, probed through exec with
//! Docker's defaults and rules (start period, retries, the last five
//! results in State.Health.Log), and — what Docker lacks (moby#28400) —
//! an action on an unhealthy container, from the label
//! `io.berth.health-on-failure` (none, kill, restart, stop).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Engine;
use crate::exec::ExecConfig;
use crate::model::{Container, Health, HealthConfig, HealthLog, Status};

pub const ON_FAILURE_LABEL: &str = "io.berth.health-on-failure";

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// Docker keeps this many results and this much of each output.
const KEEP: usize = 5;
const MAX_OUTPUT: usize = 4096;

fn nanos(n: i64, default: Duration) -> Duration {
    if n > 0 {
        Duration::from_nanos(n as u64)
    } else {
        default
    }
}

/// The probe's command, or None when the container has no health check.
fn probe(h: &HealthConfig) -> Option<Vec<String>> {
    let test = h.test.as_ref()?;
    match test.first().map(String::as_str) {
        Some("CMD") => Some(test[1..].to_vec()),
        Some("CMD-SHELL") => Some(vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")]),
        _ => None, // NONE, or empty: disabled
    }
}

fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// Starts the checker of a container that just started, if it has a check.
pub fn watch(engine: &Arc<Engine>, c: &Container) {
    let Some(h) = c.config.healthcheck.clone() else {
        return;
    };
    let Some(cmd) = probe(&h) else { return };
    let started = c.state.started_at.clone();
    let _ = engine.update(&c.id, |c| {
        c.state.health = Some(Health {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        })
    });
    let engine = engine.clone();
    let id = c.id.clone();
    tokio::spawn(async move {
        let begun = Instant::now();
        let start_period = nanos(h.start_period, Duration::ZERO);
        let interval = nanos(h.interval, DEFAULT_INTERVAL);
        let start_interval = nanos(h.start_interval, DEFAULT_START_INTERVAL);
        let timeout = nanos(h.timeout, DEFAULT_TIMEOUT);
        let retries = if h.retries > 0 {
            h.retries
        } else {
            DEFAULT_RETRIES
        };
        loop {
            let in_start = begun.elapsed() < start_period;
            tokio::time::sleep(if in_start {
                start_interval.min(interval)
            } else {
                interval
            })
            .await;
            // Stop when the container stopped or was started again (a new
            // checker then runs for the new start).
            let Ok(c) = engine.get(&id) else { return };
            if c.state.status != Status::Running && c.state.status != Status::Paused {
                return;
            }
            if c.state.started_at != started {
                return;
            }
            if c.state.status == Status::Paused {
                continue;
            }
            let (code, output, start, end) = run_probe(&engine, &id, &cmd, timeout).await;
            let in_start = begun.elapsed() < start_period;
            let mut became = None;
            let _ = engine.update(&id, |c| {
                let Some(health) = c.state.health.as_mut() else {
                    return;
                };
                health.log.push(HealthLog {
                    start,
                    end,
                    exit_code: code,
                    output,
                });
                let over = health.log.len().saturating_sub(KEEP);
                health.log.drain(..over);
                let before = health.status.clone();
                if code == 0 {
                    health.failing_streak = 0;
                    health.status = "healthy".into();
                } else if !in_start {
                    health.failing_streak += 1;
                    if health.failing_streak >= retries {
                        health.status = "unhealthy".into();
                    }
                }
                if health.status != before {
                    became = Some(health.status.clone());
                }
            });
            if let Some(status) = became
                && let Ok(c) = engine.get(&id)
            {
                engine.event(&format!("health_status: {status}"), &c, &[]);
                if status == "unhealthy" {
                    on_unhealthy(&engine, &c).await;
                    if c.labels_get(ON_FAILURE_LABEL).is_some_and(|a| a != "none") {
                        return;
                    }
                }
            }
        }
    });
}

/// Runs the probe once through exec: (exit code, output, start, end).
async fn run_probe(
    engine: &Arc<Engine>,
    id: &str,
    cmd: &[String],
    timeout: Duration,
) -> (i64, String, String, String) {
    let start = now();
    let exec = engine.exec_create(
        id,
        ExecConfig {
            attach_stdout: true,
            attach_stderr: true,
            cmd: Some(cmd.to_vec()),
            ..Default::default()
        },
    );
    let exec_id = match exec {
        Ok(e) => e,
        Err(e) => return (-1, e.to_string(), start, now()),
    };
    let mut session = match engine.exec_start(&exec_id).await {
        Ok(s) => s,
        Err(e) => return (-1, e.to_string(), start, now()),
    };
    drop(session.stdin.take());
    let mut output = Vec::new();
    let collect = async {
        while let Some((_, data)) = session.output.recv().await {
            if output.len() < MAX_OUTPUT {
                output.extend_from_slice(&data);
            }
        }
    };
    if tokio::time::timeout(timeout, collect).await.is_err() {
        // As dockerd: a probe past its timeout is killed, with what it
        // started, and counts as a failure.
        engine.exec_kill(&exec_id);
        engine.exec_forget(&exec_id);
        let msg = format!("Health check exceeded timeout ({timeout:?})");
        return (-1, msg, start, now());
    }
    // The exit code is recorded when the process is reaped, just after its
    // output ends.
    let mut code = None;
    for _ in 0..100 {
        code = engine
            .exec_inspect(&exec_id)
            .ok()
            .and_then(|v| v["ExitCode"].as_i64());
        if code.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    engine.exec_forget(&exec_id);
    output.truncate(MAX_OUTPUT);
    (
        code.unwrap_or(-1),
        String::from_utf8_lossy(&output).into_owned(),
        start,
        now(),
    )
}

/// `--health-on-failure`: what to do with a container found unhealthy.
async fn on_unhealthy(engine: &Arc<Engine>, c: &Container) {
    let action = c.labels_get(ON_FAILURE_LABEL).unwrap_or("none");
    let res = match action {
        "kill" => engine.kill(&c.id, Some("KILL")).await,
        "stop" => engine.stop(&c.id, None, None).await,
        "restart" => engine.restart(&c.id, None, None).await,
        _ => Ok(()),
    };
    if let Err(e) = res {
        eprintln!("berth: health-on-failure {action} of {}: {e}", c.name);
    }
}
