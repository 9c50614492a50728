//! The identity conformance suite: what every [`IdentityStore`] must do, written once and run
//! against each store on a fresh database per check. A store's tests get one test per check with
//! [`identity_conformance_tests!`](crate::identity_conformance_tests):
//!
//! ```ignore
//! async fn fresh() -> (SqliteStore, tempfile::TempDir) { /* a new database in a temp dir */ }
//! baton_store::identity_conformance_tests!(fresh);
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use baton_core::user_task::{Caller, PotentialOwners};

use crate::identity::{IdentityError, IdentityStore, NewUser, User};

/// Generates one `#[test]` per identity check, each on a fresh store from `$fresh`
/// (a path to an `async fn() -> (S, Guard)`).
#[macro_export]
macro_rules! identity_conformance_tests {
    ($fresh:path) => {
        $crate::identity_conformance_tests!($fresh, if $crate::conformance::always);
    };
    // Each test first asks `$ready` (a `fn() -> bool`), and passes without running the check
    // when it says no (a store whose server is not configured; `$ready` says why).
    ($fresh:path, if $ready:path) => {
        $crate::identity_conformance_tests!(@tests $ready, $fresh;
            a_new_store_has_the_built_in_operator_user,
            users_are_added_and_listed_by_name,
            a_duplicate_user_is_refused_and_changes_nothing,
            racing_adds_of_one_user_let_exactly_one_win,
            groups_are_listed_with_their_members,
            a_duplicate_group_is_refused,
            adding_a_member_needs_a_known_group_and_user,
            adding_a_member_twice_is_refused,
            removing_a_member_takes_them_out_of_the_group_only,
            removing_a_non_member_is_refused,
            groups_of_a_user_are_listed_by_name,
            is_admin_tells_administrators_apart,
            departments_are_created_with_their_first_user,
            potential_owners_resolve_to_listed_users_and_group_members,
            resolving_an_unknown_user_or_group_is_an_error,
            caller_carries_groups_and_the_admin_flag,
            invalid_names_are_refused,
            tokens_are_found_by_the_hash_of_their_secret_and_listed_per_user,
            a_token_for_an_unknown_user_is_refused,
            a_revoked_token_stays_revoked,
            a_password_hash_is_set_replaced_and_kept_per_user,
            a_password_for_an_unknown_user_is_refused,
        );
    };
    (@tests $ready:path, $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if $ready() {
                    $crate::identity_conformance::run_one($fresh, $crate::identity_conformance::$check);
                }
            }
        )*
    };
}

pub use crate::conformance::run_one;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
        .single()
        .expect("a valid time")
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// john (reviewers), mike (reviewers, legal), sarah (legal, department legal), root (admin).
async fn people<S: IdentityStore>(store: &S) {
    for user in [
        NewUser::named("john"),
        NewUser::named("mike"),
        NewUser::named("sarah").in_department("legal"),
        NewUser::named("root").admin(),
    ] {
        store.add_user(user, t0()).await.expect("the user is added");
    }
    for group in ["reviewers", "legal"] {
        store
            .add_group(group, t0())
            .await
            .expect("the group is added");
    }
    for (group, user) in [
        ("reviewers", "john"),
        ("reviewers", "mike"),
        ("legal", "mike"),
        ("legal", "sarah"),
    ] {
        store
            .add_member(group, user)
            .await
            .expect("the member is added");
    }
}

pub async fn a_new_store_has_the_built_in_operator_user<S: IdentityStore>(store: S) {
    let users: Vec<(String, Option<String>, bool)> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.name, u.department, u.admin))
        .collect();
    assert_eq!(
        users,
        vec![(crate::identity::OPERATOR.to_owned(), None, false)]
    );
    assert_eq!(
        store.caller("operator").await.unwrap(),
        Caller::new("operator")
    );
    let again = store.add_user(NewUser::named("operator"), t0()).await;
    assert!(
        matches!(again, Err(IdentityError::DuplicateUser(ref n)) if n == "operator"),
        "{again:?}"
    );
}

pub async fn users_are_added_and_listed_by_name<S: IdentityStore>(store: S) {
    let sarah = store
        .add_user(NewUser::named("sarah").in_department("legal"), t0())
        .await
        .unwrap();
    assert_eq!(
        sarah,
        User {
            name: "sarah".into(),
            department: Some("legal".into()),
            admin: false,
            created_at: t0()
        }
    );
    store
        .add_user(NewUser::named("admin").admin(), t0())
        .await
        .unwrap();
    store.add_user(NewUser::named("john"), t0()).await.unwrap();
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["admin", "john", "operator", "sarah"]);
    assert_eq!(store.user("sarah").await.unwrap(), Some(sarah));
    assert_eq!(store.user("nobody").await.unwrap(), None);
}

