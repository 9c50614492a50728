//! `GET /api/events` on a real socket: a server-sent event stream of instance and human-task
//! changes, filtered by instance or by user, that shows a user only what they may see; and
//! `baton serve` still stops on SIGTERM while streams are open.
//!
//! "Nothing of X arrives" is shown without waiting for time to pass: the feed delivers in
//! commit order, so once a stream has an event committed after X, it would have had X.

mod support;

use support::ok;
use support::server::Server;

/// A review offered to group editors (ann), and a task for eve alone.
const REVIEW: &str = "id: review
tasks:
  - id: check
    kind: user
    owners: [group:editors]
  - id: done
    kind: end
    after: [check]
";

const EVE_ONLY: &str = "id: eve-only
tasks:
  - id: note
    kind: user
    owners: [eve]
";

fn token(db: &std::path::Path, user: &str) -> String {
    ok(db, &["token", "create", "--user", user])
        .trim()
        .to_owned()
}

fn start(server: &Server, token: &str, process: &str) -> String {
    let body = server.post_ok(
        "/api/instances",
        token,
        &format!("{{\"process\": \"{process}\"}}"),
    );
    let instance: serde_json::Value = serde_json::from_str(&body).unwrap();
    instance["id"].as_str().unwrap().to_owned()
}

#[test]
fn event_streams_show_changes_as_they_commit_filtered_by_instance_and_by_what_the_user_may_see() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    for file in [("review.yaml", REVIEW), ("eve-only.yaml", EVE_ONLY)] {
        std::fs::write(dir.path().join(file.0), file.1).unwrap();
        ok(&db, &["deploy", dir.path().join(file.0).to_str().unwrap()]);
    }
    ok(&db, &["user", "add", "ann"]);
    ok(&db, &["user", "add", "eve"]);
    ok(&db, &["group", "add", "editors"]);
    ok(&db, &["group", "add-member", "editors", "ann"]);
    let (ann, eve) = (token(&db, "ann"), token(&db, "eve"));
    let server = Server::start(&db, &[]);

    let mut everything = server.events("/api/events", &ann);
    let mut eve_all = server.events("/api/events", &eve);
    let mut eve_own = server.events("/api/events?user=eve", &eve);
    let refused = server.get("/api/events?user=ann", Some(&eve));
    assert!(
        refused.starts_with("HTTP/1.1 403 Forbidden\r\n")
            && refused.contains("\"code\":\"forbidden\""),
        "{refused}"
    );
    let unknown = server.get("/api/events?instance=no-such-instance", Some(&ann));
    assert!(
        unknown.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{unknown}"
    );
    let unauthenticated = server.get("/api/events", None);
    assert!(
        unauthenticated.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{unauthenticated}"
    );

    let review = start(&server, &ann, "review");
    let mut one = server.events(&format!("/api/events?instance={review}"), &ann);
    let other = start(&server, &ann, "review");
    server.post_ok(
        &format!("/api/instances/{review}/tasks/check/human-tasks"),
        &ann,
        r#"{"operation": "claim"}"#,
    );

    // The claim reaches the stream of everything and the stream of that one instance.
    everything.wait_for("\"status\":\"claimed\",\"owner\":\"ann\"");
    let claimed = one.wait_for("event: human_task");
    assert!(
        claimed.contains(&format!("\"instance\":\"{review}\""))
            && claimed.contains("\"owner\":\"ann\""),
        "{claimed}"
    );
    let started = everything.data_of("instance");
    assert_eq!(started[0]["instance"], review.as_str());
    assert_eq!(started[0]["status"], "waiting");
    assert_eq!(started[0]["status_changed"], true);
    assert_eq!(
        started[0]["tasks"][0],
        serde_json::json!({"task": "check", "status": "ready"})
    );
    let human = everything.data_of("human_task");
    assert_eq!(
        human
            .iter()
            .map(|h| (
                h["instance"].as_str().unwrap(),
                h["status"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [
            (review.as_str(), "ready"),
            (other.as_str(), "ready"),
            (review.as_str(), "claimed"),
        ]
    );
    assert!(
        !one.text.contains(&other),
        "the instance's stream has nothing of another instance:\n{}",
        one.text
    );

    // Eve may see her own task: once its creation arrives, what came before it has too.
    let mine = start(&server, &ann, "eve-only");
    eve_own.wait_for(&format!("\"instance\":\"{mine}\""));
    assert_eq!(
        eve_own.data_of("human_task").len(),
        1,
        "only her task:\n{}",
        eve_own.text
    );
    assert!(
        eve_own.data_of("instance").is_empty(),
        "a user's stream has no instance events:\n{}",
        eve_own.text
    );
    eve_all.wait_for(&format!("\"event\":\"human_task\",\"instance\":\"{mine}\""));
    assert_eq!(
        eve_all.data_of("human_task").len(),
        1,
        "eve sees no human task of the editors:\n{}",
        eve_all.text
    );
    assert_eq!(
        eve_all.data_of("instance").len(),
        4,
        "every instance's steps: {}",
        eve_all.text
    );

    let (code, rest) = server.stop();
    assert_eq!(
        code,
        Some(0),
        "the server stops with its streams open: {rest}"
    );
}
