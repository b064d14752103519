//! The served schema states the rules the server enforces: a client generated from it is
//! never refused a request the schema allows, nor let through with one it forbids.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, assert_problem};

async fn openapi(app: &TestApp) -> Value {
    let res = app.get("/openapi.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("OpenAPI JSON")
}

/// The schema of query parameter `name` of `GET path`.
fn query_schema<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
    let parameters = doc["paths"][path]["get"]["parameters"].as_array().expect("parameters");
    let parameter = parameters.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{path} has no parameter {name}"));
    &parameter["schema"]
}

#[tokio::test]
async fn the_schema_states_the_largest_page_and_the_server_takes_it_but_refuses_one_more() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let doc = openapi(&app).await;

    for path in ["/v1/users", "/v1/audit", "/v1/templates", "/v1/auth/me/audit"] {
        let max = query_schema(&doc, path, "page")["maximum"].as_u64().unwrap_or_else(|| panic!("{path}: page has a maximum"));
        assert_eq!(max, 2_147_483_647, "{path}");

        let res = app.get(&format!("{path}?page={max}"), Some(&admin.access)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path} page={max}");
        let body: Value = res.json().await.expect("list");
        assert_eq!(body["page"], max);
        assert_eq!(body["items"], json!([]));

        let res = app.get(&format!("{path}?page={}", max + 1), Some(&admin.access)).await;
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "page", "{path}: {problem}");
    }
}

#[tokio::test]
async fn the_schema_lists_every_audit_type_and_the_server_takes_each_and_nothing_else() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let doc = openapi(&app).await;

    let types = query_schema(&doc, "/v1/audit", "type")["enum"].as_array().expect("type is an enum").clone();
    assert_eq!(types.len(), 49, "{types:?}");
    assert!(types.contains(&json!("user.invited")) && types.contains(&json!("invitation.revoked")), "{types:?}");
    assert!(
        types.contains(&json!("login.failed"))
            && types.contains(&json!("passkey.removed"))
            && types.contains(&json!("webhook.secret_rotated")),
        "{types:?}"
    );
    assert!(types.contains(&json!("login.email_code_requested")), "{types:?}");
    assert!(types.contains(&json!("org.member_roles_changed")), "{types:?}");
    for kind in &types {
        let kind = kind.as_str().expect("a string");
        let res = app.get_query("/v1/audit", &[("type", kind)], Some(&admin.access)).await;
        assert_eq!(res.status(), StatusCode::OK, "type={kind}");
    }

    let res = app.get_query("/v1/audit", &[("type", "login.maybe")], Some(&admin.access)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn the_schema_states_the_role_rule_and_the_server_keeps_to_its_bounds() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let doc = openapi(&app).await;

    let role = query_schema(&doc, "/v1/users", "role");
    assert_eq!(role["pattern"], "^[a-z0-9_-]{1,32}$");
    assert_eq!(role["maxLength"], 32);
    let roles = &doc["components"]["schemas"]["UpdateUserRequest"]["properties"]["roles"];
    assert_eq!(roles["items"]["pattern"], "^[a-z0-9_-]{1,32}$");
    assert_eq!(roles["maxItems"], 32);

    let longest = "a".repeat(32);
    let res = app.get_query("/v1/users", &[("role", &longest)], Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let too_long = "a".repeat(33);
    let res = app.get_query("/v1/users", &[("role", &too_long)], Some(&admin.access)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app.patch(&format!("/v1/users/{}", admin.id), &json!({ "roles": ["admin", too_long] }), Some(&admin.access)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn ids_in_another_form_than_the_hyphenated_uuid_of_the_schema_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let res = app.post("/v1/templates", &json!({ "name": "welcome" }), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.expect("template")["id"].as_str().expect("id").to_string();
    let doc = openapi(&app).await;
    assert_eq!(query_schema(&doc, "/v1/audit", "user_id")["format"], "uuid");

    assert_eq!(app.get(&format!("/v1/templates/{id}"), Some(&admin.access)).await.status(), StatusCode::OK);
    let simple = id.replace('-', "");
    for other in [simple.clone(), format!("{{{id}}}"), format!("urn:uuid:{id}")] {
        let res = app.get(&format!("/v1/templates/{other}"), Some(&admin.access)).await;
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }

    let res = app.get_query("/v1/audit", &[("user_id", &admin.id)], Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.get_query("/v1/audit", &[("user_id", &admin.id.replace('-', ""))], Some(&admin.access)).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "user_id");
}

#[tokio::test]
async fn the_schema_states_the_configured_shortest_password() {
    let app = TestApp::spawn_with(|config| config.password_min_length = 12).await;
    let doc = openapi(&app).await;

    let schemas = &doc["components"]["schemas"];
    for (schema, field) in
        [("RegisterRequest", "password"), ("ChangePasswordRequest", "new_password"), ("ResetPasswordRequest", "new_password")]
    {
        assert_eq!(schemas[schema]["properties"][field]["minLength"], 12, "{schema}.{field}");
    }

    let res = app.post_register("alice", None, "tangerine-7q").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.post_register("bob", None, "tangerine-7").await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "password");
}

#[tokio::test]
async fn the_schema_states_the_template_name_and_content_rules() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;

    for schema in ["CreateTemplateRequest", "UpdateTemplateRequest"] {
        let properties = &doc["components"]["schemas"][schema]["properties"];
        let name = properties["name"]["pattern"].as_str().expect("name pattern");
        assert!(name.starts_with(r"^[^\u0000-\u001F\u007F-\u009F]*"), "{schema}: {name}");
        assert_eq!(properties["name"]["maxLength"], 200, "{schema}");
        assert_eq!(properties["content"]["pattern"], r"^[^\u0000]*$", "{schema}");
        assert_eq!(properties["content"]["maxLength"], 65536, "{schema}");
    }
}

#[tokio::test]
async fn the_audit_time_filters_take_only_the_date_time_form_of_the_schema() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let doc = openapi(&app).await;
    assert_eq!(query_schema(&doc, "/v1/audit", "since")["format"], "date-time");

    for good in ["2026-01-01T00:00:00Z", "2026-01-01t00:00:00.5+02:00"] {
        let res = app.get_query("/v1/audit", &[("since", good)], Some(&admin.access)).await;
        assert_eq!(res.status(), StatusCode::OK, "{good}");
    }
    let res = app.get_query("/v1/audit", &[("until", "2026-01-01 00:00:00Z")], Some(&admin.access)).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "until");
}