pub async fn a_duplicate_user_is_refused_and_changes_nothing<S: IdentityStore>(store: S) {
    store.add_user(NewUser::named("john"), t0()).await.unwrap();
    let again = store
        .add_user(NewUser::named("john").in_department("sales").admin(), t0())
        .await;
    assert!(
        matches!(again, Err(IdentityError::DuplicateUser(ref n)) if n == "john"),
        "{again:?}"
    );
    let john = store.user("john").await.unwrap().unwrap();
    assert_eq!((john.department, john.admin), (None, false));
    assert!(
        store.departments().await.unwrap().is_empty(),
        "the refused add created no department"
    );
}

pub async fn racing_adds_of_one_user_let_exactly_one_win<S: IdentityStore + 'static>(store: S) {
    let store = Arc::new(store);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.add_user(NewUser::named("racer"), t0()).await })
        })
        .collect();
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.expect("the racer finishes"));
    }
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .filter(|r| r.is_err())
        .all(|r| matches!(r, Err(IdentityError::DuplicateUser(_)))));
    assert_eq!(
        store.users().await.unwrap().len(),
        2,
        "racer and the built-in operator"
    );
}

pub async fn groups_are_listed_with_their_members<S: IdentityStore>(store: S) {
    people(&store).await;
    store.add_group("empty", t0()).await.unwrap();
    let groups: Vec<(String, Vec<String>)> = store
        .groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.name, g.members))
        .collect();
    assert_eq!(
        groups,
        [
            ("empty".to_owned(), vec![]),
            (
                "legal".to_owned(),
                vec!["mike".to_owned(), "sarah".to_owned()]
            ),
            (
                "reviewers".to_owned(),
                vec!["john".to_owned(), "mike".to_owned()]
            ),
        ]
    );
}

pub async fn a_duplicate_group_is_refused<S: IdentityStore>(store: S) {
    store.add_group("legal", t0()).await.unwrap();
    assert!(
        matches!(store.add_group("legal", t0()).await, Err(IdentityError::DuplicateGroup(ref g)) if g == "legal")
    );
    assert_eq!(store.groups().await.unwrap().len(), 1);
}

pub async fn adding_a_member_needs_a_known_group_and_user<S: IdentityStore>(store: S) {
    store.add_user(NewUser::named("sarah"), t0()).await.unwrap();
    store.add_group("legal", t0()).await.unwrap();
    assert!(
        matches!(store.add_member("nope", "sarah").await, Err(IdentityError::UnknownGroup(ref g)) if g == "nope")
    );
    assert!(
        matches!(store.add_member("legal", "nobody").await, Err(IdentityError::UnknownUser(ref u)) if u == "nobody")
    );
    assert!(store.groups().await.unwrap()[0].members.is_empty());
}

pub async fn adding_a_member_twice_is_refused<S: IdentityStore>(store: S) {
    people(&store).await;
    let again = store.add_member("legal", "sarah").await;
    assert!(
        matches!(again, Err(IdentityError::AlreadyMember { ref group, ref user }) if group == "legal" && user == "sarah"),
        "{again:?}"
    );
}

pub async fn removing_a_member_takes_them_out_of_the_group_only<S: IdentityStore>(store: S) {
    people(&store).await;
    store.remove_member("legal", "mike").await.unwrap();
    assert_eq!(store.groups_of("mike").await.unwrap(), ["reviewers"]);
    assert!(
        store.user("mike").await.unwrap().is_some(),
        "the user stays"
    );
    let legal = store
        .groups()
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.name == "legal")
        .unwrap();
    assert_eq!(legal.members, ["sarah"]);
}

pub async fn removing_a_non_member_is_refused<S: IdentityStore>(store: S) {
    people(&store).await;
    assert!(matches!(
        store.remove_member("legal", "john").await,
        Err(IdentityError::NotMember { .. })
    ));
    assert!(matches!(
        store.remove_member("nope", "john").await,
        Err(IdentityError::UnknownGroup(_))
    ));
    assert!(matches!(
        store.remove_member("legal", "nobody").await,
        Err(IdentityError::UnknownUser(_))
    ));
}

pub async fn groups_of_a_user_are_listed_by_name<S: IdentityStore>(store: S) {
    people(&store).await;
    assert_eq!(
        store.groups_of("mike").await.unwrap(),
        ["legal", "reviewers"]
    );
    assert!(store.groups_of("root").await.unwrap().is_empty());
    assert!(matches!(
        store.groups_of("nobody").await,
        Err(IdentityError::UnknownUser(_))
    ));
}

