#![forbid(unsafe_code)]
//! Finding and talking to the engine: the Docker Engine API on a unix socket.
//!
//! The host is `-H/--host`, else `BERTH_HOST`, else `unix:///run/berth/berth.sock`
//! (DOCKER_HOST is docker's and is never read). When that socket does not answer
//! the CLI starts `berth daemon` in the background, as its own session, and waits
//! for `GET /_ping`.
//!
//! Requests go through bollard, whose API version is the lower of its own and the
//! one the engine announces in `_ping`'s `API-Version` header (bollard's own
//! negotiation asks `/v<its version>/version`, which an older dockerd refuses).
//! Three kinds of calls use the small raw HTTP/1.1 client below instead, because
//! they need what bollard does not give: hijacked streams (attach, exec start),
//! where bollard guesses the framing from the first byte and holds tty output back
//! until a newline; `wait`, where the daemon answers the headers once the wait is
//! registered, which `run` must know before it starts the container; and inspect,
//! whose JSON is printed as the daemon sent it.

pub mod build_context;
pub mod credentials;
pub mod frames;

/// The Engine API's wire types, as the server sends them.
pub use berth_models as models;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bollard::{ClientVersion, Docker};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// Where the engine listens when neither -H nor BERTH_HOST says.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";
/// How long an autostarted engine may take to answer `_ping`.
const AUTOSTART_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `wait` may take to answer its headers (moby does at once).
const WAIT_HEADERS_TIMEOUT: Duration = Duration::from_secs(5);
/// bollard's per-request timeout (until the response headers): none in effect,
/// as with docker's CLI (`stop -t 600` waits for its headers that long).
const NO_TIMEOUT_SECS: u64 = 10 * 365 * 24 * 3600;

/// An error the engine answered with: its status and `message`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// The engine's message for a failed call (bollard's or ours), as an anyhow error
/// that still holds the [`ApiError`] when the engine answered.
pub fn api_err(e: bollard::errors::Error) -> anyhow::Error {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => anyhow::Error::new(ApiError {
            status: status_code,
            message,
        }),
        bollard::errors::Error::DockerContainerWaitError { error, code } => {
            anyhow!("container exited with code {code}: {error}")
        }
        other => anyhow!("talking to the engine: {other}"),
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The engine's status for this error, if the engine answered.
pub fn status_of(e: &anyhow::Error) -> Option<u16> {
    e.downcast_ref::<ApiError>().map(|a| a.status)
}

/// How to reach the engine, before connecting.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// As given: `unix:///path`.
    pub host: String,
    pub socket: PathBuf,
    /// Named with -H: an engine someone else runs (a dockerd, say), never
    /// one to start.
    pub explicit: bool,
}

impl HostSpec {
    /// -H, then BERTH_HOST, then the default.
    pub fn resolve(flag: Option<&str>) -> Result<HostSpec> {
        let explicit = flag.is_some();
        let host = match flag {
            Some(h) => h.to_string(),
            None => match std::env::var("BERTH_HOST") {
                Ok(h) if !h.is_empty() => h,
                _ => DEFAULT_HOST.to_string(),
            },
        };
        let socket = host
            .strip_prefix("unix://")
            .filter(|p| p.starts_with('/'))
            .ok_or_else(|| {
                anyhow!("invalid host {host:?}: only unix:///absolute/path sockets are supported")
            })?;
        Ok(HostSpec {
            socket: PathBuf::from(socket),
            host,
            explicit,
        })
    }
}

/// A connected engine: bollard for the API, the socket for raw calls.
#[derive(Clone)]
pub struct Engine {
    pub docker: Docker,
    pub socket: PathBuf,
    pub host: String,
    /// The negotiated API version, "1.41".
    pub api_version: String,
}

