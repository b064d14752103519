//! Every invalid field of a JSON body at once. serde stops at its first error; when it does,
//! the body is checked field by field against the request type's OpenAPI schema (the same
//! `ToSchema` the document shows): each required field that is missing, and each field
//! whose JSON type the schema does not allow, is listed. Rules that serde alone knows
//! (a value out of range, a nested error) come through as serde reported them.

use serde_json::{Map, Value};
use utoipa::PartialSchema;

use crate::error::FieldError;

/// The 422 list for a body that serde refused with `first`: the schema's findings in the
/// schema's (alphabetical) field order, serde's own error first when the schema saw nothing
/// wrong with that field. The schema's messages never echo a value.
pub fn invalid_fields<T: PartialSchema>(body: &Map<String, Value>, first: FieldError) -> Vec<FieldError> {
    let schema = serde_json::to_value(T::schema()).unwrap_or_default();
    let mut errors = check_object(&schema, body);
    let top = |field: &str| field.split(['[', '.']).next().unwrap_or(field).to_string();
    if !errors.iter().any(|e| top(&e.field) == top(&first.field)) {
        errors.insert(0, first);
    }
    errors
}

fn check_object(schema: &Value, body: &Map<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return errors };
    let required: Vec<&str> = schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, property) in properties {
        match body.get(name) {
            None if required.contains(&name.as_str()) => errors.push(FieldError::new(name, format!("missing field `{name}`"))),
            None => {}
            Some(value) => check_value(name, property, value, &mut errors),
        }
    }
    errors
}

fn check_value(field: &str, schema: &Value, value: &Value, errors: &mut Vec<FieldError>) {
    let allowed = types(schema);
    if allowed.is_empty() {
        return;
    }
    if !allowed.iter().any(|t| matches(t, value)) {
        let expected: Vec<String> = allowed.iter().map(|t| article(t)).collect();
        errors.push(FieldError::new(field, format!("invalid type: {}, expected {}", kind(value), expected.join(" or "))));
        return;
    }
    if let (Value::Array(items), Some(item_schema)) = (value, item_schema(schema)) {
        for (i, item) in items.iter().enumerate() {
            check_value(&format!("{field}[{i}]"), item_schema, item, errors);
        }
    }
}

/// The JSON types a schema allows; empty when it cannot tell (a `$ref`, `allOf`, no type).
fn types(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => return vec![t.clone()],
        Some(Value::Array(ts)) => return ts.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => {}
    }
    let Some(alternatives) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) else { return Vec::new() };
    let mut all = Vec::new();
    for alternative in alternatives {
        let some = types(alternative);
        if some.is_empty() {
            return Vec::new();
        }
        all.extend(some);
    }
    all
}

fn item_schema(schema: &Value) -> Option<&Value> {
    schema.get("items").or_else(|| {
        let alternatives = schema.get("oneOf").or_else(|| schema.get("anyOf"))?.as_array()?;
        alternatives.iter().find_map(|a| a.get("items"))
    })
}

fn matches(json_type: &str, value: &Value) -> bool {
    match (json_type, value) {
        ("null", Value::Null) | ("boolean", Value::Bool(_)) | ("string", Value::String(_)) => true,
        ("array", Value::Array(_)) | ("object", Value::Object(_)) | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn article(json_type: &str) -> String {
    match json_type {
        "integer" | "array" | "object" => format!("an {json_type}"),
        "null" => "null".to_string(),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;
    use utoipa::ToSchema;

    use super::*;

    #[derive(Deserialize, ToSchema)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: u32,
        tags: Option<Vec<String>>,
        note: Option<String>,
    }

    fn fields(body: Value) -> Vec<(String, String)> {
        let first = FieldError::new("name", "from serde");
        let Value::Object(body) = body else { panic!("an object") };
        invalid_fields::<Sample>(&body, first).into_iter().map(|e| (e.field, e.message)).collect()
    }

    #[test]
    fn every_missing_and_every_mistyped_field_is_listed_without_its_value() {
        let found = fields(json!({"count": 1.5, "tags": ["a", 2], "note": "secret-value"}));

        assert!(found.contains(&("name".to_string(), "missing field `name`".to_string())), "{found:?}");
        assert!(found.contains(&("count".to_string(), "invalid type: number, expected an integer".to_string())), "{found:?}");
        assert!(found.iter().any(|(f, _)| f == "tags[1]"), "{found:?}");
        assert_eq!(found.len(), 3, "note is fine: {found:?}");
        assert!(!format!("{found:?}").contains("secret-value"));
    }

    #[test]
    fn nulls_pass_where_the_schema_allows_them_only() {
        let found = fields(json!({"name": null, "count": 1, "tags": null, "note": null}));

        assert_eq!(found, vec![("name".to_string(), "invalid type: null, expected a string".to_string())]);
    }
}