#[tokio::test]
async fn the_schema_links_registration_to_login_and_login_to_refresh() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;

    let login = &doc["paths"]["/v1/auth/register"]["post"]["responses"]["201"]["links"]["login"];
    assert_eq!(login["operationId"], "login");
    assert_eq!(login["requestBody"], json!({ "username": "$request.body#/username", "password": "$request.body#/password" }));
    for (path, status) in [("/v1/auth/login", "200"), ("/v1/auth/refresh", "200")] {
        let refresh = &doc["paths"][path]["post"]["responses"][status]["links"]["refresh"];
        assert_eq!(refresh["operationId"], "refresh", "{path}");
        assert_eq!(refresh["requestBody"]["refresh_token"], "$response.body#/refresh_token", "{path}");
    }
    let revoke = &doc["paths"]["/v1/auth/sessions"]["get"]["responses"]["200"]["links"]["delete_session"];
    assert_eq!(revoke["parameters"]["id"], "$response.body#/items/0/id");
}

#[tokio::test]
async fn the_longest_content_the_schema_allows_is_taken_in_any_json_spelling() {
    let app = TestApp::spawn().await;
    let user = app.user("alice").await;
    // 65,536 characters, each written as an escaped surrogate pair: 768 KiB of JSON.
    let body = format!(r#"{{"name": "emoji", "content": "{}"}}"#, r"\ud83d\ude00".repeat(65_536));

    let res = app
        .client
        .post(app.url("/v1/templates"))
        .bearer_auth(&user.access)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent");

    assert_eq!(res.status(), StatusCode::CREATED);
    let template: Value = res.json().await.expect("template");
    assert_eq!(template["content"].as_str().expect("content").chars().count(), 65_536);
    let over = format!(r#"{{"name": "x", "content": "{}"}}"#, "x".repeat(1024 * 1024));
    let res = app
        .client
        .post(app.url("/v1/templates"))
        .bearer_auth(&user.access)
        .header("content-type", "application/json")
        .body(over)
        .send()
        .await
        .expect("sent");
    assert_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}
