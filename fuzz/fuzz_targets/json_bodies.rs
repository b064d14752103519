//! Every JSON request body through the same extractor the server uses, then through the
//! parsers that the handlers apply to its fields: any input must give a value or a
//! problem, never a panic.
#![no_main]

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::Request;
use gatehouse::domain::{Email, PasswordPolicy, Username};
use gatehouse::http::auth::{LoginRequest, RefreshRequest, RegisterRequest};
use gatehouse::http::extract::{ApiJson, JsonBody};
use gatehouse::http::me::{ChangePasswordRequest, UpdateMeRequest};
use libfuzzer_sys::fuzz_target;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"))
}

fn extract<T: JsonBody>(data: &[u8]) -> Option<T> {
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/json")
        .body(Body::from(data.to_vec()))
        .expect("request");
    runtime().block_on(ApiJson::<T>::from_request(request, &())).ok().map(|ApiJson(v)| v)
}

const POLICY: PasswordPolicy = PasswordPolicy { min_length: 8 };

fuzz_target!(|data: &[u8]| {
    if let Some(r) = extract::<RegisterRequest>(data) {
        let _ = Username::parse(&r.username);
        if let Some(email) = &r.email {
            let _ = Email::parse(email);
        }
        let _ = POLICY.parse(&r.password, &[&r.username]);
    }
    if let Some(r) = extract::<LoginRequest>(data) {
        let _ = gatehouse::auth::lockout::attempt_key(&r.username);
        let _ = gatehouse::auth::legacy::scheme_of(&r.password);
    }
    if let Some(r) = extract::<RefreshRequest>(data) {
        let _ = gatehouse::auth::refresh::looks_valid(&r.refresh_token);
    }
    if let Some(r) = extract::<ChangePasswordRequest>(data) {
        let _ = POLICY.parse(&r.new_password, &[]);
    }
    if let Some(UpdateMeRequest { email: Some(Some(email)) }) = extract::<UpdateMeRequest>(data) {
        let _ = Email::parse(&email);
    }
});
