//! A small JSON Schema subset for plugin settings.
//!
//! The `jsonschema` crate pulls some twenty crates (regex engines, big
//! numbers, HTTP resolvers) into the host for a few settings forms, so the host
//! implements the subset plugin settings need and refuses every other keyword
//! at install (so an author never believes an unenforced rule holds):
//!
//! - `type`: `"object"`, `"array"`, `"string"`, `"number"`, `"integer"`,
//!   `"boolean"`, `"null"`, or an array of those;
//! - objects: `properties`, `required`, `additionalProperties` (bool or schema);
//! - arrays: `items` (one schema), `minItems`, `maxItems`;
//! - strings: `minLength`, `maxLength` (in characters);
//! - numbers: `minimum`, `maximum` (inclusive);
//! - any: `enum`, `const`;
//! - annotations, ignored: `$schema`, `$id`, `$comment`, `title`,
//!   `description`, `default`, `examples`, `format`.

use serde_json::{Map, Value};

const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "enum",
    "const",
];
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "format",
];
const TYPES: &[&str] = &[
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// Checks that `schema` is well formed and uses only the supported subset.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    check_at(schema, "#")
}

fn check_at(schema: &Value, at: &str) -> Result<(), String> {
    let obj = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(obj) => obj,
        _ => return Err(format!("{at}: a schema must be an object or a boolean")),
    };
    for (key, value) in obj {
        if ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(format!(
                "{at}: keyword `{key}` is not supported (supported: {})",
                KEYWORDS.join(", ")
            ));
        }
        let here = format!("{at}/{key}");
        match key.as_str() {
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for name in names {
                    match name.as_str() {
                        Some(n) if TYPES.contains(&n) => {}
                        _ => return Err(format!("{here}: unknown type {name}")),
                    }
                }
            }
            "properties" => {
                let props = value
                    .as_object()
                    .ok_or_else(|| format!("{here}: must be an object"))?;
                for (name, sub) in props {
                    check_at(sub, &format!("{here}/{name}"))?;
                }
            }
            "required" => {
                let ok = value
                    .as_array()
                    .is_some_and(|items| items.iter().all(Value::is_string));
                if !ok {
                    return Err(format!("{here}: must be an array of strings"));
                }
            }
            "additionalProperties" | "items" => check_at(value, &here)?,
            "minItems" | "maxItems" | "minLength" | "maxLength" if value.as_u64().is_none() => {
                return Err(format!("{here}: must be a non-negative integer"));
            }
            "minimum" | "maximum" if !value.is_number() => {
                return Err(format!("{here}: must be a number"));
            }
            "enum" if !value.is_array() => {
                return Err(format!("{here}: must be an array"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Validates `value` against `schema`; the error gives the JSON path of the
/// first violation (`$.forward.target: ...`).
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    validate_at(schema, value, "$")
}

fn validate_at(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let obj = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{path}: no value is allowed here")),
        Value::Object(obj) => obj,
        _ => return Err(format!("{path}: the schema is not an object")),
    };
    if let Some(ty) = obj.get("type") {
        check_type(ty, value, path)?;
    }
    if let Some(Value::Array(options)) = obj.get("enum") {
        if !options.iter().any(|o| json_eq(o, value)) {
            return Err(format!(
                "{path}: must be one of {}",
                Value::Array(options.clone())
            ));
        }
    }
    if let Some(expected) = obj.get("const") {
        if !json_eq(expected, value) {
            return Err(format!("{path}: must be {expected}"));
        }
    }
    match value {
        Value::Object(map) => validate_object(obj, map, path)?,
        Value::Array(items) => {
            if let Some(min) = obj.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    return Err(format!("{path}: needs at least {min} items"));
                }
            }
            if let Some(max) = obj.get("maxItems").and_then(Value::as_u64) {
                if items.len() as u64 > max {
                    return Err(format!("{path}: allows at most {max} items"));
                }
            }
            if let Some(item_schema) = obj.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_at(item_schema, item, &format!("{path}[{i}]"))?;
                }
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
                if len < min {
                    return Err(format!("{path}: needs at least {min} characters"));
                }
            }
            if let Some(max) = obj.get("maxLength").and_then(Value::as_u64) {
                if len > max {
                    return Err(format!("{path}: allows at most {max} characters"));
                }
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = obj.get("minimum").and_then(Value::as_f64) {
                if x.is_nan() || x < min {
                    return Err(format!("{path}: must be at least {min}"));
                }
            }
            if let Some(max) = obj.get("maximum").and_then(Value::as_f64) {
                if x.is_nan() || x > max {
                    return Err(format!("{path}: must be at most {max}"));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn validate_object(
    schema: &Map<String, Value>,
    map: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                return Err(format!("{path}: missing required property `{name}`"));
            }
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    for (key, item) in map {
        let here = format!("{path}.{key}");
        match props.and_then(|p| p.get(key)) {
            Some(sub) => validate_at(sub, item, &here)?,
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    return Err(format!("{path}: unknown property `{key}`"));
                }
                Some(extra) => validate_at(extra, item, &here)?,
                None => {}
            },
        }
    }
    Ok(())
}

fn check_type(ty: &Value, value: &Value, path: &str) -> Result<(), String> {
    let names: Vec<&str> = match ty {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => vec![s.as_str()],
        _ => return Ok(()),
    };
    if names.iter().any(|n| type_matches(n, value)) {
        Ok(())
    } else {
        Err(format!("{path}: must be of type {}", names.join(" or ")))
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// JSON equality where `1` equals `1.0`.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset() {
        let schema = json!({
            "type": "object",
            "required": ["target"],
            "properties": {
                "target": { "type": "string", "minLength": 1, "maxLength": 5 },
                "mode": { "enum": ["always", "busy"] },
                "delay": { "type": "integer", "minimum": 0, "maximum": 60 },
                "list": { "type": "array", "items": { "type": "string" }, "maxItems": 2 }
            },
            "additionalProperties": false
        });
        check_schema(&schema).unwrap();
        validate(&schema, &json!({"target": "201"})).unwrap();
        validate(&schema, &json!({"target": "201", "delay": 10.0})).unwrap();
        let cases = [
            (json!({}), "missing required property `target`"),
            (json!({"target": ""}), "$.target: needs at least 1"),
            (
                json!({"target": "x", "mode": "never"}),
                "$.mode: must be one of",
            ),
            (
                json!({"target": "x", "delay": 61}),
                "$.delay: must be at most 60",
            ),
            (
                json!({"target": "x", "delay": 1.5}),
                "$.delay: must be of type integer",
            ),
            (
                json!({"target": "x", "list": ["a", 1]}),
                "$.list[1]: must be of type string",
            ),
            (
                json!({"target": "x", "list": ["a", "b", "c"]}),
                "at most 2 items",
            ),
            (
                json!({"target": "x", "other": 1}),
                "unknown property `other`",
            ),
        ];
        for (value, expected) in cases {
            let err = validate(&schema, &value).unwrap_err();
            assert!(err.contains(expected), "{value}: {err}");
        }
    }

    #[test]
    fn refuses_unsupported_keywords() {
        let err = check_schema(&json!({"properties": {"a": {"pattern": "^x"}}})).unwrap_err();
        assert!(
            err.contains("#/properties/a") && err.contains("pattern"),
            "{err}"
        );
        assert!(check_schema(&json!({"type": "text"})).is_err());
        assert!(check_schema(&json!({"title": "x", "description": "y"})).is_ok());
    }
}
