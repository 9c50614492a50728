//! Definitions and calendars from a small grammar of Baton's task kinds and fields: each task
//! gets a kind, predecessors (sometimes later tasks, so cycles, or unknown ones), the fields of
//! its kind and a few Automic controls, each value plain most of the time and hostile some of
//! the time (see `text` and `expressions`). `yaml::mutate` then breaks the structure itself.

use super::expressions::{expression, DATA};
use super::tape::Tape;
use super::text;
use super::yaml::Y;

const TYPES: &[&str] = &[
    "integer", "string", "list", "object", "any", "number", "boolean",
];

/// A process definition.
pub fn definition(t: &mut Tape) -> Y {
    let mut top = vec![("id", Y::quoted(text::id(t, "hostile")))];
    if t.chance(20) {
        top.push(("name", Y::quoted(text::hostile_text(t))));
    }
    top.push(("data", data(t)));
    top.push(("tasks", tasks(t, 0)));
    Y::map(top)
}

fn data(t: &mut Tape) -> Y {
    // `n: integer, s: string, l: list, m: object, x: any` unless a case says otherwise.
    let mut entries = Vec::new();
    for (i, name) in DATA.iter().enumerate() {
        if t.hostile(10) {
            continue;
        }
        let ty = if t.hostile(10) {
            TYPES[t.below(TYPES.len())]
        } else {
            ["integer", "string", "list", "object", "any"][i]
        };
        let decl = if t.chance(30) {
            let default = match (t.hostile(30), ty) {
                (true, _) if t.chance(50) => super::yaml::deep(t.between(1, 140), t.chance(50)),
                (true, _) => super::yaml::hostile_node(t),
                (false, "integer") => {
                    Y::plain(t.pick(&["0", "9223372036854775807", "-9223372036854775808"]))
                }
                (false, "string") => Y::quoted(super::text::hostile_text(t)),
                (false, "list") => Y::Seq(vec![Y::plain("1"), Y::quoted("two"), Y::Seq(vec![])]),
                (false, "object") => Y::map(vec![("k", super::yaml::deep(t.between(0, 5), true))]),
                (false, _) => Y::plain("1.5"),
            };
            Y::map(vec![("type", Y::plain(ty)), ("default", default)])
        } else {
            Y::plain(ty)
        };
        entries.push((name.to_string(), decl));
    }
    Y::Map(entries)
}

/// A task list: a process's, or a foreach body's (`depth` bodies down).
fn tasks(t: &mut Tape, depth: usize) -> Y {
    let n = t.between(1, 7);
    Y::Seq((0..n).map(|i| task(t, i, n, depth)).collect())
}

/// The id of task `i` (sometimes one the id rules refuse).
fn task_id(t: &mut Tape, i: usize) -> String {
    text::id(t, &format!("t{i}"))
}

/// A reference to a task: mostly an earlier one, sometimes itself, a later one or none at all.
fn reference(t: &mut Tape, i: usize, n: usize) -> String {
    if i > 0 && !t.hostile(10) {
        return format!("t{}", t.below(i));
    }
    if t.calm {
        return format!("t{i}");
    }
    match t.below(3) {
        0 => format!("t{}", t.below(n)),
        1 => format!("t{i}"),
        _ => "nowhere".into(),
    }
}

