//! A small WebDriver client for headless Chromium (chromedriver), shared by the tests that drive
//! the approval web UI in a real browser, plus the HTTP call it is built on and a child process
//! killed on drop.

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A child process killed and reaped when dropped.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// One WebDriver or API call with an optional bearer token and JSON body; connection refused
/// (e.g. chromedriver still starting) reads as status 0, a body that is not JSON as null.
pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let a = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let resp = match method {
        "GET" => {
            let mut r = a.get(url);
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.call()
        }
        "DELETE" => a.delete(url).call(),
        _ => {
            let mut r = a.post(url).header("Content-Type", "application/json");
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.send(body.unwrap_or(json!({})).to_string().as_bytes())
        }
    };
    let Ok(mut resp) = resp else {
        return (0, Value::Null);
    };
    let st = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// chromedriver on a free loopback port.
pub struct Driver {
    base: String,
    _proc: Kill,
}

impl Driver {
    pub fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let proc = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver not found: run scripts/setup-approvals.sh or scripts/setup-hook.sh",
            );
        let base = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        while call("GET", &format!("{base}/status"), None, None).0 != 200 {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            base,
            _proc: Kill(proc),
        }
    }
}

/// A headless Chromium session, closed when dropped.
pub struct Session<'a> {
    d: &'a Driver,
    id: String,
}

impl<'a> Session<'a> {
    pub fn new(d: &'a Driver, profile: &Path) -> Session<'a> {
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     format!("--user-data-dir={}", profile.display())]
        }}}});
        let (st, v) = call("POST", &format!("{}/session", d.base), None, Some(caps));
        assert_eq!(st, 200, "{v}");
        Session {
            d,
            id: v["value"]["sessionId"]
                .as_str()
                .expect("session id")
                .to_owned(),
        }
    }

    /// The WebDriver URL of `p` (e.g. `/url`, `/screenshot`) in this session.
    pub fn url(&self, p: &str) -> String {
        format!("{}/session/{}{p}", self.d.base, self.id)
    }

    pub fn post(&self, p: &str, body: Value) -> Value {
        let (st, v) = call("POST", &self.url(p), None, Some(body));
        assert_eq!(st, 200, "{p}: {v}");
        v["value"].clone()
    }

    pub fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.post("/elements", json!({"using": "css selector", "value": css}));
        v.as_array()
            .expect("elements")
            .iter()
            .map(|e| e[ELEMENT].as_str().expect("element").to_owned())
            .collect()
    }

    pub fn text(&self, e: &str) -> String {
        let (_, v) = call("GET", &self.url(&format!("/element/{e}/text")), None, None);
        v["value"].as_str().unwrap_or_default().to_owned()
    }

    pub fn type_into(&self, e: &str, text: &str) {
        self.post(&format!("/element/{e}/value"), json!({ "text": text }));
    }

    pub fn click(&self, e: &str) {
        self.post(&format!("/element/{e}/click"), json!({}));
    }

    /// Run `script` (a function body; `return` gives the value) in the page.
    pub fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
    }

    /// Press and release each key of `keys` on the focused page, as a person typing.
    pub fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for k in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": k.to_string()}));
            actions.push(json!({"type": "keyUp", "value": k.to_string()}));
        }
        self.post(
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
    }

    /// Resize the window (headless: the viewport) to `width` × `height` CSS pixels.
    pub fn set_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }));
    }

    /// A PNG screenshot of the viewport, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let (st, v) = call("GET", &self.url("/screenshot"), None, None);
        assert_eq!(st, 200, "screenshot: {v}");
        let png = base64::engine::general_purpose::STANDARD
            .decode(v["value"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Waits until the number of elements matching `css` is one `wanted` accepts, failing
    /// early if `give_up` says why.
    pub fn wait_for(
        &self,
        css: &str,
        wanted: impl Fn(usize) -> bool,
        limit: Duration,
        give_up: &mut dyn FnMut() -> Option<String>,
    ) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            let found = self.find_all(css);
            if wanted(found.len()) {
                return found;
            }
            if let Some(why) = give_up() {
                panic!("waiting for {css}: {why}");
            }
            assert!(
                t0.elapsed() < limit,
                "{css}: {} found, still not as wanted after {limit:?}",
                found.len()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = call("DELETE", &self.url(""), None, None);
    }
}
