//! Siebel's insurance agent against a real `baton serve` (examples/insurance-quote): a quote
//! that cannot be completed without the spouse's social security number is suspended, resumed
//! later from the inbox, completed and removed from the inbox; the same quote resumed
//! implicitly by an `ssn-received` event for the customer; and a server killed with sessions
//! open logs them out when it starts again.

mod support;

use std::path::PathBuf;

use support::modes::{Baton, Mode};
use support::server::Server;

fn example() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/insurance-quote/insurance-quote.yaml")
        .display()
        .to_string()
}

/// A served scenario with the example deployed, the agent and an intake user who publishes.
fn agency() -> Baton {
    let b = Baton::new(Mode::Served);
    b.local(&["user", "add", "agnes"]);
    b.local(&["user", "add", "intake", "--admin"]);
    b.local(&["deploy", &example()]);
    b
}

/// `baton --server URL ARGS` as `user`, in session `session` if given; must succeed: its stdout.
#[track_caller]
fn as_user(b: &Baton, user: &str, session: Option<&str>, args: &[&str]) -> String {
    let token = b.token(user);
    let mut env = vec![("BATON_TOKEN", token.as_str())];
    if let Some(session) = session {
        env.push(("BATON_SESSION", session));
    }
    let run = b.client(args, &env);
    assert_eq!(run.code, 0, "baton {args:?} as {user}: {}", run.stderr);
    run.stdout
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn login(b: &Baton) -> String {
    as_user(b, "agnes", None, &["session", "login"])
        .trim()
        .to_owned()
}

fn start_quote(b: &Baton, session: &str, customer: &str) -> String {
    let data = format!(r#"{{"customer_id": "{customer}"}}"#);
    let step = json(&as_user(
        b,
        "agnes",
        Some(session),
        &[
            "session",
            "start",
            "insurance-quote",
            "--data",
            &data,
            "--json",
        ],
    ));
    assert_eq!(step["workflow"]["view"]["task"], "quote", "{step}");
    step["workflow"]["instance"].as_str().unwrap().to_owned()
}

/// The instances in agnes's inbox of suspended workflows, with the step each is at.
fn inbox(b: &Baton) -> Vec<(String, String, String)> {
    let page = json(&as_user(
        b,
        "agnes",
        None,
        &["tasks", "--as", "agnes", "--json"],
    ));
    page["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["instance"].as_str().unwrap().to_owned(),
                w["step"].as_str().unwrap_or("-").to_owned(),
                w["why"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_quote_waiting_for_the_spouses_number_is_suspended_resumed_from_the_inbox_completed_and_removed(
) {
    let b = agency();
    let session = login(&b);
    let quote = start_quote(&b, &session, "C-42");
    let suspended = as_user(&b, "agnes", Some(&session), &["session", "suspend", &quote]);
    assert_eq!(
        suspended,
        format!("{quote} suspended at step quote: it is in your inbox\n")
    );
    assert_eq!(
        inbox(&b),
        [(quote.clone(), "quote".to_owned(), "explicit".to_owned())]
    );
    let listed = as_user(&b, "agnes", None, &["tasks", "--as", "agnes"]);
    assert!(
        listed.contains("suspended workflows") && listed.contains(&quote),
        "{listed}"
    );
    as_user(&b, "agnes", Some(&session), &["session", "logout"]);

    // Later, with the number, in a new session.
    let session = login(&b);
    let resumed = json(&as_user(
        &b,
        "agnes",
        Some(&session),
        &["session", "resume", &quote, "--json"],
    ));
    assert_eq!(resumed["workflow"]["step"], "quote", "where she left off");
    assert!(inbox(&b).is_empty(), "in the session, not the inbox");
    let done = json(&as_user(
        &b,
        "agnes",
        Some(&session),
        &[
            "session",
            "submit",
            &quote,
            "--data",
            r#"{"premium": 420.5, "spouse_ssn": "078-05-1120"}"#,
            "--json",
        ],
    ));
    assert_eq!(done["workflow"]["status"], "completed", "{done}");
    let shown = json(&b.local(&["show", &quote, "--json"]))["instance"].clone();
    assert_eq!(
        (
            shown["data"]["spouse_ssn"].as_str(),
            shown["data"]["quoted"].as_bool()
        ),
        (Some("078-05-1120"), Some(true))
    );
    assert!(inbox(&b).is_empty());
    // Suspending it again is refused: it ended.
    let token = b.token("agnes");
    let refused = b.client(
        &["session", "suspend", &quote],
        &[("BATON_TOKEN", &token), ("BATON_SESSION", &session)],
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
}

#[test]
fn the_same_quote_is_resumed_implicitly_when_the_number_arrives_as_an_event() {
    let b = agency();
    let session = login(&b);
    let quote = start_quote(&b, &session, "C-43");
    let waiting = json(&as_user(
        &b,
        "agnes",
        Some(&session),
        &[
            "session",
            "submit",
            &quote,
            "--data",
            r#"{"premium": 390}"#,
            "--json",
        ],
    ));
    assert_eq!(
        waiting["workflow"]["waiting_for"], "ssn-received key C-43",
        "{waiting}"
    );
    let logout = json(&as_user(
        &b,
        "agnes",
        Some(&session),
        &["session", "logout", "--json"],
    ));
    assert_eq!(logout["left"][0]["to"], "inbox", "Auto Persist: {logout}");
    assert_eq!(
        inbox(&b),
        [(
            quote.clone(),
            "wait-for-ssn".to_owned(),
            "implicit".to_owned()
        )]
    );

    let published = as_user(
        &b,
        "intake",
        None,
        &[
            "event",
            "publish",
            "ssn-received",
            "--key",
            "C-43",
            "--data",
            r#"{"ssn": "219-09-9999"}"#,
            "--id",
            "ssn-C-43",
        ],
    );
    assert_eq!(published, format!("{quote}\n"));
    let shown = json(&b.local(&["show", &quote, "--json"]))["instance"].clone();
    assert_eq!(
        (
            shown["status"].as_str(),
            shown["data"]["spouse_ssn"].as_str()
        ),
        (Some("completed"), Some("219-09-9999"))
    );
    assert!(inbox(&b).is_empty(), "removed from the inbox when it ended");
}

#[test]
fn sessions_need_a_server() {
    let b = Baton::new(Mode::Embedded);
    let refused = b.refused(&["session", "login"]);
    assert!(
        refused.contains("user sessions live in a server"),
        "{refused}"
    );
}

#[test]
fn a_server_killed_with_a_session_open_logs_it_out_when_it_starts_again() {
    let b = Baton::new(Mode::Embedded);
    b.local(&["user", "add", "agnes"]);
    b.local(&["deploy", &example()]);
    let token = b
        .local(&["token", "create", "--user", "agnes"])
        .trim()
        .to_owned();
    let server = Server::start(&b.db, &[]);
    let url = format!("http://{}", server.address);
    let client = |args: &[&str], session: &str| {
        let run = support::baton_env(
            &b.db,
            args,
            &[
                ("BATON_SERVER", &url),
                ("BATON_TOKEN", &token),
                ("BATON_SESSION", session),
            ],
        );
        assert_eq!(run.code, 0, "baton {args:?}: {}", run.stderr);
        run.stdout
    };
    let session = client(&["session", "login"], "").trim().to_owned();
    let step = json(&client(
        &[
            "session",
            "start",
            "insurance-quote",
            "--data",
            r#"{"customer_id": "C-44"}"#,
            "--json",
        ],
        &session,
    ));
    let quote = step["workflow"]["instance"].as_str().unwrap().to_owned();
    client(
        &["session", "submit", &quote, "--data", r#"{"premium": 100}"#],
        &session,
    );
    // SIGKILL: the server has no chance to log anyone out.
    drop(server);
    let restarted = Server::start(&b.db, &[]);
    assert!(
        restarted.early_stderr.contains("logged out 1 session(s)"),
        "{}",
        restarted.early_stderr
    );
    let page = json(&b.local(&["tasks", "--as", "agnes", "--json"]));
    assert_eq!(page["workflows"][0]["instance"], quote.as_str());
    assert_eq!(
        (
            page["workflows"][0]["why"].as_str(),
            page["workflows"][0]["note"].as_str()
        ),
        (Some("implicit"), Some("server_restart"))
    );
    assert_eq!(
        page["workflows"][0]["step"], "wait-for-ssn",
        "what she entered was committed"
    );
    let url = format!("http://{}", restarted.address);
    let gone = support::baton_env(
        &b.db,
        &["session", "workflows"],
        &[
            ("BATON_SERVER", &url),
            ("BATON_TOKEN", &token),
            ("BATON_SESSION", &session),
        ],
    );
    assert_eq!(
        gone.code, 2,
        "the old session is logged out: {}",
        gone.stderr
    );
}
