//! API tokens through the engine on a real SQLite store: a token lets requests in as its user
//! until it expires or is revoked; its secret is shown once and kept nowhere.

use std::sync::Arc;
use std::time::Duration;

use baton_engine::{Engine, EngineError, EngineOptions, ErrorKind, ManualClock};
use baton_store::{IdentityStore, NewUser};
use baton_store_sqlite::{Durability, SqliteStore};
use chrono::TimeZone;

async fn engine(dir: &tempfile::TempDir, clock: &Arc<ManualClock>) -> Engine<SqliteStore> {
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Full).unwrap();
    store
        .add_user(
            NewUser::named("sarah"),
            baton_engine::Clock::now(clock.as_ref()),
        )
        .await
        .unwrap();
    Engine::new(store, clock.clone(), EngineOptions::default())
}

fn refusal(result: Result<baton_store::Token, EngineError>) -> ErrorKind {
    result.expect_err("the token is refused").kind()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_lets_requests_in_as_its_user_until_it_expires_or_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap(),
    ));
    let engine = engine(&dir, &clock).await;

    let (token, secret) = engine
        .create_token("sarah", Some("ci"), Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert!(
        secret.starts_with(&format!("baton_{}_", token.id))
            && secret.len() == "baton_".len() + 12 + 1 + 64,
        "{secret}"
    );
    assert_eq!(engine.authenticate(&secret).await.unwrap(), token);
    assert_eq!(token.user, "sarah");

    // Any other string is refused alike: a changed character, a prefix, garbage.
    let mut changed = secret.clone();
    changed.pop();
    changed.push(if secret.ends_with('0') { '1' } else { '0' });
    for wrong in [
        changed.as_str(),
        &secret[..secret.len() - 1],
        "baton_",
        "Bearer x",
        "",
    ] {
        assert_eq!(
            refusal(engine.authenticate(wrong).await),
            ErrorKind::Unauthenticated,
            "{wrong:?}"
        );
    }

    clock.advance(chrono::Duration::seconds(3600));
    assert_eq!(
        refusal(engine.authenticate(&secret).await),
        ErrorKind::Unauthenticated,
        "expired at its hour"
    );

    let (other, other_secret) = engine.create_token("sarah", None, None).await.unwrap();
    assert_eq!(
        engine.authenticate(&other_secret).await.unwrap().id,
        other.id
    );
    engine.revoke_token(&other.id).await.unwrap();
    assert_eq!(
        refusal(engine.authenticate(&other_secret).await),
        ErrorKind::Unauthenticated,
        "revoked"
    );
    assert_eq!(
        refusal(engine.revoke_token(&other.id).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        refusal(engine.revoke_token("nope").await),
        ErrorKind::NotFound
    );

    let listed: Vec<String> = engine
        .tokens(Some("sarah"))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, [token.id.clone(), other.id.clone()]);

    // The database holds neither secret.
    drop(engine);
    for file in std::fs::read_dir(dir.path()).unwrap() {
        // The store's writer thread may still be removing its -wal and -shm files.
        let Ok(bytes) = std::fs::read(file.unwrap().path()) else {
            continue;
        };
        for s in [&secret, &other_secret] {
            let secret_part = s.rsplit('_').next().unwrap().as_bytes();
            assert!(
                !bytes.windows(secret_part.len()).any(|w| w == secret_part),
                "a secret was stored"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_needs_a_known_user_and_a_sane_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap(),
    ));
    let engine = engine(&dir, &clock).await;
    assert_eq!(
        engine
            .create_token("ghost", None, None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        engine
            .create_token("sarah", None, Some(Duration::ZERO))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        engine
            .create_token("sarah", None, Some(Duration::from_secs(u64::MAX / 4)))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        engine.tokens(None).await.unwrap(),
        Vec::new(),
        "nothing was stored"
    );
}