impl Engine {
    /// Connects, starting `berth daemon` first if the socket does not answer
    /// and `autostart` allows.
    pub async fn connect(spec: &HostSpec, data_root: &Path, autostart: bool) -> Result<Engine> {
        let ping = match ping(&spec.socket).await {
            Ok(v) => v,
            Err(e) if autostart && !spec.explicit && is_absent(&e) => {
                start_daemon(spec, data_root).await?
            }
            Err(e) => {
                return Err(anyhow!(
                    "Cannot connect to the berth engine at {}. Is the berth daemon running? ({e})",
                    spec.host
                ));
            }
        };
        // No API-Version in _ping: 1.41 (dockerd 20.10's), which berth serves.
        let server = parse_version(&ping).unwrap_or(ClientVersion {
            major_version: 1,
            minor_version: 41,
        });
        let client = bollard::API_DEFAULT_VERSION;
        let v = if (server.major_version, server.minor_version)
            < (client.major_version, client.minor_version)
        {
            server
        } else {
            ClientVersion {
                major_version: client.major_version,
                minor_version: client.minor_version,
            }
        };
        let api_version = format!("{}.{}", v.major_version, v.minor_version);
        let docker = Docker::connect_with_unix(&spec.host, NO_TIMEOUT_SECS, &v)
            .map_err(|e| anyhow!("cannot use {}: {e}", spec.host))?;
        Ok(Engine {
            docker,
            socket: spec.socket.clone(),
            host: spec.host.clone(),
            api_version,
        })
    }

    /// `/v<version><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("/v{}{}", self.api_version, path)
    }

    /// A request whose body is read whole; non-2xx become [`ApiError`].
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>> {
        let mut resp =
            RawResponse::send(&self.socket, method, &self.url(path), body, false).await?;
        let data = resp.body().await?;
        if !(200..300).contains(&resp.status) {
            return Err(error_from_body(resp.status, &data));
        }
        Ok(data)
    }

    /// A POST of a JSON body whose JSON answer is returned.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let data = self.call("POST", path, Some(body)).await?;
        if data.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&data)
            .with_context(|| format!("decoding the engine's answer to POST {path}"))
    }

    /// A GET whose JSON body is returned as the engine wrote it.
    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let data = self.call("GET", path, None).await?;
        serde_json::from_slice(&data)
            .with_context(|| format!("decoding the engine's answer to GET {path}"))
    }

    /// A request whose body is read as it comes (logs, events); non-2xx
    /// become [`ApiError`].
    pub async fn stream(&self, method: &str, path: &str) -> Result<BodyStream> {
        let mut resp =
            RawResponse::send(&self.socket, method, &self.url(path), None, false).await?;
        if !(200..300).contains(&resp.status) {
            let data = resp.body().await?;
            return Err(error_from_body(resp.status, &data));
        }
        let mode = BodyMode::of(&resp);
        Ok(BodyStream {
            resp,
            mode,
            buf: vec![0; 32 * 1024],
        })
    }

    /// A request with headers and a body of its choosing, whose answer is
    /// read as it comes (pull and push progress, load, save); non-2xx become
    /// [`ApiError`].
    pub async fn stream_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: RequestBody,
    ) -> Result<BodyStream> {
        let mut resp =
            RawResponse::send_with(&self.socket, method, &self.url(path), headers, body, false)
                .await?;
        if !(200..300).contains(&resp.status) {
            let data = resp.body().await?;
            return Err(error_from_body(resp.status, &data));
        }
        let mode = BodyMode::of(&resp);
        Ok(BodyStream {
            resp,
            mode,
            buf: vec![0; 32 * 1024],
        })
    }

    /// A hijacked stream (attach, exec start): the raw two-way connection after
    /// the engine's `101 UPGRADED` (or 200 from old engines).
    pub async fn hijack(&self, path: &str, body: Option<&serde_json::Value>) -> Result<Hijacked> {
        let mut resp = RawResponse::send(&self.socket, "POST", &self.url(path), body, true).await?;
        if resp.status != 101 && resp.status != 200 {
            let data = resp.body().await?;
            return Err(error_from_body(resp.status, &data));
        }
        Ok(Hijacked {
            read: resp.reader,
            write: resp.writer,
        })
    }

    /// `POST /containers/{id}/wait?condition=...`: returns once the engine has
    /// registered the wait (moby answers the headers then, before the exit);
    /// the future gives the exit code. An engine that holds its headers until
    /// the exit is given [`WAIT_HEADERS_TIMEOUT`], then the caller goes on.
    pub async fn wait_registered(
        &self,
        id: &str,
        condition: &str,
    ) -> Result<impl std::future::Future<Output = Result<i64>> + use<>> {
        let path = format!("/containers/{id}/wait?condition={condition}");
        let socket = self.socket.clone();
        let url = self.url(&path);
        let (head_tx, head_rx) = tokio::sync::oneshot::channel::<Result<()>>();
        let task = tokio::spawn(async move {
            let mut resp = match RawResponse::send(&socket, "POST", &url, None, false).await {
                Ok(r) => r,
                Err(e) => {
                    let msg = format!("{e:#}");
                    let _ = head_tx.send(Err(e));
                    return Err(anyhow!("{msg}"));
                }
            };
            if !(200..300).contains(&resp.status) {
                let data = resp.body().await.unwrap_or_default();
                let err = error_from_body(resp.status, &data);
                let msg = format!("{err:#}");
                let _ = head_tx.send(Err(err));
                return Err(anyhow!("{msg}"));
            }
            let _ = head_tx.send(Ok(()));
            let data = resp.body().await?;
            let v: serde_json::Value = serde_json::from_slice(&data).with_context(|| {
                format!(
                    "decoding the wait answer {:?}",
                    String::from_utf8_lossy(&data)
                )
            })?;
            if let Some(msg) = v.pointer("/Error/Message").and_then(|m| m.as_str())
                && !msg.is_empty()
            {
                bail!("{msg}");
            }
            Ok(v["StatusCode"].as_i64().unwrap_or(0))
        });
        // Headers, a refusal, or the timeout: only the refusal stops us.
        if let Ok(Ok(Err(e))) = tokio::time::timeout(WAIT_HEADERS_TIMEOUT, head_rx).await {
            return Err(e);
        }
        Ok(async move {
            match task.await {
                Ok(r) => r,
                Err(e) => Err(anyhow!("waiting for the container: {e}")),
            }
        })
    }
}

