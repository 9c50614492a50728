//! What the API tests share: the app on a fresh database with people and a definition,
//! each person's token, and a way to send one request without a socket.
#![allow(dead_code)] // each test file uses some of these

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

use baton_engine::{Clock, Engine, EngineOptions, SystemClock};
use baton_server::{app, AppState};
use baton_service::{Service, SourceFile};
use baton_store::NewUser;
use baton_store_any::AnyStore;
use baton_store_sqlite::{Durability, SqliteStore};

/// A review for group editors, then an end.
pub const REVIEW: &str = "id: review
data:
  approved: boolean
tasks:
  - id: check
    kind: user
    title: Check it
    owners: [group:editors]
    form:
      approved: boolean
  - id: done
    kind: end
    after: [check]
";

/// The app and the tokens of john (an editor), eve (nobody in particular) and chief (an
/// administrator); `review` is deployed.
pub struct Api {
    _dir: Option<TempDir>,
    pub app: Router,
    /// The engine under the app, for what no route does (leasing a job as a worker would).
    pub engine: Engine<AnyStore>,
    pub john: String,
    pub eve: String,
    pub chief: String,
}

pub async fn api() -> Api {
    api_on(Arc::new(SystemClock)).await
}

/// [`api`] with the engine on `clock`.
pub async fn api_on(clock: Arc<dyn Clock>) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    api_in(Some(dir), store.into(), clock).await
}

/// [`api`] on `store` (kept in `dir`, if it is a file).
pub async fn api_in(dir: Option<TempDir>, store: AnyStore, clock: Arc<dyn Clock>) -> Api {
    let engine = Engine::new(store, clock, EngineOptions::default());
    // The set-up is the command line's (which may manage people); the app is a server's.
    let local = Service::local(engine.clone());
    for user in [
        NewUser::named("john"),
        NewUser::named("eve"),
        NewUser::named("chief").admin(),
    ] {
        local.add_user("operator", user).await.unwrap();
    }
    local.add_group("operator", "editors").await.unwrap();
    local
        .add_member("operator", "editors", "john")
        .await
        .unwrap();
    local
        .deploy(
            "operator",
            vec![SourceFile {
                name: "review.yaml".into(),
                bytes: REVIEW.as_bytes().to_vec(),
            }],
        )
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for user in ["john", "eve", "chief"] {
        tokens.push(
            local
                .create_token("operator", user, None, None)
                .await
                .unwrap()
                .secret,
        );
    }
    let [john, eve, chief] = <[String; 3]>::try_from(tokens).unwrap();
    Api {
        _dir: dir,
        app: app(AppState::new(Service::new(engine.clone()))),
        engine,
        john,
        eve,
        chief,
    }
}

impl Api {
    /// The same app on the same engine, its sign-in cookies `Secure` as `secure` says.
    pub fn with_secure_cookies(mut self, secure: baton_server::SecureCookies) -> Api {
        self.app =
            app(AppState::new(Service::new(self.engine.clone())).with_secure_cookies(secure));
        self
    }

    /// The app of another node on the same database (a second server of a PostgreSQL store),
    /// with the same people and tokens, its engine named `node`.
    pub fn another_node(&self, store: AnyStore, node: &str) -> Api {
        let engine = Engine::new(
            store,
            Arc::new(SystemClock),
            EngineOptions {
                node: node.into(),
                ..EngineOptions::default()
            },
        );
        let app = app(AppState::new(Service::new(engine.clone())));
        Api {
            _dir: None,
            app,
            engine,
            john: self.john.clone(),
            eve: self.eve.clone(),
            chief: self.chief.clone(),
        }
    }
}

/// The answer to one request: its status, headers and body (JSON, or a string for text).
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Api {
    /// Sends `method path` with `token` (if any) and a JSON body (if any).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends `POST path` with `token` (if any) and a multipart form (`upload_form`).
    pub async fn upload(&self, path: &str, token: Option<&str>, form: String) -> Answer {
        let mut request = Request::builder().method(Method::POST).uri(path).header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        );
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(request.body(Body::from(form)).unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Starts a `review` instance as john; its id.
    pub async fn start_review(&self) -> String {
        let answer = self
            .post(
                "/api/instances",
                &self.john,
                serde_json::json!({"process": "review"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }
}

/// The `code` of an error answer.
pub fn code(answer: &Answer) -> &str {
    answer.body["error"]["code"]
        .as_str()
        .unwrap_or("(not an error body)")
}

/// The boundary of the forms [`upload_form`] writes.
pub const BOUNDARY: &str = "baton-test-boundary";

/// A multipart upload form with a `file` part (`name`, `content_type`, `content`) and the
/// other parts given as (name, text).
pub fn upload_form_with(
    name: &str,
    content_type: &str,
    content: &str,
    parts: &[(&str, &str)],
) -> String {
    let mut form = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n{content}\r\n");
    for (part, text) in parts {
        form.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{part}\"\r\n\r\n{text}\r\n"
        ));
    }
    form.push_str(&format!("--{BOUNDARY}--\r\n"));
    form
}

/// [`upload_form_with`] with the file part only.
pub fn upload_form(name: &str, content_type: &str, content: &str) -> String {
    upload_form_with(name, content_type, content, &[])
}
