//! The client against a real `baton serve` app on a loopback socket (and, for answers no Baton
//! gives, against a one-shot TCP responder): views read back as the service gives them, and
//! every error keeps the kind it has.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;

use baton_api_model::requests::{HumanTaskOperation, Start};
use baton_api_model::ErrorKind;
use baton_client::{Client, ClientError};
use baton_engine::{Engine, EngineOptions, SystemClock};
use baton_server::AppState;
use baton_service::{Service, SourceFile};
use baton_store::NewUser;
use baton_store_sqlite::{Durability, SqliteStore};

const REVIEW: &str = "id: review\ntasks:\n  - id: check\n    kind: user\n    owners: [john]\n  - id: done\n    kind: end\n    after: [check]\n";

/// A server on a fresh database with `review` deployed; its address, the service under it,
/// and the tokens of john and eve.
struct Served {
    _dir: tempfile::TempDir,
    url: String,
    service: Service<baton_store_any::AnyStore>,
    john: String,
    eve: String,
}

async fn served() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let engine = Engine::new(
        baton_store_any::AnyStore::from(store),
        Arc::new(SystemClock),
        EngineOptions::default(),
    );
    let local = Service::local(engine.clone());
    for user in ["john", "eve"] {
        local
            .add_user("operator", NewUser::named(user))
            .await
            .unwrap();
    }
    local
        .deploy(
            "operator",
            vec![SourceFile {
                name: "review.yaml".into(),
                bytes: REVIEW.into(),
            }],
        )
        .await
        .unwrap();
    let john = local
        .create_token("operator", "john", None, None)
        .await
        .unwrap()
        .secret;
    let eve = local
        .create_token("operator", "eve", None, None)
        .await
        .unwrap()
        .secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(baton_server::serve(
        listener,
        AppState::new(Service::new(engine)),
        std::future::pending(),
    ));
    Served {
        _dir: dir,
        url,
        service: local,
        john,
        eve,
    }
}

/// Answers one connection with `response` (a whole HTTP answer); the request line it got.
fn answer_once(response: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let (url, handle) = answer_each(vec![response.to_owned()]);
    (
        url,
        std::thread::spawn(move || handle.join().unwrap().remove(0)),
    )
}

/// Answers a connection with each of `responses` in turn (each closes its connection); the
/// request lines they got.
fn answer_each(responses: Vec<String>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for response in responses {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            reader.get_mut().write_all(response.as_bytes()).unwrap();
            requests.push(request_line.trim_end().to_owned());
        }
        requests
    });
    (url, handle)
}

/// A 200 answer with a JSON body.
fn json_answer(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
}

#[tokio::test]
async fn an_answer_reads_back_as_the_view_the_service_gives() {
    let s = served().await;
    let client = Client::new(&s.url, &s.john).unwrap();
    let started = client
        .start(&Start {
            process: "review".into(),
            data: Default::default(),
            idempotency_key: None,
        })
        .await
        .unwrap();
    assert_eq!(
        client.instance(&started.id).await.unwrap(),
        s.service.instance("operator", &started.id).await.unwrap()
    );
    let claimed = client
        .human_task(&started.id, "check", None, &HumanTaskOperation::Claim)
        .await
        .unwrap();
    assert_eq!(
        claimed.instance,
        s.service.instance("operator", &started.id).await.unwrap()
    );
    assert_eq!(
        client.history(&started.id).await.unwrap(),
        s.service.history("operator", &started.id).await.unwrap()
    );
    assert_eq!(client.me().await.unwrap().name, "john");
}

#[tokio::test]
async fn a_history_longer_than_a_page_is_read_page_by_page_after_the_last_seq() {
    let s = served().await;
    let john = Client::new(&s.url, &s.john).unwrap();
    let id = john
        .start(&Start {
            process: "review".into(),
            data: Default::default(),
            idempotency_key: None,
        })
        .await
        .unwrap()
        .id;
    let event = serde_json::to_value(&john.history(&id).await.unwrap()[0]).unwrap();
    let page = |seqs: std::ops::RangeInclusive<u64>| {
        let events: Vec<serde_json::Value> = seqs
            .map(|seq| {
                serde_json::Value::Object({
                    let mut e = event.as_object().unwrap().clone();
                    e["seq"] = seq.into();
                    e
                })
            })
            .collect();
        json_answer(&serde_json::to_string(&events).unwrap())
    };
    let full = baton_client::HISTORY_PAGE as u64;
    let (url, requests) = answer_each(vec![page(1..=full), page(full + 1..=full + 2)]);
    let history = Client::new(&url, "t").unwrap().history("i").await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=full + 2).collect::<Vec<_>>()
    );
    assert_eq!(
        requests.join().unwrap(),
        [
            format!("GET /api/instances/i/history?limit={full} HTTP/1.1"),
            format!("GET /api/instances/i/history?after={full}&limit={full} HTTP/1.1")
        ]
    );
}

