//! An operator's actions on an instance's page in real headless Chromium, on a real
//! `baton serve`: an administrator signs in with an API token, resolves an incident, and
//! aborts an instance started in the wrong process while starting the right one (Stardust's
//! abort-and-start). Screenshots go under `target/browser-screenshots/`; skipped, saying so,
//! without chromium and chromedriver (a failure under `CI`).

#[path = "support/browser.rs"]
mod browser;
mod support;

use serde_json::{json, Value};

use browser::Browser;
use support::ok;
use support::server::Server;

/// Two jobs whose postconditions run each other: the run limit stops them with an incident.
const PING_PONG: &str = "id: ping_pong
tasks:
  - id: ping
    kind: job
    command: ['true']
    max_runs: 2
    postconditions: [{if: \"task.status == 'ended_ok'\", then: {run: pong}}]
  - id: pong
    kind: job
    command: ['true']
    on_demand: true
    postconditions: [{if: \"task.status == 'ended_ok'\", then: {run: ping}}]
";

const WRONG: &str = "id: wrong
tasks:
  - id: wait
    kind: user
    title: Wait for someone
    owners: [root]
";

const RIGHT: &str = "id: right
tasks:
  - id: work
    kind: user
    title: The right work
    owners: [root]
";

/// The answer's JSON body (after the head).
fn body(answer: &str) -> Value {
    let text = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_resolves_an_incident_and_aborts_and_starts_from_the_instance_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    ok(&db, &["user", "add", "root", "--admin"]);
    for (name, source) in [
        ("ping.yaml", PING_PONG),
        ("wrong.yaml", WRONG),
        ("right.yaml", RIGHT),
    ] {
        std::fs::write(dir.path().join(name), source).unwrap();
        ok(&db, &["deploy", dir.path().join(name).to_str().unwrap()]);
    }
    let token = ok(&db, &["token", "create", "--user", "root"])
        .trim()
        .to_owned();
    let server = Server::start(&db, &[]);
    let start = |process: &str| {
        let started = server.post_ok(
            "/api/instances",
            &token,
            &json!({ "process": process }).to_string(),
        );
        serde_json::from_str::<Value>(&started).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let Some(b) = Browser::start("browser-operator", &server.address).await else {
        return;
    };

    // Signing in with a token.
    b.open("").await;
    b.fill("#token", &token).await;
    b.click_text("button[type=submit]", "Sign in with token")
        .await;
    b.wait_text("#who", "Signed in as root").await;

    // An incident, resolved by hand from its instance's page.
    let looping = start("ping_pong");
    let deadline = std::time::Instant::now() + browser::PATIENCE;
    while body(&server.get(&format!("/api/instances/{looping}/incidents"), Some(&token)))
        .as_array()
        .is_none_or(|i| i.is_empty())
    {
        assert!(std::time::Instant::now() < deadline, "no incident came");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.go(&format!("#/instance/{looping}")).await;
    // Read again if the page redrew the list in between.
    let incident = loop {
        let item = b.wait_text("#incidents li", "run limit").await;
        match item.attr("data-incident").await {
            Ok(id) => break id.expect("an incident's item names it"),
            Err(e) if e.is_stale_element_reference() => continue,
            Err(e) => panic!("{e}"),
        }
    };
    b.screenshot("incident").await;
    b.click_text("#incidents button", "Resolve").await;
    b.wait_text("#status", &format!("Resolve incident {incident}: done"))
        .await;
    let incidents = body(&server.get(&format!("/api/instances/{looping}/incidents"), Some(&token)));
    assert_eq!(incidents[0]["resolution"], "resolved", "{incidents}");
    assert_eq!(incidents[0]["resolved_by"], "root", "{incidents}");
    assert!(
        b.client
            .find_all(fantoccini::Locator::Css("#incidents"))
            .await
            .unwrap()
            .is_empty(),
        "the page lists no open incident"
    );
    b.screenshot("incident-resolved").await;

    // Abort-and-start: the page goes to the peer that replaced the instance.
    let wrong = start("wrong");
    b.go(&format!("#/instance/{wrong}")).await;
    b.select("form[aria-label='Abort and start'] select", "right")
        .await;
    b.screenshot("abort-and-start").await;
    b.click_text(
        "form[aria-label='Abort and start'] button",
        "Abort and start",
    )
    .await;
    b.wait_text("main h1", "right v1").await;
    b.screenshot("peer").await;
    let old = body(&server.get(&format!("/api/instances/{wrong}"), Some(&token)));
    assert_eq!(old["status"], "aborted", "{old}");
    let peer = old["replaced_by"].as_str().unwrap();
    assert!(
        b.client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with(&format!("#/instance/{peer}")),
        "the page shows the peer {peer}"
    );
    b.close().await;
}
