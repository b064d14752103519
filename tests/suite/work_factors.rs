//! A stored hash whose work factor is beyond the bounds (one a database could hold from an
//! older import, a copy or a hand edit) is never computed: its login is a mismatch, at once.

use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, Version};
use gatehouse::store::NewUser;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{PASSWORD, TestApp, assert_problem};

/// Puts a user with `hash` straight into the store, as an old import would have.
async fn stored_with_hash(app: &TestApp, username: &str, hash: String) {
    let user = NewUser {
        id: Uuid::now_v7(),
        username: gatehouse::domain::Username::parse(username).expect("username"),
        email: None,
        password_hash: hash,
        roles: vec![gatehouse::domain::Role::user()],
    };
    app.state.store.create_users(vec![user]).await.expect("user stored");
}

/// A real argon2id hash of `password` (cheap to make: little memory).
fn argon2_hash(password: &str, m: u32, t: u32, p: u32) -> String {
    let params = Params::new(m, t, p, Some(32)).expect("params");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = [7u8; 16];
    let mut out = [0u8; 32];
    argon.hash_password_into(password.as_bytes(), &salt, &mut out).expect("hashed");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("params string"),
        salt: Some(Salt::new(&salt).expect("salt")),
        hash: Some(Output::new(&out).expect("output")),
    }
    .to_string()
}

#[tokio::test]
async fn an_argon2_hash_beyond_the_work_factor_bounds_never_matches_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    stored_with_hash(&app, "many_passes", argon2_hash(PASSWORD, 8, 21, 1)).await;
    stored_with_hash(&app, "many_lanes", argon2_hash(PASSWORD, 8 * 17, 1, 17)).await;
    stored_with_hash(&app, "within_bounds", argon2_hash(PASSWORD, 8 * 16, 20, 16)).await;

    for username in ["many_passes", "many_lanes"] {
        let res = app.post_login(username, PASSWORD).await;

        assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    assert_eq!(app.post_login("within_bounds", PASSWORD).await.status(), StatusCode::OK, "at the bounds still verifies");
}

#[tokio::test]
async fn a_login_against_a_bcrypt_hash_above_cost_16_is_refused_at_once() {
    let app = TestApp::spawn().await;
    // Cost 17: about 2^17 key expansions, seconds of one core; cost 31 would be days.
    stored_with_hash(&app, "slow_bcrypt", "$2b$17$Eu14af7qOKeUIEUUXPo1/.mjZnSpBDhfCT6NEAcV6ChPjdvSv9jMW".into()).await;

    let started = Instant::now();
    let res = app.post_login("slow_bcrypt", PASSWORD).await;
    let took = started.elapsed();

    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert!(took < Duration::from_secs(2), "took {took:?}");
}
