//! The browser-test harness: one medtwin server per test binary over a small
//! synthetic population, and per test a chromedriver driving a fresh headless
//! Chromium over WebDriver (plain HTTP/JSON on loopback, no client crate).
//!
//! - [`server`] starts the server once (on 127.0.0.1, port 0) over a store
//!   holding [`PATIENTS`] synthetic people generated and imported in-process,
//!   with the standard views materialized as Parquet for the SQL console.
//! - [`Browser::start`] finds `chromedriver` and `chromium` on the PATH (or
//!   `CHROMEDRIVER`/`CHROME_BIN`) and panics with an install hint when either is
//!   missing: browser tests fail, never skip.
//! - Every [`Browser::goto`] and [`Browser::screenshot`] first checks the
//!   browser console (chromedriver's `goog:loggingPrefs` log) and fails the test
//!   on any SEVERE entry, i.e. a JavaScript error or a failed resource load.
//!   A test that expects an error status (a 404 page) takes the log with
//!   [`Browser::take_console`] and checks it itself.
//! - Screenshots go to `$MEDTWIN_SCREENSHOTS` or `<target>/screenshots/`.
//! - Dropping the [`Browser`] ends the WebDriver session (Chromium quits) and
//!   kills chromedriver; its profile directory is a temporary directory.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// People in the shared test population: enough for every page to have data,
/// small enough to generate and import in a few seconds.
pub(crate) const PATIENTS: u64 = 120;

/// The running test server.
pub(crate) struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    /// The store the server serves (tests look up ids to open pages with).
    pub(crate) store: Arc<store::SqliteStore>,
}

/// The shared server, started on first use and left running until the test
/// process exits (it is a thread of this process, so nothing outlives it).
/// Its data lives in Cargo's per-target temporary directory, emptied at the
/// start of each run: a `static` is never dropped, so a `TempDir` here would
/// leave a copy in /tmp after every run.
pub(crate) fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(start_server)
}

fn start_server() -> TestServer {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-server");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("fixture dir");
    let synth_dir = dir.join("synth");
    let cfg = synth::Config {
        patients: PATIENTS,
        seed: 7,
        out: synth_dir.clone(),
        formats: "fhir".parse().expect("formats"),
        ..synth::Config::default()
    };
    synth::generate(&cfg, &mut |_| {}).expect("synth");
    let db = dir.join("db");
    std::fs::create_dir_all(&db).expect("db dir");
    let store = Arc::new(
        store::SqliteStore::open(&db, store::SqliteOptions { synchronous: store::Synchronous::Normal, ..Default::default() })
            .expect("open store"),
    );
    import_ndjson_dir(store.as_ref(), &synth_dir.join("fhir"));
    // The standard views, materialized as Parquet for the SQL console (as `medtwin demo` does).
    let views_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../views");
    let views: Vec<_> = analytics::view::load_views_dir(&views_src).expect("views/").into_iter().map(|v| v.1).collect();
    let views_dir = dir.join("views");
    analytics::view::materialize_ndjson(&views, &synth_dir.join("fhir"), &views_dir).expect("materialize views");
    let config = server::Config { views_dir: Some(views_dir), ..server::Config::default() };
    let state = server::AppState::new(store.clone(), config);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send addr");
            server::serve_on(state, listener, std::future::pending()).await.expect("serve");
        });
    });
    let addr: SocketAddr = rx.recv_timeout(Duration::from_secs(30)).expect("server did not start");
    TestServer { base: format!("http://{addr}"), store }
}

/// Imports every `*.ndjson` file of a folder (one transaction per file).
fn import_ndjson_dir(store: &dyn store::Store, dir: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read synth dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "synth wrote no NDJSON into {}", dir.display());
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read ndjson");
        store
            .transact(&mut |tx| {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let v: Value = serde_json::from_str(line).expect("synth line is JSON");
                    let t = v["resourceType"].as_str().expect("resourceType").to_string();
                    let id = v["id"].as_str().expect("id").to_string();
                    tx.put(&t, &id, v, None, false)?;
                }
                Ok(())
            })
            .expect("import");
    }
}