/// What a raw request sends.
pub enum RequestBody {
    Empty,
    Json(Vec<u8>),
    /// Sent as it is read, chunked (an archive to load, a tarball to import).
    Stream(Box<dyn tokio::io::AsyncRead + Unpin + Send>),
}

/// Both halves of a hijacked connection.
pub struct Hijacked {
    pub read: BufReader<OwnedReadHalf>,
    pub write: OwnedWriteHalf,
}

fn error_from_body(status: u16, data: &[u8]) -> anyhow::Error {
    let message = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(data).trim().to_string());
    anyhow::Error::new(ApiError { status, message })
}

/// True when nothing listens: the socket file is missing or refuses.
fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    )
}

/// `GET /_ping`: the `API-Version` header (empty if absent).
async fn ping(socket: &Path) -> std::io::Result<String> {
    let mut resp = RawResponse::send(socket, "GET", "/_ping", None, false)
        .await
        .map_err(|e| match e.downcast::<std::io::Error>() {
            Ok(io) => io,
            Err(e) => std::io::Error::other(e.to_string()),
        })?;
    let _ = resp.body().await;
    if resp.status != 200 {
        return Err(std::io::Error::other(format!(
            "_ping answered {}",
            resp.status
        )));
    }
    Ok(resp.header("api-version").unwrap_or_default().to_string())
}

fn parse_version(s: &str) -> Option<ClientVersion> {
    let (a, b) = s.trim().split_once('.')?;
    Some(ClientVersion {
        major_version: a.parse().ok()?,
        minor_version: b.parse().ok()?,
    })
}