pub async fn is_admin_tells_administrators_apart<S: IdentityStore>(store: S) {
    people(&store).await;
    assert!(store.is_admin("root").await.unwrap());
    assert!(!store.is_admin("john").await.unwrap());
    assert!(matches!(
        store.is_admin("nobody").await,
        Err(IdentityError::UnknownUser(_))
    ));
}

pub async fn departments_are_created_with_their_first_user<S: IdentityStore>(store: S) {
    store
        .add_user(NewUser::named("sarah").in_department("legal"), t0())
        .await
        .unwrap();
    store
        .add_user(NewUser::named("paul").in_department("legal"), t0())
        .await
        .unwrap();
    store
        .add_user(NewUser::named("ann").in_department("editorial"), t0())
        .await
        .unwrap();
    store.add_user(NewUser::named("john"), t0()).await.unwrap();
    assert_eq!(store.departments().await.unwrap(), ["editorial", "legal"]);
    assert_eq!(
        store
            .user("paul")
            .await
            .unwrap()
            .unwrap()
            .department
            .as_deref(),
        Some("legal")
    );
}

pub async fn potential_owners_resolve_to_listed_users_and_group_members<S: IdentityStore>(
    store: S,
) {
    people(&store).await;
    let owners = PotentialOwners::group("legal")
        .and_group("reviewers")
        .and_user("root")
        .and_user("sarah");
    assert_eq!(
        store.resolve_potential_owners(&owners).await.unwrap(),
        set(&["john", "mike", "root", "sarah"])
    );
    assert_eq!(
        store
            .resolve_potential_owners(&PotentialOwners::group("legal"))
            .await
            .unwrap(),
        set(&["mike", "sarah"])
    );
    store.add_group("empty", t0()).await.unwrap();
    assert!(store
        .resolve_potential_owners(&PotentialOwners::group("empty"))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .resolve_potential_owners(&PotentialOwners::default())
        .await
        .unwrap()
        .is_empty());
}

pub async fn resolving_an_unknown_user_or_group_is_an_error<S: IdentityStore>(store: S) {
    people(&store).await;
    let unknown_group = store
        .resolve_potential_owners(&PotentialOwners::group("legal").and_group("ghosts"))
        .await;
    assert!(
        matches!(unknown_group, Err(IdentityError::UnknownGroup(ref g)) if g == "ghosts"),
        "{unknown_group:?}"
    );
    let unknown_user = store
        .resolve_potential_owners(&PotentialOwners::user("casper"))
        .await;
    assert!(
        matches!(unknown_user, Err(IdentityError::UnknownUser(ref u)) if u == "casper"),
        "{unknown_user:?}"
    );
}

pub async fn caller_carries_groups_and_the_admin_flag<S: IdentityStore>(store: S) {
    people(&store).await;
    assert_eq!(
        store.caller("mike").await.unwrap(),
        Caller::new("mike").in_group("legal").in_group("reviewers")
    );
    assert_eq!(
        store.caller("root").await.unwrap(),
        Caller::new("root").admin()
    );
    assert!(matches!(
        store.caller("nobody").await,
        Err(IdentityError::UnknownUser(_))
    ));
}

pub async fn invalid_names_are_refused<S: IdentityStore>(store: S) {
    for bad in ["", " john", "john doe", "-x", "a/b", &"x".repeat(65)] {
        let added = store.add_user(NewUser::named(bad), t0()).await;
        assert!(
            matches!(added, Err(IdentityError::InvalidName { kind: "user", .. })),
            "user `{bad}`: {added:?}"
        );
        assert!(
            matches!(
                store.add_group(bad, t0()).await,
                Err(IdentityError::InvalidName { kind: "group", .. })
            ),
            "group `{bad}`"
        );
    }
    let bad_department = store
        .add_user(NewUser::named("ok").in_department("no way"), t0())
        .await;
    assert!(matches!(
        bad_department,
        Err(IdentityError::InvalidName {
            kind: "department",
            ..
        })
    ));
    for good in ["sarah", "sarah.connor", "s_c-2", "sarah@example.com", "Zoë"] {
        store
            .add_user(NewUser::named(good), t0())
            .await
            .unwrap_or_else(|e| panic!("`{good}` is a fine name: {e}"));
    }
    assert!(store.users().await.unwrap().iter().all(|u| u.name != "ok"));
}

