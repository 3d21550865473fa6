//! Files from the web: `ADD https://...` and a context given by URL
//! (`POST /build?remote=`). Downloads stream to a file, their digest taken
//! on the way; a `--checksum` that does not match, a truncated body or an
//! HTTP error fails the step and leaves nothing.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// A downloaded file.
pub struct Fetched {
    pub path: PathBuf,
    /// `sha256:<hex>` of the content.
    pub digest: String,
    /// From `Last-Modified`, which Docker gives the file.
    pub modified: Option<SystemTime>,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(300))
        .redirects(10)
        .try_proxy_from_env(true)
        .build()
}

/// The name a URL's file gets in a directory: its path's last segment.
pub fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    after_host
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("index.html")
        .to_string()
}

/// Downloads `url` to `dest` (a new file), at most `limit` bytes.
pub fn fetch(url: &str, dest: &Path, limit: u64) -> Result<Fetched, String> {
    let resp = agent().get(url).call().map_err(|e| match e {
        ureq::Error::Status(code, r) => format!("downloading {url}: {code} {}", r.status_text()),
        other => format!("downloading {url}: {other}"),
    })?;
    let modified = resp.header("Last-Modified").and_then(httpdate);
    let expected = resp
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = resp.into_reader().take(limit + 1);
    let mut file = std::fs::File::create(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = body
            .read(&mut buf)
            .map_err(|e| format!("downloading {url}: {e}"))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(format!("downloading {url}: larger than {limit} bytes"));
        }
        hash.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    if let Some(len) = expected
        && len != total
    {
        return Err(format!(
            "downloading {url}: the body ended after {total} of {len} bytes"
        ));
    }
    let digest = format!(
        "sha256:{}",
        hash.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Ok(Fetched {
        path: dest.to_path_buf(),
        digest,
        modified,
    })
}

/// An HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`).
fn httpdate(v: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(v).ok().or_else(|| {
        // RFC 7231's IMF-fixdate, the form servers send.
        let parts: Vec<&str> = v.split_whitespace().collect();
        let [_, day, month, year, time, "GMT"] = parts[..] else {
            return None;
        };
        let month = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .iter()
        .position(|m| *m == month)?
            + 1;
        let stamp = format!("{year}-{month:02}-{day:0>2}T{time}Z");
        humantime::parse_rfc3339(&stamp).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dates() {
        assert_eq!(file_name("http://h:8/a/b/c.tar.gz?x=1"), "c.tar.gz");
        assert_eq!(file_name("https://h/dir/"), "dir");
        assert_eq!(file_name("https://h"), "index.html");
        let t = httpdate("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            humantime::format_rfc3339(t).to_string(),
            "2015-10-21T07:28:00Z"
        );
        assert!(httpdate("yesterday").is_none());
    }
}
