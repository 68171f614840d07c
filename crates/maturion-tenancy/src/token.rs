use std::fmt;
use std::str::FromStr;

/// The prefix of every API token, so that a leaked one is easy to recognise and to search for.
const PREFIX: &str = "mt_";
/// 32 random bytes in base64url without padding.
const SECRET_CHARS: usize = 43;

/// An API token as `maturion org create` and `maturion token create` print it: `mt_` and 256
/// random bits. The database keeps only its SHA-256 and binds a transaction to the token's
/// organisation and user (`maturion.bind_tenant`). Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

/// A string that cannot be an API token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed API token: expected mt_ and 43 base64url characters")]
pub struct TokenError;

impl ApiToken {
    /// The secret itself, for the one statement that presents it to the database.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for ApiToken {
    type Err = TokenError;

    fn from_str(input: &str) -> Result<Self, TokenError> {
        let secret = input.strip_prefix(PREFIX).ok_or(TokenError)?;
        let base64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if secret.len() == SECRET_CHARS && secret.chars().all(base64url) {
            Ok(Self(input.to_owned()))
        } else {
            Err(TokenError)
        }
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(mt_****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_the_token_shape_and_never_prints_the_secret() {
        let token: ApiToken = "mt_K-ypz8UV5tASmH9P9nKbciYiTGgJaz1cZjUF-yeTs2w"
            .parse()
            .unwrap();
        assert_eq!(format!("{token:?}"), "ApiToken(mt_****)");
        for bad in [
            "",
            "mt_",
            "K-ypz8UV5tASmH9P9nKbciYiTGgJaz1cZjUF-yeTs2w",
            "mt_K-ypz8UV5tASmH9P9nKbciYiTGgJaz1cZjUF-yeTs2",
            "mt_K-ypz8UV5tASmH9P9nKbciYiTGgJaz1cZjUF-yeTs2w=",
            "mt_K+ypz8UV5tASmH9P9nKbciYiTGgJaz1cZjUF-yeTs2w",
            "mt_K-ypz8UV5tASmH9P9nKbciYiTGgJaz1cZjUF-yeTs2é",
        ] {
            assert_eq!(bad.parse::<ApiToken>(), Err(TokenError), "{bad:?}");
        }
    }
}
