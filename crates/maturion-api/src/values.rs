//! Values checked against their column before any SQL runs, so that a wrong type, a malformed
//! UUID or an unknown enum value is refused naming the field, and nothing is sent.

use chrono::{DateTime, NaiveDate};
use serde_json::Value;
use uuid::Uuid;

use crate::model::{Column, ValueKind};
use crate::ApiError;

/// The longest text value accepted in a filter or a cursor.
const MAX_TEXT: usize = 10_000;

/// A JSON value from a request body for `column`.
pub(crate) fn check_json(column: &Column, value: &Value) -> Result<(), ApiError> {
    let field = column.name.as_str();
    if value.is_null() {
        return if column.nullable {
            Ok(())
        } else {
            Err(ApiError::invalid(field, "must not be null"))
        };
    }
    let text = match (&column.kind, value) {
        (ValueKind::Json, _) => return Ok(()),
        (ValueKind::Array, Value::Array(_)) => return Ok(()),
        (ValueKind::Array, _) => return Err(ApiError::invalid(field, "expected an array")),
        (ValueKind::Boolean, Value::Bool(_)) => return Ok(()),
        (ValueKind::Boolean, _) => return Err(ApiError::invalid(field, "expected true or false")),
        (ValueKind::Integer { min, max }, Value::Number(number)) => {
            return match number.as_i64() {
                Some(n) if (*min..=*max).contains(&n) => Ok(()),
                _ => Err(ApiError::invalid(
                    field,
                    format!("expected an integer from {min} to {max}"),
                )),
            };
        }
        (ValueKind::Integer { .. }, _) => {
            return Err(ApiError::invalid(field, "expected an integer"))
        }
        (ValueKind::Number, Value::Number(_)) => return Ok(()),
        (ValueKind::Number, _) => return Err(ApiError::invalid(field, "expected a number")),
        (_, Value::String(text)) => text,
        _ => return Err(ApiError::invalid(field, "expected a string")),
    };
    check_text(column, field, text)
}

/// A value written as text (a filter's, a cursor's) for `column`; `field` names it in errors.
pub(crate) fn check_text(column: &Column, field: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::invalid(field, "contains a NUL character"));
    }
    if text.len() > MAX_TEXT {
        return Err(ApiError::invalid(
            field,
            format!("longer than {MAX_TEXT} bytes"),
        ));
    }
    match &column.kind {
        ValueKind::Uuid if Uuid::try_parse(text).is_err() => {
            return Err(ApiError::invalid(field, "expected a UUID"));
        }
        ValueKind::Boolean if !matches!(text, "true" | "false") => {
            return Err(ApiError::invalid(field, "expected true or false"));
        }
        ValueKind::Integer { min, max }
            if !text
                .parse::<i64>()
                .is_ok_and(|n| (*min..=*max).contains(&n)) =>
        {
            return Err(ApiError::invalid(
                field,
                format!("expected an integer from {min} to {max}"),
            ));
        }
        ValueKind::Number if !text.parse::<f64>().is_ok_and(f64::is_finite) => {
            return Err(ApiError::invalid(field, "expected a number"));
        }
        ValueKind::Timestamp if DateTime::parse_from_rfc3339(text).is_err() => {
            return Err(ApiError::invalid(
                field,
                "expected an RFC 3339 timestamp such as 2026-12-03T08:00:00Z",
            ));
        }
        ValueKind::Date if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err() => {
            return Err(ApiError::invalid(
                field,
                "expected a date such as 2026-12-03",
            ));
        }
        ValueKind::Json | ValueKind::Array => {
            return Err(ApiError::invalid(field, "cannot be compared"));
        }
        _ => {}
    }
    match &column.allowed {
        Some(allowed) if !allowed.iter().any(|value| value == text) => Err(ApiError::invalid(
            field,
            format!("expected one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn column(kind: ValueKind, allowed: Option<&[&str]>) -> Column {
        Column {
            name: "c".into(),
            sql_type: "text".into(),
            kind,
            allowed: allowed.map(|values| values.iter().map(|v| v.to_string()).collect()),
            nullable: false,
            has_default: false,
            writable: true,
            description: None,
            orderable: false,
        }
    }

    #[test]
    fn values_of_the_wrong_type_are_refused_naming_the_field() {
        let int4 = column(
            ValueKind::Integer {
                min: i32::MIN.into(),
                max: i32::MAX.into(),
            },
            None,
        );
        assert!(check_json(&int4, &json!(5)).is_ok());
        for bad in [
            json!(1.5),
            json!("5"),
            json!(i64::MAX),
            json!(null),
            json!([1]),
        ] {
            let error = check_json(&int4, &bad).unwrap_err();
            assert_eq!(error.field(), "c", "{bad}");
        }
        let uuid = column(ValueKind::Uuid, None);
        assert!(check_json(&uuid, &json!("0190c3a0-5b1e-7c3d-8e4f-0123456789ab")).is_ok());
        assert!(check_json(&uuid, &json!("0190c3a0-5b1e-7c3d-8e4f-0123456789ab'--")).is_err());
        let timestamp = column(ValueKind::Timestamp, None);
        assert!(check_text(&timestamp, "c", "2026-12-03T08:00:00Z").is_ok());
        assert!(check_text(&timestamp, "c", "yesterday").is_err());
        let text = column(ValueKind::Text, None);
        assert!(check_json(&text, &json!("a\u{0}b")).is_err());
    }

    #[test]
    fn only_allowed_values_pass() {
        let status = column(ValueKind::Text, Some(&["draft", "approved"]));
        assert!(check_json(&status, &json!("draft")).is_ok());
        let error = check_json(&status, &json!("published")).unwrap_err();
        assert_eq!(error.to_string(), "c: expected one of draft, approved");
    }
}