fn task(t: &mut Tape, i: usize, n: usize, depth: usize) -> Y {
    let kinds = [
        "set", "job", "end", "decision", "user", "foreach", "prompted", "wait", "unknown",
    ];
    let mut kind = kinds[t.below(kinds.len())];
    if t.calm && kind == "unknown" || kind == "decision" && i + 1 == n {
        kind = "set";
    }
    let mut fields: Vec<(&str, Y)> = vec![("id", Y::quoted(task_id(t, i)))];
    fields.push((
        "kind",
        Y::plain(match kind {
            "prompted" => "end",
            "unknown" => "jobb",
            "foreach" if depth >= 2 => "set",
            other => other,
        }),
    ));
    // The first predecessor: a task before this one, which a decision's loop goes back to.
    let mut first_after: Option<String> = None;
    if i > 0 && t.chance(60) {
        let after: Vec<Y> = (0..t.between(1, 3))
            .map(|_| {
                let target = reference(t, i, n);
                first_after.get_or_insert_with(|| target.clone());
                if t.chance(30) {
                    let status = if t.hostile(10) {
                        "bogus"
                    } else {
                        t.pick(&[
                            "any_end",
                            "ended_not_ok",
                            "any_not_ok",
                            "ended_ok",
                            "expired",
                            "ended_skipped",
                        ])
                    };
                    Y::map(vec![
                        ("task", Y::plain(target)),
                        ("status", Y::plain(status)),
                    ])
                } else {
                    Y::plain(target)
                }
            })
            .collect();
        fields.push(("after", Y::Seq(after)));
        if t.chance(40) {
            let else_action = match t.below(5) {
                0 => Y::plain("skip"),
                1 => Y::plain("block"),
                2 => Y::plain("abort"),
                3 => Y::map(vec![("run", Y::plain(reference(t, i, n)))]),
                _ if t.calm => Y::plain("skip"),
                _ => Y::plain("wait"),
            };
            let matching = if t.hostile(10) {
                "some"
            } else {
                t.pick(&["all", "one"])
            };
            fields.push((
                "dependencies",
                Y::map(vec![("match", Y::plain(matching)), ("else", else_action)]),
            ));
        }
    }
    match kind {
        "set" | "foreach" if depth >= 2 => fields.push(("set", assignments(t))),
        "set" => fields.push(("set", assignments(t))),
        "job" => job(t, &mut fields),
        "end" if t.chance(20) => fields.push((
            "terminate",
            Y::plain(if t.hostile(20) {
                "yes"
            } else {
                t.pick(&["true", "false"])
            }),
        )),
        "decision" => {
            let mode = t.chance(30).then(|| {
                if t.hostile(20) {
                    "any"
                } else {
                    t.pick(&["first", "all"])
                }
            });
            let branches: Vec<Y> = (0..t.between(1, 3))
                .map(|_| branch(t, i, n, mode, first_after.as_deref()))
                .collect();
            fields.push(("branches", Y::Seq(branches)));
            if t.chance(60) {
                fields.push(("otherwise", Y::Seq(vec![Y::plain(later_or_any(t, i, n))])));
            }
            if let Some(mode) = mode {
                fields.push(("mode", Y::plain(mode)));
            }
        }
        "user" => user(t, &mut fields),
        "wait" => {
            fields.push((
                "event",
                Y::plain(if t.hostile(10) {
                    "has space"
                } else {
                    t.pick(&["e", "f"])
                }),
            ));
            if t.chance(70) {
                fields.push((
                    "key",
                    Y::quoted(if t.chance(50) {
                        "data.s".to_owned()
                    } else {
                        expression(t)
                    }),
                ));
            }
            if t.chance(40) {
                fields.push((
                    "condition",
                    Y::quoted(if t.chance(50) {
                        "event.n > 0".to_owned()
                    } else {
                        expression(t)
                    }),
                ));
            }
            if t.chance(40) {
                fields.push((
                    "output",
                    Y::map(vec![(
                        DATA[t.below(DATA.len())],
                        Y::quoted(if t.chance(50) {
                            "event.n".to_owned()
                        } else {
                            expression(t)
                        }),
                    )]),
                ));
            }
            if t.chance(30) {
                fields.push((
                    "timeout",
                    Y::plain(t.pick(&["1h", "3 days", "0s", "200years"])),
                ));
            }
        }
        "foreach" => {
            fields.push((
                "items",
                Y::quoted(if t.chance(50) {
                    "data.l".to_owned()
                } else {
                    expression(t)
                }),
            ));
            if t.chance(40) {
                fields.push(("parallel", Y::plain(text::number(t, "2", "100"))));
            }
            fields.push(("tasks", tasks(t, depth + 1)));
        }
        "prompted" => {
            let name = DATA[t.below(DATA.len())];
            let mut prompt = vec![("name", Y::plain(name))];
            if t.chance(30) {
                let choices = match name {
                    _ if t.hostile(30) => vec![Y::plain("1"), Y::quoted("a"), Y::plain("null")],
                    "n" => vec![Y::plain("1"), Y::plain("9223372036854775807")],
                    "s" => vec![Y::quoted("a"), Y::quoted(text::hostile_text(t))],
                    _ => vec![Y::plain("null")],
                };
                prompt.push(("choices", Y::Seq(choices)));
            }
            if t.chance(30) {
                prompt.push(("required", Y::plain("false")));
            }
            fields.push(("prompts", Y::Seq(vec![Y::map(prompt)])));
        }
        _ => {}
    }
    controls(t, i, n, &mut fields);
    Y::map(fields)
}