#[tokio::test]
async fn an_error_answer_keeps_the_kind_and_message_the_server_gave() {
    let s = served().await;
    let eve = Client::new(&s.url, &s.eve).unwrap();
    let missing = eve.instance("no-such-instance").await.unwrap_err();
    assert_eq!(
        (missing.kind(), missing.to_string()),
        (
            ErrorKind::NotFound,
            "there is no instance `no-such-instance`".to_owned()
        )
    );
    let id = eve
        .start(&Start {
            process: "review".into(),
            data: Default::default(),
            idempotency_key: None,
        })
        .await
        .unwrap()
        .id;
    let forbidden = eve
        .human_task(&id, "check", None, &HumanTaskOperation::Claim)
        .await
        .unwrap_err();
    assert_eq!(forbidden.kind(), ErrorKind::Forbidden, "{forbidden}");
}

#[tokio::test]
async fn an_id_holding_a_slash_or_a_question_mark_stays_one_path_segment() {
    let s = served().await;
    let error = Client::new(&s.url, &s.john)
        .unwrap()
        .instance("a/b?c#d")
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "there is no instance `a/b?c#d`");
}

#[tokio::test]
async fn a_token_the_server_refuses_is_unauthenticated_and_the_message_names_no_token() {
    let s = served().await;
    let error = Client::new(&s.url, "baton_0000_made-up")
        .unwrap()
        .definitions()
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Unauthenticated { .. }),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Unauthenticated);
    assert!(
        error.to_string().contains("set BATON_TOKEN") && !error.to_string().contains("made-up"),
        "{error}"
    );
    assert!(
        !format!("{:?}", Client::new(&s.url, "baton_0000_made-up").unwrap()).contains("made-up"),
        "Debug shows no token"
    );
}

#[tokio::test]
async fn nothing_listening_is_unavailable_and_names_the_address() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let error = Client::new(&url, "t")
        .unwrap()
        .definitions()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot reach the Baton server at {url}: ")),
        "{error}"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_batons_is_unavailable_for_5xx_and_invalid_for_4xx() {
    let (url, _) = answer_once(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops",
    );
    let error = Client::new(&url, "t")
        .unwrap()
        .definitions()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(
        error.to_string(),
        format!("the server at {url} answered 502 to GET /api/definitions, which is not an answer of Baton's API; is it the address of `baton serve`?")
    );
    let (url, _) = answer_once(
        "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\n<h1>?</h1",
    );
    assert_eq!(
        Client::new(&url, "t")
            .unwrap()
            .definitions()
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
}

#[tokio::test]
async fn an_answer_longer_than_the_limit_is_refused_unread() {
    let (url, _) =
        answer_once("HTTP/1.1 200 OK\r\nContent-Length: 300000000\r\nConnection: close\r\n\r\n[");
    let error = Client::new(&url, "t")
        .unwrap()
        .definitions()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::TooLarge {
                limit: baton_client::MAX_ANSWER_BYTES,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_under_a_path_gets_the_api_under_that_path() {
    let (url, request) =
        answer_once("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]");
    let under = Client::new(&format!("{url}/baton/"), "t").unwrap();
    assert_eq!(under.definitions().await.unwrap(), []);
    assert_eq!(
        request.join().unwrap(),
        "GET /baton/api/definitions HTTP/1.1"
    );
}

#[tokio::test]
async fn a_case_children_abort_and_recover_read_back_as_the_service_gives_them() {
    let s = served().await;
    let child = "id: child\ntasks:\n  - id: approve\n    kind: user\n    owners: [john]\n";
    let caller = "id: caller\ntasks:\n  - id: sub\n    kind: call\n    process: child\n";
    let files = vec![
        SourceFile {
            name: "child.yaml".into(),
            bytes: child.into(),
        },
        SourceFile {
            name: "caller.yaml".into(),
            bytes: caller.into(),
        },
    ];
    s.service.deploy("operator", files).await.unwrap();
    let john = Client::new(&s.url, &s.john).unwrap();
    let started = john
        .start(&Start {
            process: "caller".into(),
            data: Default::default(),
            idempotency_key: None,
        })
        .await
        .unwrap();
    let child = started.tasks["sub"].child.clone().unwrap();
    assert_eq!(
        john.case(&started.id).await.unwrap(),
        s.service.case("operator", &started.id).await.unwrap()
    );
    assert_eq!(
        john.children(&started.id).await.unwrap(),
        s.service.children("operator", &started.id).await.unwrap()
    );
    assert_eq!(
        john.case("no-such-case").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    let refused = john.recover(&started.id).await.unwrap_err();
    assert_eq!(
        refused.kind(),
        ErrorKind::Conflict,
        "nothing of it failed: {refused}"
    );
    assert_eq!(
        john.abort(&child, true).await.unwrap().status,
        baton_api_model::InstanceStatus::Aborted
    );
    while s.service.engine().fire_due_timers(100).await.unwrap() > 0 {}
    assert_eq!(
        john.instance(&started.id).await.unwrap().status,
        baton_api_model::InstanceStatus::Aborted,
        "the abort went up to the caller"
    );
}
