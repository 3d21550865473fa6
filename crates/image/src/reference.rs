//! Image references with Docker's normalization: `busybox` is
//! `docker.io/library/busybox:latest`; `host:port/path/name:tag@sha256:...`.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The longest name (registry and repository) Docker accepts.
const NAME_MAX: usize = 255;
const DOCKER_HUB: &str = "docker.io";

/// A parsed, normalized image reference.
///
/// The grammar is distribution's (`reference/regexp.go`), checked by hand
/// rather than with oci-spec's `Reference`: that one compiles a Unicode
/// regex on first use, which cost every CLI run several milliseconds and
/// the daemon 17 MB of peak heap.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef> {
        let bad = |reason: &str| Error::InvalidReference {
            reference: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(bad("repository name must have at least one component"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => (rest, Some(d)),
            None => (s, None),
        };
        // A tag follows the last colon only when no slash comes after it:
        // `host:5000/app` has a port, not a tag.
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if !valid_name(name) {
            return Err(bad("invalid reference format"));
        }
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(bad("invalid tag format"));
        }
        if let Some(d) = digest {
            // Only what the content store can address.
            d.parse::<Digest>().map_err(|e| bad(&e.to_string()))?;
        }
        let (registry, repository) = split_domain(name);
        // Counted on the normalized name, as the docker CLI does.
        if registry.len() + 1 + repository.len() > NAME_MAX {
            return Err(bad("repository name must not be more than 255 characters"));
        }
        if repository.chars().any(|c| c.is_ascii_uppercase()) {
            // The grammar lets an uppercase first component pass as a host name;
            // Docker refuses it unless it is one (has a dot or a port).
            return Err(bad("repository name must be lowercase"));
        }
        let tag = match (tag, digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t.map(str::to_string),
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest: digest.map(str::to_string),
        })
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The registry host to contact (Docker Hub's API lives elsewhere).
    pub fn registry_host(&self) -> &str {
        match self.registry.as_str() {
            DOCKER_HUB => "index.docker.io",
            r => r,
        }
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<Digest> {
        self.digest.as_deref().and_then(|d| d.parse().ok())
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same name with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// The short form docker prints: `busybox:latest`, `localhost:5000/x:1`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// `familiar()` without tag or digest: `busybox`, `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            // `library/` goes only from an official image's one-part name.
            let r = &self.repository;
            match r.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => r.clone(),
            }
        } else {
            self.name()
        }
    }
}

/// `[domain/]path-component[/path-component]*`.
fn valid_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let first_ok = if rest.is_empty() {
        valid_path_component(first)
    } else {
        valid_path_component(first) || valid_domain(first)
    };
    first_ok && rest.iter().all(|p| valid_path_component(p))
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn valid_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]`, the host dot-separated labels of letters, digits and
/// inner hyphens.
fn valid_domain(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    host.split('.').all(label_ok) && port_ok
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// Docker's normalization: a first component is a registry only if it
/// looks like a host (a dot, a port, or `localhost`); Docker Hub's
/// official images live under `library/`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut rest) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = DOCKER_HUB.to_string();
    }
    if domain == DOCKER_HUB && !rest.contains('/') {
        rest = format!("library/{rest}");
    }
    (domain, rest)
}

impl fmt::Display for ImageRef {
    /// The fully qualified form, as stored.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<ImageRef> {
        ImageRef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_normalization() {
        let r = ImageRef::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar(), "busybox:latest");
        let r = ImageRef::parse("localhost:5000/team/app:1.2").unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository(), "team/app");
        assert_eq!(r.familiar(), "localhost:5000/team/app:1.2");
        let r = ImageRef::parse("user/app").unwrap();
        assert_eq!(r.to_string(), "docker.io/user/app:latest");
        assert_eq!(r.familiar(), "user/app:latest");
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = ImageRef::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.digest().unwrap().to_string(), d);
        assert_eq!(r.tag(), None);
        let r = ImageRef::parse("index.docker.io/busybox:1").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:1");
        assert_eq!(r.registry_host(), "index.docker.io");
        let r = ImageRef::parse("Sub-Dom1.foo.com/bar/baz/quux").unwrap();
        assert_eq!(r.registry(), "Sub-Dom1.foo.com");
        assert_eq!(r.repository(), "bar/baz/quux");
        assert_eq!(r.registry_host(), "Sub-Dom1.foo.com");
        for good in [
            "a__b",
            "a---b/c-d",
            "a.b_c/d",
            "x:1_tag.v-2",
            "localhost/app",
        ] {
            ImageRef::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        let r = ImageRef::parse(&format!("localhost:5000/app:v1@{d}")).unwrap();
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.familiar(), format!("localhost:5000/app:v1@{d}"));
        assert_eq!(r.with_tag("v2").to_string(), "localhost:5000/app:v2");
    }

    #[test]
    fn invalid_references_say_why() {
        for bad in [
            "",
            "UPPER/case",
            "a:b:c",
            "busybox@sha256:abc",
            "-leading",
            "name@md5:0123456789abcdef0123456789abcdef",
            "foo/",
            "/foo",
            "a_.b",
            "a___b",
            "repo:-tag",
            "repo:ta@g",
            "host:port/app",
            "-host.com/app",
            "caf\u{e9}",
            &format!("repo:{}", "t".repeat(129)),
            &"a".repeat(256),
        ] {
            let e = ImageRef::parse(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("invalid reference format"),
                "{bad}: {e}"
            );
        }
    }
}
