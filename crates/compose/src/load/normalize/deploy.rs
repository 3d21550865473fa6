//! `deploy:`, `healthcheck:`, `logging:` and `ulimits:` of a service.

use serde_json::{Map, Value, json};

use super::values::{
    Cx, Loc, boolean, duration, float, integer, key_values, object, scalar_string, size, string,
    unsigned,
};
use crate::load::error::LoadError;

pub fn deploy(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "replicas" => json!(replicas(v, &a, cx)?),
            "resources" => resources(v, &a, cx)?,
            "restart_policy" => restart_policy(v, &a, cx)?,
            "labels" => Value::Object(key_values(v, &a, cx, false)?),
            "mode" => {
                let m = string(v, &a, cx)?;
                if m != "replicated" {
                    return Err(cx.unsupported(at, &format!("mode: {m}")));
                }
                continue;
            }
            "endpoint_mode" | "update_config" | "rollback_config" | "placement" => {
                cx.ignored(at, &k, "it only applies to a Swarm");
                continue;
            }
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

pub fn replicas(v: Value, at: &Loc, cx: &Cx) -> Result<u32, LoadError> {
    let n = integer(v, at, cx)?;
    u32::try_from(n).map_err(|_| cx.invalid(at, "must be greater than or equal to 0"))
}

fn resources(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "limits" | "reservations" => resource(v, &a, cx)?,
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

fn resource(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        let c = match k.as_str() {
            "cpus" => json!(float(v, &a, cx)?),
            "memory" => json!(size(v, &a, cx)?),
            "pids" => json!(integer(v, &a, cx)?),
            "devices" | "generic_resources" => return Err(cx.unsupported(at, &k)),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

fn restart_policy(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        let c = match k.as_str() {
            "condition" => json!(string(v, &a, cx)?),
            "delay" | "window" => json!(duration(v, &a, cx)?),
            "max_attempts" => json!(unsigned(v, &a, cx)?),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

pub fn healthcheck(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "test" => match v {
                Value::String(s) => json!(["CMD-SHELL", s]),
                Value::Array(_) => Value::Array(super::values::strings(v, &a, cx)?),
                _ => return Err(cx.invalid(&a, "must be a string or list")),
            },
            "interval" | "timeout" | "start_period" | "start_interval" => {
                json!(duration(v, &a, cx)?)
            }
            "retries" => json!(unsigned(v, &a, cx)?),
            "disable" => json!(boolean(v, &a, cx)?),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

pub fn logging(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        if v.is_null() {
            continue;
        }
        let c = match k.as_str() {
            "driver" => json!(string(v, &a, cx)?),
            "options" => {
                let mut o = Map::new();
                for (ok, ov) in object(v, &a, cx)? {
                    let ov = match ov {
                        Value::Null => String::new(),
                        ov => scalar_string(ov, &a.key(&ok), cx)?,
                    };
                    o.insert(ok, json!(ov));
                }
                Value::Object(o)
            }
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    Ok(Value::Object(out))
}

/// `nofile: 1024` (soft and hard) or `nofile: {soft: 1024, hard: 2048}`.
pub fn ulimits(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (name, v) in object(v, at, cx)? {
        let a = at.key(&name);
        let c = match v {
            Value::Object(m) => {
                let (mut soft, mut hard) = (None, None);
                for (k, v) in m {
                    match k.as_str() {
                        "soft" => soft = Some(integer(v, &a.key(&k), cx)?),
                        "hard" => hard = Some(integer(v, &a.key(&k), cx)?),
                        k if k.starts_with("x-") => {}
                        _ => return Err(cx.unknown(&a, &k)),
                    }
                }
                match (soft, hard) {
                    (Some(soft), Some(hard)) => json!({"soft": soft, "hard": hard}),
                    (None, _) => return Err(cx.invalid(&a, "missing property 'soft'")),
                    (_, None) => return Err(cx.invalid(&a, "missing property 'hard'")),
                }
            }
            v => {
                let n = integer(v, &a, cx)?;
                json!({"soft": n, "hard": n})
            }
        };
        out.insert(name, c);
    }
    Ok(Value::Object(out))
}
