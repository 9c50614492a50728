//! `baton serve` as a child process on a free loopback port, and plain HTTP/1.1 to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `baton serve`; killed if dropped before [`Server::stop`] (a test that failed).
///
/// Its stderr is read all along by a thread of its own: a pipe nobody reads fills up (64 KiB),
/// and then the server blocks on its next log line, holding whatever it held (a job's lease).
pub struct Server {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// What it wrote to stderr before it said where it serves.
    pub early_stderr: String,
}

impl Server {
    /// `baton --db DB GLOBAL… serve --listen 127.0.0.1:0`; returns once it listens.
    pub fn start(db: &Path, global: &[&str]) -> Server {
        Self::start_with(db, global, &[])
    }

    /// [`Server::start`] with these options of `serve` (a node's `--node`, `--lease`).
    pub fn start_with(db: &Path, global: &[&str], serve: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("--db")
            .arg(db)
            .args(global)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(serve)
            .env_remove("BATON_DB")
            .env_remove("BATON_LOG_FORMAT")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("baton serve starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut early_stderr = String::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("baton serve ended before it listened: {early_stderr}");
            }
            if let Some(rest) = line.strip_prefix("baton: serving the API on http://") {
                let address = rest.split_whitespace().next().unwrap().to_owned();
                let stderr = std::thread::spawn(move || drain(stderr));
                return Server {
                    child,
                    stderr,
                    address,
                    early_stderr,
                };
            }
            early_stderr.push_str(&line);
        }
    }

    /// One request on a new connection; the whole answer (head and body) as text.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> String {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let content = body
            .map(|b| {
                format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    b.len()
                )
            })
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}{content}Connection: close\r\n\r\n{}",
            self.address,
            body.unwrap_or_default()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    /// A `GET` with `token`.
    pub fn get(&self, path: &str, token: Option<&str>) -> String {
        self.request("GET", path, token, None)
    }

    /// A `POST` of a JSON `body` with `token`; the answer's body, which must be 200's.
    #[track_caller]
    pub fn post_ok(&self, path: &str, token: &str, body: &str) -> String {
        let answer = self.request("POST", path, Some(token), Some(body));
        assert!(
            answer.starts_with("HTTP/1.1 200 OK\r\n"),
            "POST {path}: {answer}"
        );
        answer
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default()
    }

    /// Opens an event stream (`GET path`, which must answer 200).
    #[track_caller]
    pub fn events(&self, path: &str, token: &str) -> EventStream {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n", self.address).unwrap();
        let mut events = EventStream {
            stream,
            text: String::new(),
        };
        events.wait_for("\r\n\r\n");
        assert!(
            events.text.starts_with("HTTP/1.1 200 OK\r\n")
                && events.text.contains("content-type: text/event-stream"),
            "{}",
            events.text
        );
        events
    }

    /// SIGKILL (a node that dies), then waits for the exit.
    pub fn kill(mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit: its code and the rest of its stderr.
    pub fn stop(mut self) -> (Option<i32>, String) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = self.child.wait().unwrap();
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        (status.code(), stderr.join().unwrap_or_default())
    }
}

/// Everything `stderr` holds until it ends.
fn drain(mut stderr: BufReader<ChildStderr>) -> String {
    let mut all = Vec::new();
    let _ = stderr.read_to_end(&mut all);
    String::from_utf8_lossy(&all).into_owned()
}

impl Drop for Server {
    fn drop(&mut self) {
        // After `stop` the child was waited for, and this does nothing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a test waits for an event it expects before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// An open server-sent event stream: everything read from it so far.
pub struct EventStream {
    stream: TcpStream,
    pub text: String,
}

impl EventStream {
    /// Reads until `needle` appears in what was read (failing after [`PATIENCE`]); returns
    /// what was read from its first appearance on.
    #[track_caller]
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut buffer = [0u8; 8192];
        loop {
            if let Some(at) = self.text.find(needle) {
                return self.text[at..].to_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "`{needle}` never came; the stream so far:\n{}",
                self.text
            );
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buffer) {
                Ok(0) => panic!("the stream ended before `{needle}`:\n{}", self.text),
                Ok(n) => self.text.push_str(&String::from_utf8_lossy(&buffer[..n])),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("reading the stream: {e}"),
            }
        }
    }

    /// The `data` of each event of type `name` read so far, as JSON.
    pub fn data_of(&self, name: &str) -> Vec<serde_json::Value> {
        let mut found = Vec::new();
        let mut current: Option<&str> = None;
        for line in self.text.lines() {
            if let Some(event) = line.strip_prefix("event: ") {
                current = Some(event);
            } else if let (Some(data), Some(event)) = (line.strip_prefix("data: "), current) {
                if event == name {
                    found
                        .push(serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}")));
                }
            }
        }
        found
    }
}
