//! Real headless Chromium, driven over WebDriver (the `fantoccini` crate and Debian's
//! `chromedriver`), for the web UI's tests. Without `chromium` or `chromedriver` on `PATH` a
//! test skips, saying so; under `CI` that is a failure instead (CI installs both).

#![allow(dead_code)] // each browser test file uses some of these

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// How long a test waits for a page to show what it expects before it fails (a guard against
/// a hang, not a measure: each wait ends as soon as the page shows it).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// `name` on `PATH`, if it is there.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// Where the screenshots go: `target/browser-screenshots/` of the target directory the test
/// binary was built in (`target/debug/deps/browser-…`).
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary is in target/PROFILE/deps");
    target.join("browser-screenshots")
}

/// A headless Chromium and the chromedriver it runs under; both are ended when it is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    /// `http://127.0.0.1:PORT` of the server under test.
    base: String,
    /// What the screenshots of this test file are named after.
    file: &'static str,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and Chromium under it, headless, on a profile
    /// of its own, to test the server at `address` (`127.0.0.1:PORT`); `None` (with a message)
    /// when either is missing outside CI.
    pub async fn start(file: &'static str, address: &str) -> Option<Browser> {
        let (chromium, chromedriver) = match (on_path("chromium"), on_path("chromedriver")) {
            (Some(chromium), Some(chromedriver)) => (chromium, chromedriver),
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "chromium and chromedriver are not on PATH, and CI must run the browser tests"
                )
            }
            _ => {
                eprintln!("skipped: install chromium and chromedriver (Debian: apt-get install chromium chromium-driver) to run the web UI's browser tests");
                return None;
            }
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // In a process group of its own, with the Chromium it starts: a failed test ends both.
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", format!("--user-data-dir={}", profile.path().display())],
            }
        });
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities.as_object().unwrap().clone());
        // chromedriver listens a moment after it starts: connect until it answers.
        let deadline = Instant::now() + PATIENCE;
        let client = loop {
            match builder.connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        std::fs::create_dir_all(screenshot_dir()).unwrap();
        Some(Browser {
            client,
            driver,
            _profile: profile,
            base: format!("http://{address}"),
            file,
        })
    }

    /// Opens the UI at `hash` (`#/inbox`; empty for the start page), loading the page anew.
    pub async fn open(&self, hash: &str) {
        self.client
            .goto(&format!("{}/{hash}", self.base))
            .await
            .unwrap();
    }

    /// Goes to `hash` within the page, as a link does (no reload).
    pub async fn go(&self, hash: &str) {
        self.client
            .execute("location.hash = arguments[0];", vec![json!(hash)])
            .await
            .unwrap();
    }

    /// The element `css` selects once the page has one (failing after [`PATIENCE`], with a
    /// screenshot and what the page shows).
    pub async fn wait(&self, css: &str) -> Element {
        self.wait_for(Locator::Css(css), css).await
    }

    /// The first `css` element whose text contains `text`, once the page has one.
    pub async fn wait_text(&self, css: &str, text: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
                if element.text().await.is_ok_and(|t| t.contains(text)) {
                    return element;
                }
            }
            if Instant::now() > deadline {
                self.fail(&format!("no `{css}` with text `{text}`")).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for(&self, locator: Locator<'_>, what: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .every(Duration::from_millis(50))
            .for_element(locator)
            .await
        {
            Ok(element) => element,
            Err(e) => self.fail(&format!("no `{what}`: {e}")).await,
        }
    }

    /// Fails the test with a screenshot (`failed-…png`) and the page's status line and text.
    pub async fn fail(&self, why: &str) -> ! {
        self.screenshot("failed").await;
        let page = self
            .client
            .execute(
                "return document.getElementById('status').textContent + '\\n---\\n' + document.body.innerText;",
                vec![],
            )
            .await
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        panic!("{why}; the page shows:\n{page}");
    }

    /// Saves what the browser shows as `target/browser-screenshots/FILE-NAME.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let path = screenshot_dir().join(format!("{}-{name}.png", self.file));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Does `act` on the element `find` finds, finding it again when the page redrew it in
    /// between (a live page redraws as the server's events come).
    async fn on_element<'a, F, A>(&'a self, what: &str, find: F, act: A)
    where
        F: AsyncFn(&'a Browser) -> Element,
        A: AsyncFn(Element) -> Result<(), fantoccini::error::CmdError>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match act(find(self).await).await {
                Ok(()) => return,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => self.fail(&format!("{what}: {e}")).await,
            }
        }
    }

    /// Types `text` into the field `css` selects, after emptying it.
    pub async fn fill(&self, css: &str, text: &str) {
        self.on_element(
            css,
            async |b| b.wait(css).await,
            async |field| {
                field.clear().await?;
                field.send_keys(text).await
            },
        )
        .await
    }

    /// Picks the option of value `value` in the select `css` selects.
    pub async fn select(&self, css: &str, value: &str) {
        self.on_element(
            css,
            async |b| b.wait(css).await,
            async |field| field.select_by_value(value).await,
        )
        .await
    }

    /// Presses `key` (a WebDriver key, e.g. `\u{E007}` for Enter) on the element `css` selects.
    pub async fn press(&self, css: &str, key: &str) {
        self.on_element(
            css,
            async |b| b.wait(css).await,
            async |e| e.send_keys(key).await,
        )
        .await
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.on_element(css, async |b| b.wait(css).await, async |e| e.click().await)
            .await
    }

    /// Clicks the first `css` element whose text contains `text`.
    pub async fn click_text(&self, css: &str, text: &str) {
        self.on_element(
            css,
            async |b| b.wait_text(css, text).await,
            async |e| e.click().await,
        )
        .await
    }

    /// Fails when an input, select or textarea on the page has no label (a `<label>` for it or
    /// around it, `aria-label` or `aria-labelledby`): a screen reader would read it unnamed.
    pub async fn assert_labelled(&self, page: &str) {
        let unlabelled = self
            .client
            .execute(
                "return [...document.querySelectorAll('input, select, textarea')]
                   .filter((e) => e.type !== 'hidden' && e.labels.length === 0
                     && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
                   .map((e) => e.outerHTML);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(unlabelled, json!([]), "{page}: inputs without a label");
    }

    /// Presses Tab (as a keyboard user does) and answers the element that then has the focus,
    /// with the width of its focus outline (`0px` when it shows none).
    pub async fn tab(&self) -> (Element, String) {
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys("\u{E004}")
            .await
            .unwrap();
        let focused = self.client.active_element().await.unwrap();
        let outline = self
            .client
            .execute(
                "const s = getComputedStyle(document.activeElement); return s.outlineStyle === 'none' ? '0px' : s.outlineWidth;",
                vec![],
            )
            .await
            .unwrap();
        (focused, outline.as_str().unwrap_or("0px").to_owned())
    }

    /// Signs in through the sign-in form as `user` with `password`, and waits for the inbox.
    pub async fn sign_in(&self, user: &str, password: &str) {
        self.open("").await;
        self.fill("#user", user).await;
        self.fill("#password", password).await;
        self.click_text("button[type=submit]", "Sign in").await;
        self.wait_text("#who", &format!("Signed in as {user}"))
            .await;
        self.wait_text("main h1", "Inbox").await;
    }

    /// Ends the WebDriver session (Chromium with it), then chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver's process group: itself and the Chromium it started.
        let group = nix::unistd::Pid::from_raw(self.driver.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.driver.wait();
    }
}

/// Sets `user`'s web UI password with `baton user passwd` (which reads it on standard input).
pub fn set_password(db: &Path, user: &str, password: &str) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--db")
        .arg(db)
        .args(["user", "passwd", user])
        .env_remove("BATON_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "baton user passwd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
