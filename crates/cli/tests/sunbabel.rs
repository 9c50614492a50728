//! Stardust's SunBabel business scenarios (`examples/sunbabel/`) run as their README writes
//! them: each `baton` command of the set-up and of the scenario's shell blocks, in order, on
//! one database file (`VAR=$(baton …)` keeps the printed id for the commands after it; a
//! command commented `exit 2` must be refused). Then what the README says of the result is
//! checked through `baton show --json` and `baton case show --json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

mod support;
use support::modes::{Baton, Mode};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The logical lines (continuations joined) of the shell blocks under the README's headings
/// `## Set-up` and `heading`, in order.
fn walk_through(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(examples().join("sunbabel/README.md")).unwrap();
    let mut lines = Vec::new();
    let (mut section, mut in_block, mut pending) = (String::new(), false, String::new());
    for line in readme.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            section = title.to_owned();
        } else if line.starts_with("```") {
            in_block = line == "```sh";
        } else if in_block && (section == "Set-up" || section == heading) {
            match line.strip_suffix('\\') {
                Some(start) => pending.push_str(start),
                None => lines.push(std::mem::take(&mut pending) + line),
            }
        }
    }
    assert!(
        lines.len() > 8,
        "the README has the `{heading}` walk-through: {lines:?}"
    );
    lines
}

/// Runs each command of `lines` as written; returns the variables they set.
fn run(b: &Baton, lines: &[String]) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let refused = line.contains("# exit 2");
        let line = line
            .split_once(" # ")
            .map_or(line.as_str(), |(command, _comment)| command)
            .trim_end();
        for command in line.split(" && ") {
            let (var, command) = match command.split_once("=$(") {
                Some((var, rest)) if var.chars().all(|c| c.is_ascii_uppercase()) => (
                    Some(var.to_owned()),
                    rest.trim_end().strip_suffix(')').unwrap().to_owned(),
                ),
                _ => (None, command.to_owned()),
            };
            let mut text = command;
            // Longest names first, so that no name is replaced inside another.
            for (name, value) in vars.iter().rev() {
                text = text.replace(&format!("${name}"), value);
            }
            let words = shlex::split(&text)
                .unwrap_or_else(|| panic!("`{text}` does not read as a shell command"));
            assert_eq!(words.first().map(String::as_str), Some("baton"), "{text}");
            let example = examples().display().to_string();
            let args: Vec<String> = words[1..]
                .iter()
                .map(|w| {
                    w.strip_prefix("examples/")
                        .map_or_else(|| w.clone(), |rest| format!("{example}/{rest}"))
                })
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = if refused {
                b.refused(&args)
            } else {
                b.ok(&args)
            };
            if let Some(var) = var {
                vars.insert(var, out.trim().to_owned());
            }
        }
    }
    vars
}

fn instance(b: &Baton, id: &str) -> Value {
    let shown: Value = serde_json::from_str(&b.ok(&["show", id, "--json"])).unwrap();
    shown["instance"].clone()
}

fn case(b: &Baton, id: &str) -> Vec<(String, String, Option<String>)> {
    let case: Value = serde_json::from_str(&b.ok(&["case", "show", id, "--json"])).unwrap();
    case["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["process"].as_str().unwrap().to_owned(),
                i["link"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn a_scan_entered_into_the_wrong_process_is_moved_into_the_right_one_with_its_data_and_document() {
    let b = Baton::new(Mode::Embedded);
    let vars = run(
        &b,
        &walk_through("Scenario 1: a scan entered into the wrong process"),
    );
    let (form, wrong, right) = (&vars["FORM"], &vars["WRONG"], &vars["RIGHT"]);

    let aborted = instance(&b, wrong);
    assert_eq!(
        (aborted["status"].as_str(), aborted["replaced_by"].as_str()),
        (Some("aborted"), Some(right.as_str()))
    );
    let peer = instance(&b, right);
    assert_eq!(peer["process"], "claim");
    assert_eq!(
        (&peer["data"]["client"], &peer["data"]["dept"]),
        (&Value::from("C-1001"), &Value::from("claims")),
        "the data moved with it"
    );
    assert_eq!(
        peer["data"]["claim_form"],
        serde_json::json!({"document": form}),
        "the same document, by the same-type rule"
    );
    assert_eq!(peer["department"], "claims");
    assert_eq!(
        case(&b, wrong),
        [
            (wrong.clone(), "change-of-address".into(), None),
            (right.clone(), "claim".into(), Some("peer".into()))
        ]
    );
    let document: Value = serde_json::from_str(&b.ok(&["doc", "show", form, "--json"])).unwrap();
    assert_eq!(
        document["metadata"]["pages"], 1,
        "with its metadata: the same record"
    );
}

#[test]
fn one_scan_with_three_requests_spawns_one_instance_per_request_each_on_the_one_document_in_one_case(
) {
    let b = Baton::new(Mode::Embedded);
    let vars = run(&b, &walk_through("Scenario 2: one scan, three requests"));
    let (letter, mail) = (&vars["LETTER"], &vars["MAIL"]);
    let requests = [
        (&vars["ADDRESS"], "change-of-address", "letter"),
        (&vars["CLAIM"], "claim", "claim_form"),
        (&vars["COPY"], "policy-copy", "scan"),
    ];

    let mut expected = vec![(mail.clone(), "client-mail".to_owned(), None)];
    expected.extend(requests.iter().map(|(id, process, _)| {
        (
            (*id).clone(),
            (*process).to_owned(),
            Some("spawned".to_owned()),
        )
    }));
    assert_eq!(
        case(&b, mail),
        expected,
        "the mail and its three requests are one case"
    );
    for (id, process, variable) in requests {
        let spawned = instance(&b, id);
        assert_eq!(
            spawned["data"][variable],
            serde_json::json!({"document": letter}),
            "{process} refers to the one original document"
        );
        assert_eq!(
            (spawned["status"].as_str(), spawned["department"].as_str()),
            (Some("completed"), Some("claims")),
            "{process}"
        );
    }
    assert_eq!(
        instance(&b, mail)["status"],
        "completed",
        "the mail completed with the last of its requests"
    );
    assert_eq!(
        b.ok(&["doc", "show", letter, "--json"])
            .matches("\"id\"")
            .count(),
        1
    );
}
