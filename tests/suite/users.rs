//! Admin user listing: access rules, pagination, the `q` and `role` filters.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, assert_problem};

fn usernames(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|u| u["username"].as_str().expect("username").to_string()).collect()
}

async fn list(app: &TestApp, query: &[(&str, &str)], token: &str) -> Value {
    let res = app.get_query("/v1/users", query, Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("list JSON")
}

#[tokio::test]
async fn every_users_route_answers_401_without_a_token_and_403_forbidden_to_a_non_admin() {
    let app = TestApp::spawn().await;
    let bob = app.user("bob").await;
    let path = format!("/v1/users/{}", bob.id);

    for token in [None, Some(bob.access.as_str())] {
        let (status, code) = match token {
            None => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Some(_) => (StatusCode::FORBIDDEN, "forbidden"),
        };
        assert_problem(app.get("/v1/users", token).await, status, code).await;
        assert_problem(app.get(&path, token).await, status, code).await;
        assert_problem(app.patch(&path, &json!({"disabled": true}), token).await, status, code).await;
        assert_problem(app.delete(&path, token).await, status, code).await;
    }

    // Nothing changed: bob still works.
    assert_eq!(app.get_me(&bob.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_pages_through_users_oldest_first_with_the_total_over_all_pages() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let mut expected = vec!["admin".to_string()];
    for i in 1..=25 {
        let name = format!("user{i:02}");
        assert_eq!(app.post_register(&name, None, PASSWORD).await.status(), StatusCode::CREATED);
        expected.push(name);
    }

    let mut seen = Vec::new();
    for (page, size) in [("1", 10), ("2", 10), ("3", 6)] {
        let body = list(&app, &[("page", page), ("per_page", "10")], &admin.access).await;
        assert_eq!(body["total"], 26);
        assert_eq!(body["page"], page.parse::<u32>().expect("page"));
        assert_eq!(body["per_page"], 10);
        assert_eq!(usernames(&body).len(), size, "page {page}");
        seen.extend(usernames(&body));
    }
    assert_eq!(seen, expected, "oldest first, stable, no gaps or repeats");

    let past_the_end = list(&app, &[("page", "4"), ("per_page", "10")], &admin.access).await;
    assert_eq!(past_the_end["items"], json!([]));
    assert_eq!(past_the_end["total"], 26);

    let default = list(&app, &[], &admin.access).await;
    assert_eq!((default["page"].clone(), default["per_page"].clone()), (json!(1), json!(20)));
    assert_eq!(usernames(&default), expected[..20].to_vec());
    assert!(default["items"][0].get("password_hash").is_none(), "never a hash");
}

#[tokio::test]
async fn the_q_filter_matches_username_or_email_ignoring_case_with_percent_and_underscore_literal() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    for (name, email) in [
        ("ab_cd", None),
        ("abxcd", None),
        ("Mixed.Case", Some("Someone@Example.ORG")),
        ("pct", Some("x%y@example.com")),
        ("nopct", Some("xzy@example.com")),
    ] {
        let res = app.post_register(name, email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{name}: {}", res.text().await.unwrap_or_default());
    }

    let cases: [(&str, &[&str]); 7] = [
        ("b_c", &["ab_cd"]),
        ("B_C", &["ab_cd"]),
        ("mixed.CASE", &["Mixed.Case"]),
        ("example.org", &["Mixed.Case"]),
        ("x%y", &["pct"]),
        ("%", &["pct"]),
        ("_", &["ab_cd"]),
    ];
    for (q, want) in cases {
        let body = list(&app, &[("q", q)], &admin.access).await;
        assert_eq!(usernames(&body), want.to_vec(), "q={q}");
        assert_eq!(body["total"], want.len(), "q={q}");
    }
    let everyone = list(&app, &[("q", "")], &admin.access).await;
    assert_eq!(everyone["total"], 6, "an empty q filters nothing");
}

#[tokio::test]
async fn the_role_filter_lists_only_users_holding_that_role() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    for name in ["ed1", "plain1", "ed2", "plain2"] {
        let user = app.user(name).await;
        if name.starts_with("ed") {
            app.set_roles(&user.id, &["editor", "user"]).await;
        }
    }

    let editors = list(&app, &[("role", "editor")], &admin.access).await;
    assert_eq!(usernames(&editors), ["ed1", "ed2"]);
    assert_eq!(editors["total"], 2);
    let admins = list(&app, &[("role", "admin")], &admin.access).await;
    assert_eq!(usernames(&admins), ["admin"]);
    let users = list(&app, &[("role", "user"), ("q", "plain")], &admin.access).await;
    assert_eq!(usernames(&users), ["plain1", "plain2"], "filters combine");
    let nobody = list(&app, &[("role", "auditor")], &admin.access).await;
    assert_eq!((nobody["items"].clone(), nobody["total"].clone()), (json!([]), json!(0)));
}

#[tokio::test]
async fn bad_list_query_parameters_answer_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;

    for (key, value) in [
        ("page", "abc"),
        ("page", "0"),
        ("page", "-1"),
        ("page", "1.5"),
        ("page", ""),
        ("per_page", "0"),
        ("per_page", "101"),
        ("per_page", "ten"),
        ("role", "Not A Role!"),
        ("role", ""),
        ("q", "a\u{0}b"),
        ("q", "tab\there"),
    ] {
        let res = app.get_query("/v1/users", &[(key, value)], Some(&admin.access)).await;
        let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], key, "{key}={value}: {body}");
    }
    let too_long = "a".repeat(255);
    let res = app.get_query("/v1/users", &[("q", &too_long)], Some(&admin.access)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(app.get_query("/v1/users", &[("per_page", "100")], Some(&admin.access)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_reads_one_user_and_an_unknown_or_malformed_id_is_404() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let bob = app.user("bob").await;

    let res = app.get(&format!("/v1/users/{}", bob.id), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let user: Value = res.json().await.expect("user");
    assert_eq!((user["username"].as_str(), user["roles"].clone(), user["disabled"].clone()), (Some("bob"), json!(["user"]), json!(false)));

    let unknown = format!("/v1/users/{}", uuid::Uuid::now_v7());
    assert_problem(app.get(&unknown, Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.patch(&unknown, &json!({"disabled": true}), Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.delete(&unknown, Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/v1/users/not-a-uuid", Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_admin_and_template_routes() {
    let app = TestApp::spawn().await;

    let doc: Value = app.get("/openapi.json", None).await.json().await.expect("OpenAPI JSON");

    let paths = &doc["paths"];
    let patch_user = &paths["/v1/users/{id}"]["patch"];
    for code in ["200", "401", "403", "404", "409", "422"] {
        assert!(patch_user["responses"][code].is_object(), "PATCH /v1/users/{{id}} declares {code}");
    }
    assert_eq!(patch_user["security"], json!([{"bearer": []}]));
    assert_eq!(paths["/v1/users"]["get"]["tags"], json!(["admin"]));
    let params: Vec<&str> =
        paths["/v1/users"]["get"]["parameters"].as_array().expect("params").iter().map(|p| p["name"].as_str().expect("name")).collect();
    assert_eq!(params, ["page", "per_page", "q", "role"]);
    assert!(paths["/v1/users"]["get"]["parameters"][2]["description"].is_string());
    assert!(paths["/v1/templates"]["post"]["responses"]["409"].is_object());
    assert!(paths["/v1/templates"]["get"]["responses"]["200"].is_object());
    for method in ["get", "patch", "delete"] {
        assert_eq!(paths["/v1/templates/{id}"][method]["tags"], json!(["templates"]), "{method}");
        assert!(paths["/v1/templates/{id}"][method]["responses"]["404"].is_object(), "{method}");
    }
    let tags: Vec<&str> = doc["tags"].as_array().expect("tags").iter().map(|t| t["name"].as_str().expect("name")).collect();
    assert!(tags.contains(&"admin") && tags.contains(&"templates"), "{tags:?}");
}

#[tokio::test]
async fn pages_past_ten_thousand_users_list_the_same_users_as_an_exact_walk_and_again_from_the_remembered_position() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let seeded: Vec<String> = (0..10_100).map(|i| format!("deep{i:05}")).collect();
    for chunk in seeded.chunks(2_000) {
        let batch = chunk
            .iter()
            .map(|name| gatehouse::store::NewUser {
                id: uuid::Uuid::now_v7(),
                username: gatehouse::domain::Username::parse(name).expect("username"),
                email: None,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA".into(),
                roles: vec![gatehouse::domain::Role::user()],
            })
            .collect();
        app.state.store.create_users(batch).await.expect("seeded");
    }
    // Oldest first: root, then the seeded users in the order they were made.
    let everyone: Vec<&str> = std::iter::once("root").chain(seeded.iter().map(String::as_str)).collect();

    for (page, per_page) in [("501", "20"), ("505", "20"), ("101", "100"), ("102", "100")] {
        let offset = (page.parse::<usize>().expect("page") - 1) * per_page.parse::<usize>().expect("per_page");
        let expected = &everyone[offset..(offset + per_page.parse::<usize>().expect("per_page")).min(everyone.len())];
        for attempt in ["first, finding the position", "second, from the remembered position"] {
            let body = list(&app, &[("page", page), ("per_page", per_page)], &admin.access).await;
            let names: Vec<&str> = body["items"].as_array().expect("items").iter().map(|u| u["username"].as_str().expect("name")).collect();
            assert_eq!(names, expected, "page {page} of {per_page}, {attempt}");
            assert_eq!(body["total"], everyone.len());
        }
    }
    let past_the_end = list(&app, &[("page", "1000"), ("per_page", "100")], &admin.access).await;
    assert_eq!(past_the_end["items"], json!([]));
}
