//! The web UI in real headless Chromium, on a real `baton serve`: a user signs in with a name
//! and password, sees a task in the inbox, claims it and completes it through its generated
//! form; on an instance's page spawns a sub-process and watches the graph recolour a task as
//! the instance moves on, without a reload; suspends an interactive workflow and resumes it
//! from the inbox; deploys a definition with an error and sees the problem marked at its line.
//! Each step saves a screenshot under `target/browser-screenshots/`. One browser for the file;
//! skipped, saying so, without chromium and chromedriver (a failure under `CI`).

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::path::Path;

use serde_json::{json, Value};

use browser::{set_password, Browser};
use support::ok;
use support::server::Server;

const REVIEW: &str = "id: review
name: Review a text
data:
  text: {type: string, default: The quarterly report}
  approved: boolean
  score: integer
  comments: string
tasks:
  - id: review
    kind: user
    title: Review the text
    description: Read it and say whether it may go out
    owners: [group:reviewers]
    form:
      approved: boolean
      score: {type: integer, description: From 1 to 5}
      comments: {type: string, required: false}
  - id: publish
    kind: job
    after: [review]
    command: [\"sh\", \"-c\", \"sleep 0.3\"]
  - id: done
    kind: end
    after: [publish]
";

const NOTE: &str = "id: note
name: Take a note
tasks:
  - id: write
    kind: user
    title: Write the note
    owners: [ann]
";

/// Line 7 names a task that does not exist.
const BROKEN: &str = "id: broken
tasks:
  - id: a
    kind: job
    command: [\"true\"]
  - id: b
    after: [nowhere]
    kind: job
    command: [\"true\"]";

/// The answer's JSON body (after the head).
fn body(answer: &str) -> Value {
    let text = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

struct World {
    server: Server,
    /// An administrator's token.
    root: String,
    /// ann's token (ann also signs in with her password).
    ann: String,
}

impl World {
    fn start(&self, process: &str) -> String {
        let started = self.server.post_ok(
            "/api/instances",
            &self.root,
            &json!({"process": process}).to_string(),
        );
        serde_json::from_str::<Value>(&started).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn instance(&self, id: &str) -> Value {
        body(
            &self
                .server
                .get(&format!("/api/instances/{id}"), Some(&self.root)),
        )
    }
}

fn world(db: &Path) -> World {
    ok(db, &["user", "add", "root", "--admin"]);
    ok(db, &["user", "add", "ann"]);
    ok(db, &["group", "add", "reviewers"]);
    ok(db, &["group", "add-member", "reviewers", "ann"]);
    set_password(db, "ann", "correct horse battery");
    let dir = db.parent().unwrap();
    for (name, source) in [("review.yaml", REVIEW), ("note.yaml", NOTE)] {
        std::fs::write(dir.join(name), source).unwrap();
        ok(db, &["deploy", dir.join(name).to_str().unwrap()]);
    }
    ok(
        db,
        &[
            "deploy",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/insurance-quote/insurance-quote.yaml"
            ),
        ],
    );
    let root = ok(db, &["token", "create", "--user", "root"])
        .trim()
        .to_owned();
    let ann = ok(db, &["token", "create", "--user", "ann"])
        .trim()
        .to_owned();
    World {
        server: Server::start(db, &[]),
        root,
        ann,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_works_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let world = world(&dir.path().join("baton.db"));
    let Some(b) = Browser::start("browser", &world.server.address).await else {
        return;
    };
    a_user_signs_in_with_a_name_and_password_and_sees_a_task_in_the_inbox(&b, &world).await;
    spawning_a_sub_process_from_the_instance_page_lists_it_and_the_graph_turns_live(&b, &world)
        .await;
    the_start_form_is_made_from_the_declared_data(&b, &world).await;
    an_interactive_workflow_suspended_in_the_browser_is_resumed_from_the_inbox(&b).await;
    a_definition_with_an_error_is_shown_with_the_problem_at_its_line(&b, &world).await;
    b.close().await;
}

async fn a_user_signs_in_with_a_name_and_password_and_sees_a_task_in_the_inbox(
    b: &Browser,
    world: &World,
) {
    let instance = world.start("review");
    b.open("").await;
    b.wait("#user").await;
    b.assert_labelled("sign-in").await;
    // The page opens with the focus on the user name; Tab goes on to the password, with a
    // visible focus outline.
    let (focused, outline) = b.tab().await;
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("password")
    );
    assert_ne!(outline, "0px", "the focused field shows where the focus is");
    b.screenshot("sign-in").await;
    b.sign_in("ann", "correct horse battery").await;
    let row = format!("tr[data-task=\"{instance}/review/0\"]");
    b.wait_text(&row, "Review the text").await;
    b.assert_labelled("inbox").await;
    b.screenshot("inbox").await;

    // Claim it in the inbox, then complete it through the form made from its fields.
    b.click_text(&format!("{row} button"), "Claim").await;
    b.wait_text(&row, "claimed").await;
    b.click(&format!("{row} a")).await;
    b.wait("form[aria-label=Complete]").await;
    b.select("select[name=approved]", "true").await;
    b.fill("input[name=score]", "4").await;
    b.fill("input[name=comments]", "Fine to go out").await;
    b.assert_labelled("task").await;
    b.screenshot("task-form").await;
    b.click_text("form[aria-label=Complete] button", "Complete")
        .await;
    b.wait_text("#status", "Complete: done").await;
    b.screenshot("task-completed").await;
    let data = &world.instance(&instance)["data"];
    assert_eq!(
        (&data["approved"], &data["score"], &data["comments"]),
        (&json!(true), &json!(4), &json!("Fine to go out")),
        "{data}"
    );
}

async fn spawning_a_sub_process_from_the_instance_page_lists_it_and_the_graph_turns_live(
    b: &Browser,
    world: &World,
) {
    let instance = world.start("review");
    b.go(&format!("#/instance/{instance}")).await;
    let node = "g.node[data-task=review][data-status=ready]";
    b.wait(node).await;
    b.assert_labelled("instance").await;
    // A task of the graph is picked with the keyboard as with the mouse.
    b.press(node, "\u{E007}").await;
    b.wait_text("#task-details h2", "Task review").await;
    b.select("form[aria-label='Spawn a sub-process'] select", "note")
        .await;
    b.click_text("form[aria-label='Spawn a sub-process'] button", "Spawn")
        .await;
    b.wait_text("main a", "note").await;
    b.screenshot("spawned").await;
    let children = body(&world.server.get(
        &format!("/api/instances/{instance}/children"),
        Some(&world.root),
    ));
    assert_eq!(children.as_array().map(|c| c.len()), Some(1), "{children}");
    assert_eq!(children[0]["process"], "note", "{children}");

    // Someone else works the task; the page, left alone, recolours the graph as it goes on.
    b.client
        .execute(
            "document.querySelector('svg.graph').dataset.marker = 'kept';",
            vec![],
        )
        .await
        .unwrap();
    let path = format!("/api/instances/{instance}/tasks/review/human-tasks?number=0");
    world
        .server
        .post_ok(&path, &world.ann, r#"{"operation": "claim"}"#);
    world.server.post_ok(
        &path,
        &world.ann,
        r#"{"operation": "complete", "output": {"approved": true, "score": 5}}"#,
    );
    b.wait("svg.graph[data-marker=kept] g.node[data-task=review][data-status=ended_ok]")
        .await;
    b.wait("svg.graph[data-marker=kept] g.node[data-task=publish][data-status=ended_ok]")
        .await;
    b.wait("svg.graph[data-marker=kept] g.node[data-task=publish] rect.s-ended_ok")
        .await;
    b.screenshot("graph-live").await;
}

async fn the_start_form_is_made_from_the_declared_data(b: &Browser, world: &World) {
    b.go("#/start").await;
    let form = "form[aria-label='Start review']";
    b.wait(&format!("{form} select[name=approved]")).await;
    b.wait(&format!(
        "{form} input[name=text][type=text][placeholder='default: \"The quarterly report\"']"
    ))
    .await;
    b.fill(&format!("{form} input[name=score][type=number]"), "2.5")
        .await;
    // Not a whole number: the browser holds the form back (the input takes steps of 1).
    b.wait(&format!("{form} input[name=score]:invalid")).await;
    b.fill(&format!("{form} input[name=score]"), "3").await;
    b.screenshot("start-form").await;
    b.click_text(&format!("{form} button"), "Start review")
        .await;
    let shown = b
        .wait_text("main p", "Instance ")
        .await
        .text()
        .await
        .unwrap();
    let id = shown
        .strip_prefix("Instance ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    let data = &world.instance(&id)["data"];
    assert_eq!(
        (&data["score"], &data["text"]),
        (&json!(3), &json!("The quarterly report")),
        "{data}"
    );
}

async fn an_interactive_workflow_suspended_in_the_browser_is_resumed_from_the_inbox(b: &Browser) {
    b.go("#/start").await;
    let form = "form[aria-label='Start insurance-quote']";
    b.fill(&format!("{form} input[name=customer_id]"), "c-7")
        .await;
    b.assert_labelled("start").await;
    b.screenshot("start").await;
    b.click_text(&format!("{form} button"), "Start").await;
    b.wait_text("main h2", "Enter the policy quote").await;
    b.assert_labelled("workflow").await;
    b.screenshot("workflow").await;
    b.click_text("main button", "Suspend").await;
    b.wait_text("main h1", "Inbox").await;
    b.wait_text("#suspended", "insurance-quote").await;
    b.screenshot("suspended").await;
    b.click_text("#suspended button", "Resume insurance-quote")
        .await;
    b.wait_text("main h2", "Enter the policy quote").await;
    b.fill("input[name=premium]", "120.5").await;
    b.fill("input[name=spouse_ssn]", "123-45-6789").await;
    b.screenshot("resumed").await;
    b.click_text("main button[type=submit]", "Submit").await;
    b.wait_text("#workflow-status", "completed").await;
    b.screenshot("workflow-completed").await;
}

async fn a_definition_with_an_error_is_shown_with_the_problem_at_its_line(
    b: &Browser,
    world: &World,
) {
    b.go("#/definitions").await;
    b.assert_labelled("definitions").await;
    b.fill("#source", BROKEN).await;
    b.click_text("form[aria-label=Deploy] button", "Deploy")
        .await;
    let marked = b.wait("ol.source li.problem").await;
    assert_eq!(
        marked.attr("data-line").await.unwrap().as_deref(),
        Some("7")
    );
    let text = marked.text().await.unwrap();
    assert!(
        text.contains("after: [nowhere]") && text.contains("nowhere"),
        "{text}"
    );
    b.screenshot("deploy-error").await;
    let listed = body(&world.server.get("/api/definitions", Some(&world.root)));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["id"] != "broken"),
        "{listed}"
    );
}