fn new_token(id: &str, user: &str, hash: &str) -> crate::token::NewToken {
    crate::token::NewToken {
        id: id.into(),
        user: user.into(),
        name: Some(format!("{id} for {user}")),
        secret_hash: hash.into(),
        created_at: t0(),
        expires_at: None,
    }
}

pub async fn tokens_are_found_by_the_hash_of_their_secret_and_listed_per_user<
    S: IdentityStore + crate::token::TokenStore,
>(
    store: S,
) {
    people(&store).await;
    let expires = Some(t0() + chrono::Duration::days(30));
    let first = store
        .add_token(crate::token::NewToken {
            expires_at: expires,
            ..new_token("t1", "john", "aa")
        })
        .await
        .unwrap();
    assert_eq!(
        first,
        crate::token::Token {
            id: "t1".into(),
            user: "john".into(),
            name: Some("t1 for john".into()),
            created_at: t0(),
            expires_at: expires,
            revoked_at: None
        }
    );
    store
        .add_token(new_token("t2", "sarah", "bb"))
        .await
        .unwrap();
    store
        .add_token(new_token("t3", "john", "cc"))
        .await
        .unwrap();
    assert_eq!(
        store.token_by_hash("aa").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.token_by_hash("a").await.unwrap(),
        None,
        "only the whole hash finds it"
    );
    let ids =
        |tokens: Vec<crate::token::Token>| tokens.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(store.tokens(Some("john")).await.unwrap()), ["t1", "t3"]);
    assert_eq!(ids(store.tokens(None).await.unwrap()), ["t1", "t2", "t3"]);
    assert!(first.is_valid_at(t0()) && !first.is_valid_at(t0() + chrono::Duration::days(30)));
    let again = store.add_token(new_token("t4", "mike", "aa")).await;
    assert!(
        again.is_err(),
        "two tokens cannot share a secret: {again:?}"
    );
}

pub async fn a_token_for_an_unknown_user_is_refused<S: IdentityStore + crate::token::TokenStore>(
    store: S,
) {
    let refused = store.add_token(new_token("t1", "ghost", "aa")).await;
    assert!(
        matches!(refused, Err(crate::token::TokenError::Identity(IdentityError::UnknownUser(ref u))) if u == "ghost"),
        "{refused:?}"
    );
    assert_eq!(store.tokens(None).await.unwrap(), Vec::new());
}

pub async fn a_revoked_token_stays_revoked<S: IdentityStore + crate::token::TokenStore>(store: S) {
    people(&store).await;
    store
        .add_token(new_token("t1", "john", "aa"))
        .await
        .unwrap();
    let later = t0() + chrono::Duration::hours(1);
    let revoked = store.revoke_token("t1", later).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(later));
    assert!(!revoked.is_valid_at(later));
    assert_eq!(store.token_by_hash("aa").await.unwrap(), Some(revoked));
    let twice = store.revoke_token("t1", later).await;
    assert!(
        matches!(twice, Err(crate::token::TokenError::AlreadyRevoked(ref id)) if id == "t1"),
        "{twice:?}"
    );
    let unknown = store.revoke_token("nope", later).await;
    assert!(
        matches!(unknown, Err(crate::token::TokenError::UnknownToken(ref id)) if id == "nope"),
        "{unknown:?}"
    );
}

pub async fn a_password_hash_is_set_replaced_and_kept_per_user<S: IdentityStore>(store: S) {
    people(&store).await;
    assert_eq!(
        store.password_hash("john").await.unwrap(),
        None,
        "nobody has a password at first"
    );
    store
        .set_password_hash("john", "$argon2id$first", t0())
        .await
        .unwrap();
    store
        .set_password_hash("mike", "$argon2id$mike", t0())
        .await
        .unwrap();
    store
        .set_password_hash(
            "john",
            "$argon2id$second",
            t0() + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(
        store.password_hash("john").await.unwrap().as_deref(),
        Some("$argon2id$second")
    );
    assert_eq!(
        store.password_hash("mike").await.unwrap().as_deref(),
        Some("$argon2id$mike")
    );
    assert_eq!(store.password_hash("sarah").await.unwrap(), None);
}

pub async fn a_password_for_an_unknown_user_is_refused<S: IdentityStore>(store: S) {
    let refused = store.set_password_hash("ghost", "$argon2id$x", t0()).await;
    assert!(
        matches!(refused, Err(IdentityError::UnknownUser(ref u)) if u == "ghost"),
        "{refused:?}"
    );
    assert_eq!(store.password_hash("ghost").await.unwrap(), None);
}
