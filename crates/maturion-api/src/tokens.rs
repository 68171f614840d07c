//! The body of `POST /v1/tokens`.

use serde_json::Value;
use uuid::Uuid;

use crate::ApiError;

/// The longest a token may live, in days (the database refuses more).
const MAX_DAYS: i64 = 3650;
const DEFAULT_DAYS: i64 = 90;

/// A token to make for a user of the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub user_id: Uuid,
    pub expires_in_days: i32,
}

impl NewToken {
    /// `{"user_id": uuid, "expires_in_days": 1…3650}` (default 90 days); nothing else.
    pub fn parse(body: &Value) -> Result<NewToken, ApiError> {
        let Value::Object(fields) = body else {
            return Err(ApiError::MalformedBody("expected a JSON object".to_owned()));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|k| !matches!(k.as_str(), "user_id" | "expires_in_days"))
        {
            return Err(ApiError::UnknownField {
                resource: crate::TOKENS.to_owned(),
                field: unknown.clone(),
            });
        }
        let user_id = match fields.get("user_id") {
            None => {
                return Err(ApiError::MissingField {
                    field: "user_id".to_owned(),
                })
            }
            Some(value) => value
                .as_str()
                .and_then(|text| Uuid::try_parse(text).ok())
                .ok_or_else(|| ApiError::invalid("user_id", "expected a UUID"))?,
        };
        let days = match fields.get("expires_in_days") {
            None => DEFAULT_DAYS,
            Some(value) => value
                .as_i64()
                .filter(|days| (1..=MAX_DAYS).contains(days))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "expires_in_days",
                        format!("expected a whole number of days from 1 to {MAX_DAYS}"),
                    )
                })?,
        };
        Ok(NewToken {
            user_id,
            // At most MAX_DAYS, so it fits.
            expires_in_days: days as i32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_request_names_its_user_and_a_lifetime_in_range() {
        let user = Uuid::now_v7();
        let parsed = NewToken::parse(&json!({"user_id": user})).unwrap();
        assert_eq!((parsed.user_id, parsed.expires_in_days), (user, 90));
        for (body, field) in [
            (json!({}), "user_id"),
            (json!({"user_id": "x"}), "user_id"),
            (
                json!({"user_id": user, "expires_in_days": 0}),
                "expires_in_days",
            ),
            (
                json!({"user_id": user, "expires_in_days": 3651}),
                "expires_in_days",
            ),
            (json!({"user_id": user, "scope": "all"}), "scope"),
            (json!([]), "body"),
        ] {
            assert_eq!(NewToken::parse(&body).unwrap_err().field(), field, "{body}");
        }
    }
}
