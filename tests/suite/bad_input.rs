//! Hostile input, table-driven: every JSON route gets truncated JSON, wrong types, huge
//! numbers, deep nesting, a 10 MB body, invalid UTF-8, NUL bytes, injection strings and
//! overlong strings, and answers a 4xx problem document each time; header abuse answers a
//! 4xx or closes the connection. Never a 5xx, and the server stays healthy.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp};

/// What a case may answer.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A 4xx problem document with a `code`.
    Problem,
    /// This exact status, as a problem document.
    Status(StatusCode),
    /// Any answer but a 5xx (values that are legitimately accepted, such as a template
    /// named like an SQL injection); a problem document when it is an error.
    NoServerError,
}

struct Route {
    method: Method,
    path: String,
    token: Option<String>,
    /// The string fields of the body, and whether a plain string is a fine value for them.
    fields: &'static [&'static str],
    strings_accepted: bool,
}

/// A JSON object with every field set to the same raw JSON text.
fn every_field(fields: &[&str], raw: &str) -> Vec<u8> {
    let members: Vec<String> = fields.iter().map(|f| format!("\"{f}\": {raw}")).collect();
    format!("{{{}}}", members.join(", ")).into_bytes()
}

fn cases(route: &Route) -> Vec<(&'static str, Vec<u8>, Expect)> {
    let f = route.fields;
    let string_ok = if route.strings_accepted { Expect::NoServerError } else { Expect::Problem };
    let nested = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let mut invalid_utf8 = b"{\"".to_vec();
    invalid_utf8.extend_from_slice(f[0].as_bytes());
    invalid_utf8.extend_from_slice(b"\": \"\xff\xfe\xc3\x28\"}");
    let mut raw_nul = b"{\"".to_vec();
    raw_nul.extend_from_slice(f[0].as_bytes());
    raw_nul.extend_from_slice(b"\": \"a\x00b\"}");
    vec![
        ("empty body", Vec::new(), Expect::Status(StatusCode::BAD_REQUEST)),
        ("truncated JSON", every_field(f, "\"abc").into_iter().take(12).collect(), Expect::Status(StatusCode::BAD_REQUEST)),
        ("a JSON array", b"[1, 2, 3]".to_vec(), Expect::Status(StatusCode::BAD_REQUEST)),
        ("a JSON string", b"\"hello\"".to_vec(), Expect::Status(StatusCode::BAD_REQUEST)),
        ("numbers for strings", every_field(f, "12345"), Expect::Problem),
        ("booleans for strings", every_field(f, "true"), Expect::Problem),
        ("objects for strings", every_field(f, "{\"a\": 1}"), Expect::Problem),
        ("1e400", every_field(f, "1e400"), Expect::Problem),
        ("a huge integer", every_field(f, "99999999999999999999999"), Expect::Problem),
        ("NaN", every_field(f, "NaN"), Expect::Problem),
        ("10,000 nested arrays", every_field(f, &nested), Expect::Problem),
        ("10,000 nested objects", format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes(), Expect::Problem),
        ("invalid UTF-8", invalid_utf8, Expect::Status(StatusCode::BAD_REQUEST)),
        ("a raw NUL byte in a string", raw_nul, Expect::Status(StatusCode::BAD_REQUEST)),
        ("escaped NUL inside strings", every_field(f, "\"ab\\u0000cd\""), Expect::Problem),
        ("a lone surrogate", every_field(f, "\"\\ud800\""), Expect::Problem),
        ("SQL injection", every_field(f, "\"' OR 1=1 --\""), string_ok),
        ("SQL injection, stacked", every_field(f, "\"x'); DROP TABLE users; --\""), string_ok),
        ("NoSQL operator object", every_field(f, "{\"$ne\": null}"), Expect::Problem),
        ("NoSQL operator string", every_field(f, "\"{\\\"$gt\\\": \\\"\\\"}\""), string_ok),
        ("overlong strings", every_field(f, &format!("\"{}\"", "x".repeat(70_000))), Expect::Problem),
        ("10 MB body", every_field(f, &format!("\"{}\"", "y".repeat(10 * 1024 * 1024))), Expect::Status(StatusCode::PAYLOAD_TOO_LARGE)),
        ("duplicate keys of two types", format!("{{\"{0}\": \"a\", \"{0}\": 5}}", f[0]).into_bytes(), Expect::Problem),
    ]
}

async fn check_problem(route: &Route, case: &str, res: reqwest::Response, expect: Expect) {
    let status = res.status();
    let what = format!("{} {} with {case}", route.method, route.path);
    assert!(!status.is_server_error(), "{what}: {status}");
    if status.is_success() {
        assert!(matches!(expect, Expect::NoServerError), "{what}: {status}");
        return;
    }
    match expect {
        Expect::Status(wanted) => assert_eq!(status, wanted, "{what}"),
        Expect::Problem | Expect::NoServerError => assert!(status.is_client_error(), "{what}: {status}"),
    }
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert_eq!(content_type, "application/problem+json", "{what}");
    let body: Value = res.json().await.unwrap_or_else(|e| panic!("{what}: problem JSON: {e}"));
    assert!(body["code"].is_string() && body["detail"].is_string(), "{what}: {body}");
    assert_eq!(body["status"], status.as_u16(), "{what}");
}

