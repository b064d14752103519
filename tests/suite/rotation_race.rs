//! A session revoked between the read of its refresh token and the rotation's write: the
//! write looks at the session itself, so the revoked session gets no new token.

use gatehouse::auth::refresh;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, assert_problem};

#[tokio::test]
async fn a_refresh_token_read_before_its_session_was_revoked_cannot_be_rotated_after() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let presented = refresh::hash(&alice.refresh);
    // The first half of a rotation: the token is read while its session is live.
    let record = app.state.store.refresh_record(&presented).await.expect("store").expect("the token is known");
    assert!(!record.session_revoked);
    // The session is revoked (logout) before the rotation writes.
    assert_eq!(app.post("/v1/auth/logout", &json!({}), Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);
    let successor = refresh::successor(&app.state.sessions.refresh_secret, &alice.refresh);

    let rotated = app.state.store.rotate_refresh(record.session_id, &presented, &refresh::hash(&successor)).await.expect("store");

    assert!(!rotated, "a revoked session's token was rotated");
    let live = app.state.store.live_refresh_hash(record.session_id).await.expect("store");
    assert_eq!(live, Some(presented), "the presented token is still the session's last one, unrotated");
    assert_problem(app.post_refresh(&successor).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.post_refresh(&alice.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}
