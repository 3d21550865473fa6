//! Image references with Docker's normalization: `busybox` is
//! `docker.io/library/busybox:latest`; `host:port/path/name:tag@sha256:...`.

use std::fmt;
use std::str::FromStr;

use oci_spec::distribution::Reference;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// A parsed, normalized image reference.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ImageRef {
    inner: Reference,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef> {
        let inner = Reference::from_str(s).map_err(|e| Error::InvalidReference {
            reference: s.to_string(),
            reason: e.to_string(),
        })?;
        if inner.repository().chars().any(|c| c.is_ascii_uppercase()) {
            // The grammar lets an uppercase first component pass as a host name;
            // Docker refuses it unless it is one (has a dot or a port).
            return Err(Error::InvalidReference {
                reference: s.to_string(),
                reason: "repository name must be lowercase".into(),
            });
        }
        if let Some(d) = inner.digest() {
            // Only what the content store can address.
            d.parse::<Digest>().map_err(|e| Error::InvalidReference {
                reference: s.to_string(),
                reason: e.to_string(),
            })?;
        }
        Ok(ImageRef { inner })
    }

    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The registry host to contact (Docker Hub's API lives elsewhere).
    pub fn registry_host(&self) -> &str {
        self.inner.resolve_registry()
    }

    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    pub fn digest(&self) -> Option<Digest> {
        self.inner.digest().and_then(|d| d.parse().ok())
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry(), self.repository())
    }

    /// The same name with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            inner: Reference::with_tag(
                self.registry().into(),
                self.repository().into(),
                tag.into(),
            ),
        }
    }

    /// The short form docker prints: `busybox:latest`, `localhost:5000/x:1`.
    pub fn familiar(&self) -> String {
        let mut s = familiar_name(self.registry(), self.repository());
        if let Some(t) = self.tag() {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = self.inner.digest() {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// `familiar()` without tag or digest: `busybox`, `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        familiar_name(self.registry(), self.repository())
    }
}

fn familiar_name(registry: &str, repository: &str) -> String {
    if registry == "docker.io" {
        repository
            .strip_prefix("library/")
            .unwrap_or(repository)
            .to_string()
    } else {
        format!("{registry}/{repository}")
    }
}

impl fmt::Display for ImageRef {
    /// The fully qualified form, as stored.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
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
        ] {
            let e = ImageRef::parse(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("invalid reference format"),
                "{bad}: {e}"
            );
        }
    }
}
