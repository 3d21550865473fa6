//! `ports:`: the short syntax (`"80"`, `"8080:80"`, `"127.0.0.1:8080:80/udp"`,
//! `"[::1]:80:80"`, ranges `"8000-8001:80-81"` made one port each, a host
//! range for one container port `"8000-8010:80"` kept as a range), as
//! docker's `nat.ParsePortSpec` reads it, and the long syntax.

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::values::{Cx, Loc, integer, list, object, scalar_string, string};
use crate::load::error::LoadError;

pub fn ports(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Vec::new();
    for (i, item) in list(v, at, cx)?.into_iter().enumerate() {
        let at = at.index(i);
        match item {
            Value::Number(n) => out.extend(short(&n.to_string(), &at, cx)?),
            Value::String(s) => out.extend(short(&s, &at, cx)?),
            Value::Object(_) => out.push(long(item, &at, cx)?),
            _ => return Err(cx.invalid(&at, "must be a string, number or mapping")),
        }
    }
    Ok(Value::Array(out))
}

fn long(v: Value, at: &Loc, cx: &mut Cx) -> Result<Value, LoadError> {
    let mut out = Map::new();
    for (k, v) in object(v, at, cx)? {
        let a = at.key(&k);
        let c = match k.as_str() {
            "target" => {
                let n = integer(v, &a, cx)?;
                let n = u16::try_from(n).map_err(|_| cx.invalid(&a, "must be a port number"))?;
                json!(n)
            }
            "published" => Value::String(scalar_string(v, &a, cx)?),
            "host_ip" => {
                let ip = string(v, &a, cx)?;
                if ip.parse::<IpAddr>().is_err() {
                    return Err(cx.invalid(&a, format!("invalid ip address: {ip}")));
                }
                Value::String(ip)
            }
            "protocol" => Value::String(string(v, &a, cx)?.to_ascii_lowercase()),
            "mode" | "name" | "app_protocol" => Value::String(string(v, &a, cx)?),
            k if k.starts_with("x-") => continue,
            _ => return Err(cx.unknown(at, &k)),
        };
        out.insert(k, c);
    }
    if !out.contains_key("target") {
        return Err(cx.invalid(at, "missing property 'target'"));
    }
    out.entry("protocol").or_insert_with(|| json!("tcp"));
    out.entry("mode").or_insert_with(|| json!("ingress"));
    Ok(Value::Object(out))
}

/// One short-syntax entry, possibly several ports.
pub fn short(spec: &str, at: &Loc, cx: &Cx) -> Result<Vec<Value>, LoadError> {
    parse_short(spec).map_err(|e| cx.invalid(at, e))
}

fn parse_short(raw: &str) -> Result<Vec<Value>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (ip, host) = match n {
        1 => (String::new(), ""),
        2 => (String::new(), parts[0]),
        3 => (parts[0].to_string(), parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let (container, proto) = match container.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (container, "tcp".to_string()),
    };
    let ip = match ip.strip_prefix('[') {
        Some(inner) => inner
            .strip_suffix(']')
            .ok_or_else(|| format!("invalid IP address {ip}"))?
            .to_string(),
        None => ip,
    };
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let (start, end) =
        range(container).ok_or_else(|| format!("invalid containerPort: {container}"))?;
    let (hstart, hend) = if host.is_empty() {
        (0, 0)
    } else {
        range(host).ok_or_else(|| format!("invalid hostPort: {host}"))?
    };
    if !host.is_empty() && end - start != hend - hstart && end != start {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        ));
    }
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let target = start + i;
        let mut p = Map::new();
        p.insert("target".into(), json!(target));
        if !host.is_empty() {
            let published = if start == end && hstart != hend {
                format!("{hstart}-{hend}")
            } else {
                (hstart + i).to_string()
            };
            p.insert("published".into(), json!(published));
        }
        if !ip.is_empty() {
            p.insert("host_ip".into(), json!(ip));
        }
        p.insert("protocol".into(), json!(proto));
        p.insert("mode".into(), json!("ingress"));
        out.push(Value::Object(p));
    }
    Ok(out)
}

/// `80` or `8000-8010`.
fn range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().ok()?;
    let b: u16 = b.parse().ok()?;
    (b >= a).then_some((a, b))
}

/// The key compose merges ports by: `host_ip:published:target/protocol`.
pub fn merge_key(p: &Value) -> String {
    let s = |k: &str, d: &str| {
        p.get(k)
            .map(|v| match v {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .unwrap_or_else(|| d.to_string())
    };
    format!(
        "{}:{}:{}/{}",
        s("host_ip", "0.0.0.0"),
        s("published", ""),
        s("target", ""),
        s("protocol", "tcp")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        assert_eq!(
            parse_short("80").unwrap(),
            vec![json!({"target": 80, "protocol": "tcp", "mode": "ingress"})]
        );
        assert_eq!(
            parse_short("127.0.0.1:8080:80/udp").unwrap(),
            vec![
                json!({"target": 80, "published": "8080", "host_ip": "127.0.0.1", "protocol": "udp", "mode": "ingress"})
            ]
        );
        assert_eq!(parse_short("8000-8001:80-81").unwrap().len(), 2);
        assert_eq!(
            parse_short("8000-8010:80").unwrap(),
            vec![
                json!({"target": 80, "published": "8000-8010", "protocol": "tcp", "mode": "ingress"})
            ]
        );
        assert_eq!(
            parse_short("[::1]:80:80").unwrap()[0]["host_ip"],
            json!("::1")
        );
        assert_eq!(
            parse_short("127.0.0.1::80").unwrap(),
            vec![
                json!({"target": 80, "host_ip": "127.0.0.1", "protocol": "tcp", "mode": "ingress"})
            ]
        );
        assert!(parse_short("8000-8002:80-81").is_err());
        assert!(parse_short("80/xyz").is_err());
        assert!(parse_short("nope:80").is_err());
    }
}