/// A branch target: a later task, else any.
/// A decision branch: mostly on to a later task; sometimes a rework loop back to the
/// decision's first predecessor (or, hostile, to any task, itself, with a bad `max_loops`, or
/// in `mode: all`).
fn branch(t: &mut Tape, i: usize, n: usize, mode: Option<&str>, first_after: Option<&str>) -> Y {
    let when = ("when", Y::quoted(expression(t)));
    let loops = mode != Some("all") || t.hostile(10);
    if loops && t.chance(25) {
        let target = match first_after {
            Some(earlier) if !t.hostile(20) => earlier.to_owned(),
            _ => reference(t, i, n),
        };
        let mut entries = vec![when, ("back_to", Y::plain(target))];
        if t.chance(50) {
            let max = if t.hostile(10) {
                "0".to_owned()
            } else {
                t.between(1, 3).to_string()
            };
            entries.push(("max_loops", Y::plain(max)));
        }
        return Y::map(entries);
    }
    Y::map(vec![
        when,
        ("to", Y::Seq(vec![Y::plain(later_or_any(t, i, n))])),
    ])
}

fn later_or_any(t: &mut Tape, i: usize, n: usize) -> String {
    if i + 1 < n && !t.hostile(10) {
        format!("t{}", t.between(i + 1, n - 1))
    } else {
        reference(t, i, n)
    }
}

fn assignments(t: &mut Tape) -> Y {
    let mut entries: Vec<(String, Y)> = Vec::new();
    for _ in 0..t.between(1, 3) {
        let target = if t.hostile(5) {
            "undeclared".to_owned()
        } else {
            DATA[t.below(DATA.len())].to_owned()
        };
        if t.calm && entries.iter().any(|(k, _)| *k == target) {
            continue;
        }
        entries.push((target, Y::quoted(expression(t))));
    }
    Y::Map(entries)
}

fn job(t: &mut Tape, fields: &mut Vec<(&str, Y)>) {
    let command = match t.below(4) {
        0 => Y::Seq(vec![Y::quoted("./work.sh"), Y::quoted("--all")]),
        1 => Y::quoted("echo hi"),
        2 if !t.calm => Y::Seq(vec![]),
        _ => Y::Seq(vec![Y::quoted(format!("./{}", text::hostile_text(t)))]),
    };
    fields.push(("command", command));
    if t.chance(40) {
        fields.push(("env", Y::map(vec![("N", Y::quoted(expression(t)))])));
    }
    if t.chance(30) {
        fields.push(("timeout", Y::quoted(text::duration(t))));
    }
}

fn user(t: &mut Tape, fields: &mut Vec<(&str, Y)>) {
    let owners = match t.below(5) {
        0 => Y::Seq(vec![Y::plain("alice"), Y::plain("group:editors")]),
        1 => Y::plain("alice"),
        2 => Y::quoted(format!("={}", expression(t))),
        3 if !t.calm => Y::Seq(vec![]),
        _ => Y::quoted("=data.s"),
    };
    fields.push(("owners", owners));
    if t.chance(30) {
        fields.push((
            "title",
            Y::quoted(if t.chance(50) {
                format!("={}", expression(t))
            } else {
                text::hostile_text(t)
            }),
        ));
    }
    if t.chance(20) {
        fields.push((
            "priority",
            Y::quoted(if t.chance(50) {
                format!("={}", expression(t))
            } else {
                text::number(t, "2", "2147483647")
            }),
        ));
    }
    let mut expires = false;
    for field in ["due", "expires_after"] {
        if t.chance(25) {
            expires |= field == "expires_after";
            fields.push((field, Y::quoted(text::duration(t))));
        }
    }
    if t.chance(40) {
        fields.push((
            "form",
            Y::map(vec![(
                "f",
                Y::plain(t.pick(&["string", "integer", "any", "list", "boolean"])),
            )]),
        ));
    }
    if t.chance(30) {
        fields.push(("input", Y::map(vec![("k", Y::quoted(expression(t)))])));
    }
    if t.chance(40) {
        let source = if t.chance(50) {
            "output.f".to_owned()
        } else {
            expression(t)
        };
        fields.push((
            "output",
            Y::Map(vec![(
                DATA[t.below(DATA.len())].to_owned(),
                Y::quoted(source),
            )]),
        ));
    }
    if t.chance(25) {
        let action = t.pick(&["raise_priority", "notify", "reassign"]);
        let mut escalation = vec![
            ("name", Y::quoted(text::hostile_text(t))),
            ("after", Y::quoted(text::duration(t))),
            ("action", Y::plain(action)),
        ];
        if action != "raise_priority" || t.hostile(20) {
            escalation.push(("to", Y::Seq(vec![Y::plain("bob")])));
        } else {
            escalation.push(("by", Y::plain(text::number(t, "5", "2147483647"))));
        }
        let escalation = Y::map(escalation);
        fields.push(("escalations", Y::Seq(vec![escalation])));
    }
    if (expires || t.hostile(30)) && t.chance(50) {
        fields.push(("on_expiry", Y::plain(t.pick(&["continue", "abort"]))));
    }
}

