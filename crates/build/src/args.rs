//! ARG: the values in scope for a stage, from `--build-arg`, defaults, the
//! ARGs before the first FROM and the platform args BuildKit predefines.

use std::collections::{BTreeMap, BTreeSet};

/// Build args usable in RUN without an ARG, kept out of the image's
/// history and the cache key as Docker keeps them.
pub const PROXY_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The platform args BuildKit defines for every build (this host only).
pub fn platform_args() -> BTreeMap<String, String> {
    let arch = crate::config::host_arch();
    let platform = format!("linux/{arch}");
    [
        ("TARGETPLATFORM", platform.as_str()),
        ("TARGETOS", "linux"),
        ("TARGETARCH", arch),
        ("TARGETVARIANT", ""),
        ("BUILDPLATFORM", platform.as_str()),
        ("BUILDOS", "linux"),
        ("BUILDARCH", arch),
        ("BUILDVARIANT", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The `--build-arg`s of a build, and which of them an ARG used.
#[derive(Debug, Default)]
pub struct Given {
    pub values: BTreeMap<String, Option<String>>,
    pub used: BTreeSet<String>,
}

impl Given {
    /// The value given for `name`, marking it used.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let v = self.values.get(name).cloned().flatten();
        if self.values.contains_key(name) {
            self.used.insert(name.to_string());
        }
        v
    }

    /// Given but never declared by an ARG (Docker warns of them).
    pub fn unused(&self) -> Vec<String> {
        self.values
            .keys()
            .filter(|k| !self.used.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    /// Proxy args given: in every RUN's environment.
    pub fn proxies(&self) -> Vec<(String, String)> {
        PROXY_ARGS
            .iter()
            .filter_map(|k| {
                self.values
                    .get(*k)
                    .cloned()
                    .flatten()
                    .map(|v| (k.to_string(), v))
            })
            .collect()
    }
}