/// The id of the first stored resource of a type matching FHIR search
/// parameters (e.g. a patient who has HbA1c results).
pub(crate) fn first_id(resource_type: &str, params: &[(&str, &str)]) -> Option<String> {
    use store::Store;
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let conditions = store::parse_conditions(resource_type, &params).expect("params");
    let q = store::SearchQuery {
        resource_types: vec![resource_type.into()],
        conditions: vec![conditions],
        count: 1,
        ..Default::default()
    };
    let r = server().store.search(&q).expect("search");
    r.entries.first().map(|s| s.meta.id.clone())
}

/// Where screenshots are written.
pub(crate) fn screenshot_dir() -> PathBuf {
    match std::env::var_os("MEDTWIN_SCREENSHOTS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("..").join("screenshots"),
    }
}

fn find_exe(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|d| names.iter().map(move |n| d.join(n))).find(|p| p.is_file())
}

/// A headless Chromium driven over WebDriver.
pub(crate) struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
    /// The server's base URL.
    pub(crate) base: String,
}

/// The W3C WebDriver element key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An element found on the page.
#[derive(Debug, Clone)]
pub(crate) struct Element(String);

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium (1280×900) pointed at
    /// the shared server.
    pub(crate) fn start() -> Browser {
        let base = server().base.clone();
        let driver_exe = find_exe("CHROMEDRIVER", &["chromedriver"]).unwrap_or_else(|| {
            panic!("chromedriver not found on PATH: install the Debian packages in scripts/apt-test.txt (chromium, chromium-driver, fonts-noto-cjk), or set CHROMEDRIVER")
        });
        let chrome = find_exe("CHROME_BIN", &["chromium", "chromium-browser", "google-chrome"]).unwrap_or_else(|| {
            panic!("chromium not found on PATH: install the Debian packages in scripts/apt-test.txt (chromium, chromium-driver, fonts-noto-cjk), or set CHROME_BIN")
        });
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let driver = Command::new(&driver_exe)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_exe.display()));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut b = Browser { driver, addr, session: String::new(), _profile: profile, base };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(v) = wd(addr, "GET", "/status", None)
                && v["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--lang=ja-JP",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", b._profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chrome.to_string_lossy(), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"pageLoad": 30000, "script": 10000}
        }}});
        let v = wd(addr, "POST", "/session", Some(&caps)).unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
        b.session = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session id in {v}")).to_string();
        b
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("/session/{}{path}", self.session);
        match wd(self.addr, method, &url, body.as_ref()) {
            Ok(v) => v["value"].clone(),
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        }
    }

    /// Opens a path on the server (after checking the console of the current page).
    pub(crate) fn goto(&self, path: &str) {
        self.assert_console_clean();
        self.cmd("POST", "/url", Some(json!({"url": format!("{}{path}", self.base)})));
    }

    /// The document title.
    pub(crate) fn title(&self) -> String {
        self.cmd("GET", "/title", None).as_str().unwrap_or_default().to_string()
    }

    /// The current URL.
    pub(crate) fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap_or_default().to_string()
    }

    /// All elements matching a CSS selector (possibly none).
    pub(crate) fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.cmd("POST", "/elements", Some(json!({"using": "css selector", "value": css})));
        v.as_array().map(|a| a.iter().filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.into()))).collect()).unwrap_or_default()
    }

    /// The first element matching `css`, waiting up to 10 s for it to appear.
    pub(crate) fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                return e;
            }
            if Instant::now() > deadline {
                let src = self.cmd("GET", "/source", None);
                let src = src.as_str().unwrap_or_default();
                panic!("no element matches {css:?} on {} after 10 s; page starts:\n{}", self.url(), &src[..src.len().min(3000)]);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the text of the first element matching `css` contains `needle`.
    /// An element that goes stale between finding and reading it (the page
    /// was replaced, e.g. after a form submit) counts as not there yet.
    pub(crate) fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.find_all(css).first().and_then(|e| self.try_text(e)).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "{css:?} on {} never contained {needle:?}; last text: {text:?}", self.url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The visible text of an element, or `None` when WebDriver cannot read it
    /// (a stale element reference after a navigation).
    fn try_text(&self, e: &Element) -> Option<String> {
        let url = format!("/session/{}/element/{}/text", self.session, e.0);
        wd(self.addr, "GET", &url, None).ok().map(|v| v["value"].as_str().unwrap_or_default().to_string())
    }

    /// The visible text of an element.
    pub(crate) fn text(&self, e: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", e.0), None).as_str().unwrap_or_default().to_string()
    }

    /// An attribute or property of an element.
    pub(crate) fn attr(&self, e: &Element, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/element/{}/attribute/{name}", e.0), None).as_str().map(str::to_string)
    }

    /// Clicks an element.
    pub(crate) fn click(&self, e: &Element) {
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Clears an input and types `text` into it (`\u{E007}` is Enter, `\u{E004}` Tab).
    pub(crate) fn type_into(&self, e: &Element, text: &str) {
        self.cmd("POST", &format!("/element/{}/clear", e.0), Some(json!({})));
        self.send_keys(e, text);
    }

    /// Types into an element without clearing it.
    pub(crate) fn send_keys(&self, e: &Element, text: &str) {
        self.cmd("POST", &format!("/element/{}/value", e.0), Some(json!({"text": text})));
    }

    /// The element that has the keyboard focus.
    pub(crate) fn active(&self) -> Element {
        let v = self.cmd("GET", "/element/active", None);
        Element(v[ELEMENT].as_str().expect("active element").to_string())
    }

    /// Presses keys on the focused element (`\u{E004}` Tab, `\u{E007}` Enter).
    pub(crate) fn press(&self, keys: &str) {
        let actions: Vec<Value> =
            keys.chars().flat_map(|c| [json!({"type": "keyDown", "value": c.to_string()}), json!({"type": "keyUp", "value": c.to_string()})]).collect();
        self.cmd("POST", "/actions", Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})));
    }

    /// Runs JavaScript in the page and returns its result.
    pub(crate) fn eval(&self, script: &str) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// The browser console entries since the last call (level, message).
    pub(crate) fn take_console(&self) -> Vec<(String, String)> {
        let v = self.cmd("POST", "/se/log", Some(json!({"type": "browser"})));
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| (e["level"].as_str().unwrap_or("").to_string(), e["message"].as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Fails the test if the console has any error since the last check.
    pub(crate) fn assert_console_clean(&self) {
        let errors: Vec<_> = self.take_console().into_iter().filter(|(level, _)| level == "SEVERE").collect();
        assert!(errors.is_empty(), "JavaScript console errors on {}: {errors:#?}", self.url());
    }

    /// Checks the console, then saves a PNG screenshot of the whole page
    /// (the window is stretched to the page's height, up to 4,000 px) as
    /// `<dir>/<name>.png`.
    pub(crate) fn screenshot(&self, name: &str) -> PathBuf {
        self.assert_console_clean();
        let height = self.eval("return document.documentElement.scrollHeight").as_u64().unwrap_or(900).clamp(900, 4000);
        self.cmd("POST", "/window/rect", Some(json!({"width": 1280, "height": height})));
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().expect("screenshot is base64"));
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        self.cmd("POST", "/window/rect", Some(json!({"width": 1280, "height": 900})));
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = wd(self.addr, "DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver command: HTTP/1.1 with `Connection: close` over loopback.
/// Returns the JSON body, or an error with the WebDriver error message.
fn wd(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    // Read the head, then exactly Content-Length bytes (chromedriver keeps the
    // connection open whatever `Connection: close` says), or a chunked body.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the HTTP head".into());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let done = match length {
            Some(len) => body.len() >= len,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    if chunked {
        body = dechunk(&body);
    }
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("status {status}, body not JSON: {e}"))?;
    if status >= 400 {
        return Err(format!("status {status}: {} {}", v["value"]["error"], v["value"]["message"]));
    }
    Ok(v)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
    out
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