async fn healthy(app: &TestApp, after: &str) {
    let res = app.get("/health", None).await;
    assert_eq!(res.status(), StatusCode::OK, "health after {after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_route_answers_hostile_bodies_with_a_4xx_problem_and_stays_healthy() {
    let app = TestApp::spawn().await;
    let admin = app.admin("boss").await;
    let user = app.user("plain").await;
    let target = app.user("target").await;
    let res = app.post("/v1/templates", &json!({"name": "mine"}), Some(&user.access)).await;
    let template: Value = res.json().await.expect("template");
    let template_id = template["id"].as_str().expect("id");
    let routes = [
        Route {
            method: Method::POST,
            path: "/v1/auth/register".into(),
            token: None,
            fields: &["username", "email", "password"],
            strings_accepted: false,
        },
        Route {
            method: Method::POST,
            path: "/v1/auth/login".into(),
            token: None,
            fields: &["username", "password"],
            strings_accepted: false,
        },
        Route { method: Method::POST, path: "/v1/auth/refresh".into(), token: None, fields: &["refresh_token"], strings_accepted: false },
        Route {
            method: Method::PATCH,
            path: "/v1/auth/me".into(),
            token: Some(user.access.clone()),
            fields: &["email", "current_password", "code"],
            strings_accepted: false,
        },
        Route {
            method: Method::POST,
            path: "/v1/auth/password".into(),
            token: Some(user.access.clone()),
            fields: &["current_password", "new_password"],
            strings_accepted: false,
        },
        Route {
            method: Method::POST,
            path: "/v1/templates".into(),
            token: Some(user.access.clone()),
            fields: &["name", "content"],
            strings_accepted: true,
        },
        Route {
            method: Method::PATCH,
            path: format!("/v1/templates/{template_id}"),
            token: Some(user.access.clone()),
            fields: &["name", "content"],
            strings_accepted: true,
        },
        Route {
            method: Method::PATCH,
            path: format!("/v1/users/{}", target.id),
            token: Some(admin.access.clone()),
            fields: &["roles", "disabled", "email"],
            strings_accepted: false,
        },
    ];

    for route in &routes {
        for (case, body, expect) in cases(route) {
            let mut req =
                app.client.request(route.method.clone(), app.url(&route.path)).header("content-type", "application/json").body(body);
            if let Some(token) = &route.token {
                req = req.bearer_auth(token);
            }
            match req.send().await {
                Ok(res) => check_problem(route, case, res, expect).await,
                // A server may stop reading a 10 MB body and close: that is a refusal too.
                Err(err) if case == "10 MB body" => assert!(!err.is_timeout(), "{case}: {err}"),
                Err(err) => panic!("{} {} with {case}: {err}", route.method, route.path),
            }
        }
        healthy(&app, &route.path).await;
    }

    // Nothing above changed anyone: the tokens still work and the target is untouched.
    let me: Value = app.get_me(&target.access).await.json().await.expect("target");
    assert_eq!((me["roles"].clone(), me["disabled"].clone(), me["email"].clone()), (json!(["user"]), json!(false), Value::Null));
    assert_eq!(app.login("plain", PASSWORD).await.username, "plain");
}

#[tokio::test]
async fn header_abuse_is_refused_with_a_4xx_or_a_closed_connection_never_a_5xx() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let login = json!({"username": "alice", "password": PASSWORD});

    let huge = "h".repeat(100 * 1024);
    let mut many = reqwest::header::HeaderMap::new();
    for i in 0..500 {
        many.insert(reqwest::header::HeaderName::from_bytes(format!("x-junk-{i}").as_bytes()).expect("name"), "v".parse().expect("value"));
    }
    let attempts = [
        ("a 100 KB header", app.client.post(app.url("/v1/auth/login")).header("x-huge", huge.as_str()).json(&login)),
        ("a 100 KB bearer token", app.client.get(app.url("/v1/auth/me")).bearer_auth(&huge)),
        ("a 100 KB x-access-token", app.client.get(app.url("/v1/auth/me")).header("x-access-token", huge.as_str())),
        ("500 headers", app.client.post(app.url("/v1/auth/login")).headers(many).json(&login)),
        (
            "a 100 KB content type",
            app.client.post(app.url("/v1/auth/login")).header("content-type", format!("application/json; x={huge}")).body("{}"),
        ),
    ];
    for (case, request) in attempts {
        match request.send().await {
            Ok(res) => {
                let status = res.status();
                assert!(status.is_client_error(), "{case}: {status}");
            }
            Err(err) => assert!(!err.is_timeout(), "{case}: {err}"),
        }
        healthy(&app, case).await;
    }
    let res = app.post_login("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "a normal login works after the abuse");
}

#[tokio::test]
async fn a_header_block_over_the_limit_is_a_431_problem() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url("/health")).header("x-padding", "p".repeat(40 * 1024)).send().await.expect("sent");
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let body: Value = res.json().await.expect("problem");
    assert_eq!(body["code"], "headers_too_large");
}