/// Starts `berth daemon` detached (own session, stdin null, output to a log
/// next to the socket) and waits for it to answer.
async fn start_daemon(spec: &HostSpec, data_root: &Path) -> Result<String> {
    let dir = spec.socket.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let log_path = dir.join("berth-daemon.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let exe = std::env::current_exe().context("finding the berth executable")?;
    eprintln!("berth: starting the engine (log: {})", log_path.display());
    let mut cmd = Command::new(&exe);
    cmd.arg("--data-root")
        .arg(data_root)
        .arg("daemon")
        .arg("-H")
        .arg(&spec.host)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    berth_sys::spawn_in_new_session(&mut cmd);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {} daemon", exe.display()))?;
    let deadline = Instant::now() + AUTOSTART_TIMEOUT;
    loop {
        match ping(&spec.socket).await {
            Ok(v) => {
                // Reaped by init once we exit; nothing to wait for.
                drop(child);
                return Ok(v);
            }
            Err(e) => {
                if let Ok(Some(status)) = child.try_wait() {
                    bail!(
                        "the engine exited during startup ({status}); see {}",
                        log_path.display()
                    );
                }
                if Instant::now() >= deadline {
                    bail!(
                        "the engine did not answer on {} within {}s ({e}); see {}",
                        spec.host,
                        AUTOSTART_TIMEOUT.as_secs(),
                        log_path.display()
                    );
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A response body read as it arrives.
pub struct BodyStream {
    resp: RawResponse,
    mode: BodyMode,
    buf: Vec<u8>,
}

enum BodyMode {
    /// Bytes left in the current chunk (0: read the next size line).
    Chunked(usize),
    Length(usize),
    ToEof,
    Done,
}

impl BodyStream {
    /// The next bytes of the body; None at its end.
    pub async fn next(&mut self) -> Result<Option<&[u8]>> {
        let n = self.mode.read(&mut self.resp.reader, &mut self.buf).await?;
        Ok((n > 0).then(|| &self.buf[..n]))
    }
}

impl BodyMode {
    /// How the response's body is framed.
    fn of(resp: &RawResponse) -> BodyMode {
        if resp
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            BodyMode::Chunked(0)
        } else if let Some(n) = resp.header("content-length").and_then(|n| n.parse().ok()) {
            BodyMode::Length(n)
        } else if resp.status == 204 || resp.status == 304 {
            BodyMode::Done
        } else {
            BodyMode::ToEof
        }
    }

    /// Reads the body's next bytes into `buf`; 0 at its end.
    async fn read(&mut self, r: &mut BufReader<OwnedReadHalf>, buf: &mut [u8]) -> Result<usize> {
        let want = match *self {
            BodyMode::Done => return Ok(0),
            BodyMode::Chunked(0) => {
                let mut line = String::new();
                if r.read_line(&mut line).await? == 0 {
                    *self = BodyMode::Done;
                    return Ok(0);
                }
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| anyhow!("bad chunk size {line:?}"))?;
                if size == 0 {
                    *self = BodyMode::Done;
                    return Ok(0);
                }
                *self = BodyMode::Chunked(size);
                size
            }
            BodyMode::Chunked(n) | BodyMode::Length(n) => n,
            BodyMode::ToEof => buf.len(),
        };
        if want == 0 {
            *self = BodyMode::Done;
            return Ok(0);
        }
        let cap = want.min(buf.len());
        let n = r.read(&mut buf[..cap]).await?;
        if n == 0 {
            *self = BodyMode::Done;
            return Ok(0);
        }
        match *self {
            BodyMode::Chunked(left) => {
                let left = left - n;
                if left == 0 {
                    let mut crlf = String::new();
                    r.read_line(&mut crlf).await?;
                }
                *self = BodyMode::Chunked(left);
            }
            BodyMode::Length(left) => *self = BodyMode::Length(left - n),
            _ => {}
        }
        Ok(n)
    }
}

/// One HTTP/1.1 exchange on a fresh connection.
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl RawResponse {
    async fn send(
        socket: &Path,
        method: &str,
        target: &str,
        body: Option<&serde_json::Value>,
        upgrade: bool,
    ) -> Result<RawResponse> {
        let body = match body {
            Some(b) => RequestBody::Json(serde_json::to_vec(b).expect("JSON")),
            None => RequestBody::Empty,
        };
        Self::send_with(socket, method, target, &[], body, upgrade).await
    }

    async fn send_with(
        socket: &Path,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: RequestBody,
        upgrade: bool,
    ) -> Result<RawResponse> {
        let stream = UnixStream::connect(socket).await?;
        let (r, mut w) = stream.into_split();
        let mut req =
            format!("{method} {target} HTTP/1.1\r\nHost: berth\r\nUser-Agent: berth-cli\r\n");
        if upgrade {
            req.push_str("Connection: Upgrade\r\nUpgrade: tcp\r\n");
        } else {
            req.push_str("Connection: close\r\n");
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        match &body {
            RequestBody::Json(b) => req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            )),
            RequestBody::Stream(_) => {
                req.push_str("Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n")
            }
            RequestBody::Empty if method == "POST" => req.push_str("Content-Length: 0\r\n"),
            RequestBody::Empty => {}
        }
        req.push_str("\r\n");
        // Head and a JSON body in one write: an engine that answers without
        // reading the body (dockerd's Go server, then closing) must not find
        // us half-way, with EPIPE for our second write.
        let mut head = req.into_bytes();
        if let RequestBody::Json(b) = &body {
            head.extend_from_slice(b);
        }
        w.write_all(&head)
            .await
            .with_context(|| format!("sending {method} {target} to the engine"))?;
        let mut upload_error = None;
        match body {
            RequestBody::Json(_) => {}
            RequestBody::Stream(mut src) => {
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = src.read(&mut buf).await.context("reading the upload")?;
                    let chunk = &buf[..n];
                    let written = async {
                        if n == 0 {
                            return w.write_all(b"0\r\n\r\n").await;
                        }
                        w.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                        w.write_all(chunk).await?;
                        w.write_all(b"\r\n").await
                    }
                    .await;
                    // An engine that refuses an upload (too large, malformed)
                    // answers and closes before reading it all: our write
                    // then fails (EPIPE), and its answer is what to show.
                    if let Err(e) = written {
                        upload_error = Some(e);
                        break;
                    }
                    if n == 0 {
                        break;
                    }
                }
            }
            RequestBody::Empty => {}
        }
        if upload_error.is_none() {
            w.flush().await?;
        }
        let mut reader = BufReader::new(r);
        let mut line = String::new();
        let got = reader.read_line(&mut line).await;
        if let Some(e) = upload_error
            && !matches!(got, Ok(n) if n > 0)
        {
            // Said as a message, not as an io error: the CLI reads a
            // broken pipe as its own stdout closed, and says nothing.
            return Err(anyhow!("sending {method} {target} to the engine: {e}"));
        }
        got?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("the engine answered {target} with {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).await? == 0 {
                break;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        Ok(RawResponse {
            status,
            headers,
            reader,
            writer: w,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The whole body, however it is framed.
    async fn body(&mut self) -> Result<Vec<u8>> {
        let mut mode = BodyMode::of(self);
        let mut out = Vec::new();
        let mut buf = vec![0; 32 * 1024];
        loop {
            let n = mode.read(&mut self.reader, &mut buf).await?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
}

/// (rows, columns) of the terminal on stdout, else stdin: the size a
/// container's terminal is given.
pub fn terminal_size() -> Option<(u16, u16)> {
    [1, 0]
        .into_iter()
        .find_map(berth_sys::get_winsize)
        .filter(|(rows, _)| *rows > 0)
}
