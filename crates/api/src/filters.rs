//! The `filters` query parameter that list, prune and events endpoints
//! take, and the label test they share.

use std::collections::BTreeMap;

use hyper::Response;
use serde_json::Value;

use crate::routes::{Query, first};
use crate::{Body, error};

/// Filter name -> the values asked for.
pub type Filters = BTreeMap<String, Vec<String>>;

/// `{"k": ["v"]}` or the old `{"k": {"v": true}}`; a name outside `allowed`
/// is a 400 naming it, as dockerd answers.
pub fn parse(q: &Query, allowed: &[&str]) -> Result<Filters, Box<Response<Body>>> {
    let mut wanted = BTreeMap::new();
    let Some(f) = first(q, "filters").filter(|f| !f.is_empty()) else {
        return Ok(wanted);
    };
    let filters: BTreeMap<String, Value> = serde_json::from_str(f)
        .map_err(|e| Box::new(error(400, format!("invalid filters: {e}"))))?;
    for (k, v) in filters {
        if !allowed.contains(&k.as_str()) {
            return Err(Box::new(error(400, format!("invalid filter '{k}'"))));
        }
        let vals = match v {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            Value::Object(o) => o.into_iter().map(|(k, _)| k).collect(),
            _ => return Err(Box::new(error(400, format!("invalid filter {k:?}")))),
        };
        wanted.insert(k, vals);
    }
    Ok(wanted)
}

/// `key` or `key=value` against an object's labels.
pub fn label_matches<'a>(spec: &str, get: impl Fn(&str) -> Option<&'a str>) -> bool {
    match spec.split_once('=') {
        Some((k, v)) => get(k) == Some(v),
        None => get(spec).is_some(),
    }
}

/// A filter that must be a boolean (`dangling`): 400 naming the value.
pub fn check_bool(raw: &Filters, key: &str) -> Result<(), Box<Response<Body>>> {
    for v in raw.get(key).into_iter().flatten() {
        if !matches!(v.as_str(), "true" | "false" | "1" | "0") {
            return Err(Box::new(error(400, format!("invalid filter '{key}={v}'"))));
        }
    }
    Ok(())
}
