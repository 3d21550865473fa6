//! Helpers shared by the image and registry tests.
#![allow(dead_code)]

pub mod berthd;
pub mod dockerd;
pub mod engine;
pub mod netns;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::{OutputExt, busybox_rootfs, require_tool};

/// A data root and the private daemon over it that the `berth` verbs talk
/// to (started at the first verb, stopped on drop): the CLI keeps no image
/// state of its own.
pub struct Store {
    dir: tempfile::TempDir,
    daemon: std::cell::RefCell<Option<Child>>,
}

impl Store {
    pub fn new() -> Store {
        Store {
            dir: tempfile::tempdir().unwrap(),
            daemon: std::cell::RefCell::new(None),
        }
    }

    /// The API socket the verbs use (and a [`berthd::Berthd`] serves).
    pub fn host(&self) -> String {
        format!("unix://{}", self.path("api.sock"))
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.path("api.sock")) else {
            return false;
        };
        let mut buf = String::new();
        s.write_all(b"GET /_ping HTTP/1.0\r\n\r\n").is_ok()
            && s.read_to_string(&mut buf).is_ok()
            && buf.contains("200 OK")
    }

    /// Starts the store's own daemon unless one answers on its socket.
    pub fn ensure_daemon(&self) {
        if self.answers() {
            return;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("store-daemon.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("--data-root")
            .arg(self.root())
            .args([
                "daemon",
                "-H",
                &self.host(),
                "--exec-root",
                &self.path("exec"),
                // No default bridge: parallel test daemons share the host.
                "--bridge",
                "none",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        *self.daemon.borrow_mut() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "the store's daemon did not start: {}",
                std::fs::read_to_string(self.path("store-daemon.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the store's own daemon (a [`berthd::Berthd`] takes the root over).
    pub fn stop_daemon(&self) {
        if let Some(mut c) = self.daemon.borrow_mut().take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.wait();
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn berth(&self, args: &[&str]) -> Output {
        self.berth_cmd(args).output().unwrap()
    }

    /// The command, for a caller that sets more (stdin, environment).
    pub fn berth_cmd(&self, args: &[&str]) -> Command {
        self.ensure_daemon();
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        // Credentials stay in this store's own Docker config.
        c.env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env("BERTH_NO_AUTOSTART", "1")
            .env_remove("BERTH_HOST");
        c.arg("--data-root")
            .arg(self.root())
            .arg("-H")
            .arg(self.host())
            .args(args);
        c
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// A busybox root filesystem as a tarball, imported as `tag`.
    pub fn import_busybox(&self, tag: &str) -> String {
        self.import_busybox_with(tag, &[])
    }

    /// [`Store::import_busybox`] with more `import -c` changes (after its
    /// `CMD ["sh"]` and `ENV GREETING=hello`), e.g. `LABEL a=b`.
    pub fn import_busybox_with(&self, tag: &str, changes: &[&str]) -> String {
        let rootfs = self.dir.path().join("rootfs");
        if !rootfs.exists() {
            busybox_rootfs(&rootfs).unwrap();
        }
        let tar = self.path("rootfs.tar");
        let ok = Command::new("tar")
            .args(["-C", &rootfs.to_string_lossy(), "-cf", &tar, "."])
            .status()
            .unwrap();
        assert!(ok.success());
        let mut args = vec!["import", "-c", "CMD [\"sh\"]", "-c", "ENV GREETING=hello"];
        for c in changes {
            args.extend(["-c", c]);
        }
        args.extend([tar.as_str(), tag]);
        let out = self.berth(&args);
        out.assert_success();
        out.stdout_str().trim().to_string()
    }

    pub fn snapshot_dirs(&self) -> Vec<String> {
        std::fs::read_dir(self.root().join("snapshots"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop_daemon();
        berth_testkit::kill_strays(self.dir.path());
    }
}

/// The file tree under `dir`: path, mode, size, owner, type; sorted.
pub fn tree(dir: &Path) -> String {
    let out = Command::new("find")
        .arg(".")
        .args(["-printf", "%p %m %s %U %G %y %l\\n"])
        .current_dir(dir)
        .output()
        .unwrap();
    let mut lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    lines.sort();
    lines.join("\n")
}

/// Runs `cmd` in the image, through the store's daemon (`run --rm`, with
/// the hostname `berth-test`).
pub fn run_image(store: &Store, image: &str, cmd: &[&str]) -> Output {
    let mut args = vec!["run", "--rm", "--hostname", "berth-test", image];
    args.extend_from_slice(cmd);
    store.berth(&args)
}

/// A registry process on 127.0.0.1, stopped on drop.
pub struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start(htpasswd: Option<(&str, &str)>) -> Option<Registry> {
        let bin = require_tool("docker-registry")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, pass)) = htpasswd {
            let file = dir.path().join("htpasswd");
            let out = Command::new(require_tool("htpasswd")?)
                .args(["-Bbn", user, pass])
                .output()
                .unwrap();
            out.assert_success();
            std::fs::write(&file, out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                file.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let r = Registry {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(r)
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