/// Automic's controls: each sometimes, plain or hostile.
fn controls(t: &mut Tape, i: usize, n: usize, fields: &mut Vec<(&str, Y)>) {
    if !t.chance(50) {
        return;
    }
    for _ in 0..t.between(1, 4) {
        let before = fields.len();
        match t.below(15) {
            0 => fields.push(("breakpoint", Y::plain("true"))),
            1 => fields.push(("calendar", Y::quoted(text::id(t, "business-days")))),
            2 => fields.push(("earliest_start", Y::quoted(text::time(t)))),
            3 => fields.push(("active", Y::plain("false"))),
            4 => {
                let condition = Y::map(vec![
                    ("when", Y::quoted(expression(t))),
                    (
                        "else",
                        Y::plain(t.pick(&["wait", "skip", "block", "abort"])),
                    ),
                ]);
                fields.push((
                    "preconditions",
                    Y::map(vec![
                        ("check_interval", Y::quoted(text::duration(t))),
                        ("conditions", Y::Seq(vec![condition])),
                    ]),
                ));
            }
            5 => fields.push(("latest_start", Y::quoted(text::time(t)))),
            6 => fields.push(("latest_end", Y::quoted(text::time(t)))),
            7 => fields.push(("expected_runtime", Y::quoted(text::duration(t)))),
            8 => fields.push((
                "max_runtime",
                Y::map(vec![
                    ("after", Y::quoted(text::duration(t))),
                    ("action", Y::plain(t.pick(&["cancel", "alert", "abort"]))),
                ]),
            )),
            9 => fields.push(("min_runtime", Y::quoted(text::duration(t)))),
            10 => {
                let then = if t.chance(50) {
                    Y::plain(t.pick(&["restart", "abort", "block", "alert", "continue"]))
                } else {
                    Y::map(vec![("run", Y::plain(reference(t, i, n)))])
                };
                fields.push((
                    "postconditions",
                    Y::Seq(vec![Y::map(vec![
                        ("if", Y::quoted(expression(t))),
                        ("then", then),
                    ])]),
                ));
                if t.chance(50) {
                    fields.push(("max_restarts", Y::plain(text::number(t, "2", "100"))));
                }
            }
            11 => fields.push(("on_demand", Y::plain("true"))),
            12 => fields.push((
                "timezone",
                Y::quoted(if t.hostile(20) {
                    "Mars/Olympus"
                } else {
                    t.pick(&["Europe/Berlin", "Pacific/Kiritimati", "UTC"])
                }),
            )),
            13 => fields.push(("generate", Y::plain("activation"))),
            _ => fields.push((
                "on_timeout",
                Y::plain(t.pick(&["continue", "block", "abort"])),
            )),
        }
        // A calm case sets each field once.
        let added: Vec<&str> = fields[before..].iter().map(|(k, _)| *k).collect();
        if t.calm && fields[..before].iter().any(|(k, _)| added.contains(k)) {
            fields.truncate(before);
        }
    }
}

/// A calendar file.
pub fn calendar(t: &mut Tape) -> Y {
    let mut fields = vec![("calendar", Y::quoted(text::id(t, "business-days")))];
    if t.chance(30) {
        fields.push((
            "timezone",
            Y::quoted(t.pick(&["Europe/Berlin", "Pacific/Kiritimati", "Nowhere/City"])),
        ));
    }
    let rule = match t.below(7) {
        0 => Y::map(vec![(
            "weekdays",
            Y::Seq(vec![Y::plain("mon"), Y::plain("fri")]),
        )]),
        1 => Y::map(vec![(
            "dates",
            Y::Seq(vec![Y::plain(t.pick(&[
                "2024-03-01",
                "9999-12-31",
                "0000-01-01",
                "2024-02-30",
            ]))]),
        )]),
        2 => Y::map(vec![(
            "days_of_month",
            Y::Seq(vec![Y::plain(t.pick(&["-1", "31", "0", "128", "-129"]))]),
        )]),
        3 => Y::map(vec![(
            "cron",
            Y::quoted(t.pick(&[
                "0 0 1 1 *",
                "* * 31 2 *",
                "0 0 L * *",
                "@yearly",
                "* * * * * * 2099",
                "nonsense",
            ])),
        )]),
        4 => Y::map(vec![("calendar", Y::quoted(text::id(t, "holidays")))]),
        5 => Y::map(vec![
            ("from", Y::plain("2024-01-01")),
            (
                "to",
                Y::plain(t.pick(&["2024-12-31", "2023-01-01", "+999999-01-01"])),
            ),
        ]),
        _ => super::yaml::hostile_node(t),
    };
    fields.push((
        if t.chance(50) { "include" } else { "exclude" },
        Y::Seq(vec![rule]),
    ));
    Y::map(fields)
}
