//! The OCI distribution API over HTTP: manifests and blobs, with the two auth
//! schemes registries use (a bearer token from the realm a 401 names, as
//! Docker Hub does it, and basic auth). Plain HTTP is used only for loopback
//! registries and those configured as insecure, as Docker does.
//!
//! A small blocking client on ureq rather than the oci-client crate: pulls
//! must stream each layer through decompress, digest and unpack in one pass,
//! from threads we control, and pushes must mount blobs across repositories;
//! these few calls are less than the async stack oci-client brings.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;

use super::Credentials;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest;

pub struct Client {
    agent: ureq::Agent,
    base: String,
    registry: String,
    creds: Option<Credentials>,
    /// Authorization header values by scope.
    auth: Mutex<HashMap<String, String>>,
}

/// What a manifest GET returned.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// True for hosts Docker talks plain HTTP to without being told.
pub fn is_loopback(host: &str) -> bool {
    let h = host
        .rsplit_once(':')
        .map(|(h, p)| {
            if p.bytes().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
        .unwrap_or(host);
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h == "localhost" || h == "::1" || h.starts_with("127.")
}

impl Client {
    pub fn new(registry_host: &str, insecure: &[String], creds: Option<Credentials>) -> Client {
        let plain = is_loopback(registry_host) || insecure.iter().any(|i| i == registry_host);
        let base = format!("{}://{registry_host}", if plain { "http" } else { "https" });
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(120))
            .redirects(5)
            .build();
        Client {
            agent,
            base,
            registry: registry_host.to_string(),
            creds,
            auth: Mutex::new(HashMap::new()),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// Sends a request, answering a 401 challenge once for `scope`.
    fn send(
        &self,
        method: &str,
        path: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Option<&mut dyn Read>,
    ) -> Result<ureq::Response> {
        let mut body = body;
        for attempt in 0..2 {
            let mut req = self.agent.request(method, &self.url(path));
            for (k, v) in headers {
                req = req.set(k, v);
            }
            if let Some(a) = self.auth.lock().expect("lock").get(scope) {
                req = req.set("Authorization", a);
            }
            let result = match body.as_mut() {
                Some(b) => req.send(b),
                None => req.call(),
            };
            match result {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(401, r)) if attempt == 0 => {
                    let challenge = r.header("WWW-Authenticate").unwrap_or("").to_string();
                    let value = self.answer(&challenge, scope)?;
                    self.auth
                        .lock()
                        .expect("lock")
                        .insert(scope.to_string(), value);
                }
                Err(ureq::Error::Status(code, r)) => {
                    return Err(self.status_error(method, path, code, r));
                }
                Err(e) => return Err(Error::invalid(format!("registry {}", self.registry), e)),
            }
        }
        unreachable!("the loop returns")
    }

    fn status_error(&self, method: &str, path: &str, code: u16, r: ureq::Response) -> Error {
        let text = r.into_string().unwrap_or_default();
        let detail = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| text.trim().chars().take(200).collect());
        let what = match code {
            401 => "unauthorized: authentication required".to_string(),
            403 => "denied: requested access to the resource is denied".to_string(),
            404 => "not found".to_string(),
            _ => format!("HTTP {code}"),
        };
        Error::invalid(
            format!("registry {}: {method} {path}", self.registry),
            format!("{what}: {detail}"),
        )
    }

    /// The Authorization header that answers a WWW-Authenticate challenge.
    fn answer(&self, challenge: &str, scope: &str) -> Result<String> {
        let basic = || -> Result<String> {
            let c = self.creds.as_ref().ok_or_else(|| {
                Error::invalid(
                    format!("registry {}", self.registry),
                    "unauthorized: authentication required (berth login)",
                )
            })?;
            Ok(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", c.username, c.password))
            ))
        };
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return basic();
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::invalid(
                format!("registry {}", self.registry),
                format!("unsupported auth challenge {challenge:?}"),
            ));
        }
        let params = parse_params(params);
        let realm = params.get("realm").ok_or_else(|| {
            Error::invalid(
                format!("registry {}", self.registry),
                "bearer challenge without a realm",
            )
        })?;
        let mut req = self.agent.get(realm);
        if let Some(s) = params.get("service") {
            req = req.query("service", s);
        }
        if !scope.is_empty() {
            req = req.query("scope", scope);
        }
        if self.creds.is_some() {
            req = req.set("Authorization", &basic()?);
        }
        let resp = req
            .call()
            .map_err(|e| Error::invalid(format!("token service {realm}"), e))?;
        let text = resp
            .into_string()
            .map_err(|e| Error::invalid(format!("token service {realm}"), e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("token service {realm}"), e))?;
        let token = v["token"]
            .as_str()
            .or_else(|| v["access_token"].as_str())
            .ok_or_else(|| {
                Error::invalid(format!("token service {realm}"), "no token in the answer")
            })?;
        Ok(format!("Bearer {token}"))
    }

    /// Checks that the registry answers and the credentials (if any) work.
    pub fn ping(&self) -> Result<()> {
        self.send("GET", "/v2/", "", &[], None).map(|_| ())
    }

    pub fn get_manifest(&self, repo: &str, reference: &str) -> Result<Fetched> {
        let scope = format!("repository:{repo}:pull");
        let r = self.send(
            "GET",
            &format!("/v2/{repo}/manifests/{reference}"),
            &scope,
            &[("Accept", ACCEPT)],
            None,
        )?;
        let media_type = r.content_type().to_string();
        let mut bytes = Vec::new();
        r.into_reader()
            .take(8 << 20)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading manifest {repo}:{reference}"), e))?;
        let digest = Digest::of(&bytes);
        if let Ok(want) = reference.parse::<Digest>()
            && want != digest
        {
            return Err(Error::DigestMismatch {
                what: format!("manifest {repo}@{reference}"),
                expected: want.to_string(),
                actual: digest.to_string(),
            });
        }
        let media_type = if media_type.is_empty() || media_type == "application/json" {
            match manifest::parse(&bytes, None)? {
                manifest::Parsed::Index(_) => manifest::OCI_INDEX.to_string(),
                manifest::Parsed::Manifest(_) => manifest::OCI_MANIFEST.to_string(),
            }
        } else {
            media_type
        };
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    }

    /// A blob's bytes, streamed.
    pub fn blob(&self, repo: &str, digest: &Digest) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        let scope = format!("repository:{repo}:pull");
        let r = self.send(
            "GET",
            &format!("/v2/{repo}/blobs/{digest}"),
            &scope,
            &[],
            None,
        )?;
        let len = r.header("Content-Length").and_then(|l| l.parse().ok());
        Ok((Box::new(r.into_reader()), len))
    }

    pub fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let scope = format!("repository:{repo}:pull,push");
        match self.send(
            "HEAD",
            &format!("/v2/{repo}/blobs/{digest}"),
            &scope,
            &[],
            None,
        ) {
            Ok(_) => Ok(true),
            Err(e) if e.to_string().contains("not found") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Asks the registry to link a blob it has in `from` into `repo`; false
    /// when it would rather have an upload.
    pub fn mount_blob(&self, repo: &str, digest: &Digest, from: &str) -> Result<bool> {
        let scope = format!("repository:{repo}:pull,push repository:{from}:pull");
        let r = self.send(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"),
            &scope,
            &[("Content-Length", "0")],
            Some(&mut std::io::empty()),
        )?;
        Ok(r.status() == 201)
    }

    /// Uploads a blob in one PUT.
    pub fn upload_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        data: &mut dyn Read,
    ) -> Result<()> {
        let scope = format!("repository:{repo}:pull,push");
        let start = self.send(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &scope,
            &[("Content-Length", "0")],
            Some(&mut std::io::empty()),
        )?;
        let location = start
            .header("Location")
            .ok_or_else(|| {
                Error::invalid(
                    format!("registry {}", self.registry),
                    "upload without a Location",
                )
            })?
            .to_string();
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let len = size.to_string();
        self.send(
            "PUT",
            &url,
            &scope,
            &[
                ("Content-Type", "application/octet-stream"),
                ("Content-Length", &len),
            ],
            Some(data),
        )?;
        Ok(())
    }

    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        let scope = format!("repository:{repo}:pull,push");
        let len = bytes.len().to_string();
        self.send(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &scope,
            &[("Content-Type", media_type), ("Content-Length", &len)],
            Some(&mut &bytes[..]),
        )?;
        Ok(Digest::of(bytes))
    }
}

/// `realm="...",service="...",scope="..."`.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, v)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (val, tail) = if let Some(v) = v.strip_prefix('"') {
            match v.find('"') {
                Some(end) => (&v[..end], &v[end + 1..]),
                None => (v, ""),
            }
        } else {
            v.split_once(',').unwrap_or((v, ""))
        };
        out.insert(k, val.to_string());
        rest = tail.trim_start_matches(',').trim();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_hosts() {
        let p = parse_params(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        assert_eq!(p["scope"], "repository:library/busybox:pull");
        assert!(
            is_loopback("localhost:5000")
                && is_loopback("127.0.0.1:5000")
                && is_loopback("[::1]:5000")
        );
        assert!(!is_loopback("registry.example.com:5000") && !is_loopback("docker.io"));
    }
}
