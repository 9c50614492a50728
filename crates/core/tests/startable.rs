//! Who may start a process (Stardust: a spawn menu lists the startable processes a user is
//! authorized to start): `startable` and `startable_by` on a definition.

use baton_core::parse_definition;
use baton_core::people::Caller;

fn definition(head: &str) -> baton_core::Definition {
    let source = format!("id: p\n{head}\ntasks:\n  - {{id: a, kind: end}}\n");
    parse_definition("p.yaml", &source).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn without_a_say_every_user_may_start_a_process() {
    let open = definition("");
    assert!(open.startable && open.startable_by.is_none());
    assert!(open.may_start(&Caller::new("anyone")));
}

#[test]
fn startable_by_names_the_users_and_groups_who_may_start_it_and_administrators_always_may() {
    let listed = definition("startable_by: [mary, group:clerks]");
    assert!(listed.may_start(&Caller::new("mary")));
    assert!(listed.may_start(&Caller::new("john").in_group("clerks")));
    assert!(!listed.may_start(&Caller::new("john").in_group("sales")));
    assert!(listed.may_start(&Caller::new("root").admin()));
}

#[test]
fn a_process_that_is_not_startable_is_started_by_nobody_but_its_callers() {
    let hidden = definition("startable: false");
    assert!(!hidden.may_start(&Caller::new("mary")));
    assert!(!hidden.may_start(&Caller::new("root").admin()));
}

#[test]
fn a_startable_by_entry_that_names_nobody_is_a_deploy_error_at_its_position() {
    let e = parse_definition(
        "p.yaml",
        "id: p\nstartable_by: [mary, 'group:']\ntasks:\n  - {id: a, kind: end}\n",
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "p.yaml:2:22: `group:` is not a user or `group:NAME`\n  hint: for example `startable_by: [mary, group:clerks]`");
}
