//! Connection URLs: parsed once into tokio-postgres settings, printed with the password masked.
//!
//! Both forms tokio-postgres (and libpq) accept are kept as written, so that what `psql`
//! receives is what the operator configured: `postgresql://user:password@host/db?…` and
//! `host=… user=… password=… dbname=…`. Rewriting (another database) and masking (the
//! password) edit the text where tokio-postgres's own parser finds those parts.

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::str::FromStr;

use tokio_postgres::Config;

use crate::secret::{Secret, MASK};
use crate::tls::{ClientTls, TlsError, TlsRequest};

/// A PostgreSQL connection URL that names a database. `Display` and `Debug` mask the
/// password; [`ConnectionUrl::expose`] gives the text as configured.
#[derive(Clone)]
pub struct ConnectionUrl {
    text: Secret<String>,
    config: Config,
    tls: ClientTls,
}

#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("not a PostgreSQL connection URL ({0})")]
    Invalid(String),
    #[error("the URL names no database (add /DATABASE after the host)")]
    NoDatabase,
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl ConnectionUrl {
    /// `sslmode=verify-ca|verify-full` and `sslrootcert`, which libpq knows and tokio-postgres
    /// does not, are taken out for tokio-postgres and kept in [`ConnectionUrl::tls`].
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let parts = Parts::find(text);
        let (for_tokio_postgres, request) = parts.tls_request(text);
        let config = Config::from_str(&for_tokio_postgres)
            .map_err(|error| UrlError::Invalid(chain(&error)))?;
        if config.get_dbname().is_none() {
            return Err(UrlError::NoDatabase);
        }
        Ok(Self {
            text: Secret::new(text.to_owned()),
            config,
            tls: request.resolve()?,
        })
    }

    /// How connections made with this URL are protected.
    pub fn tls(&self) -> &ClientTls {
        &self.tls
    }

    /// For text and settings that the caller derived from the same inputs (the embedded
    /// cluster's own URL and configuration).
    pub(crate) fn from_parts(text: String, config: Config) -> Self {
        Self {
            text: Secret::new(text),
            config,
            tls: ClientTls::Off,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The URL as configured, password included: for scripts and programs, not for logs.
    pub fn expose(&self) -> &str {
        self.text.expose()
    }

    /// The URL with every password replaced by `****`.
    pub fn masked(&self) -> String {
        let text = self.text.expose();
        let parts = Parts::find(text);
        let edits = parts
            .passwords
            .into_iter()
            .map(|span| (span, MASK.to_owned()));
        apply(text, edits.collect())
    }

    /// The same server, user and options, connecting to the database `name`.
    pub fn with_database(&self, name: &str) -> Self {
        let text = self.text.expose();
        let parts = Parts::find(text);
        let value = match parts.form {
            Form::Url => percent_encode(name),
            Form::KeyValue => quote(name),
        };
        let edits = if parts.dbnames.is_empty() {
            let insertion = match parts.form {
                Form::Url => format!("/{value}"),
                Form::KeyValue => format!(" dbname={value}"),
            };
            vec![(parts.dbname_insertion..parts.dbname_insertion, insertion)]
        } else {
            parts
                .dbnames
                .into_iter()
                .map(|span| (span, value.clone()))
                .collect()
        };
        let mut config = self.config.clone();
        config.dbname(name);
        Self {
            text: Secret::new(apply(text, edits)),
            config,
            tls: self.tls.clone(),
        }
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConnectionUrl")
            .field(&self.masked())
            .finish()
    }
}

impl TryFrom<String> for ConnectionUrl {
    type Error = UrlError;

    fn try_from(text: String) -> Result<Self, UrlError> {
        Self::parse(&text)
    }
}

impl<'de> serde::Deserialize<'de> for ConnectionUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An error and its causes on one line (tokio-postgres says what is wrong in the cause).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        write!(text, ": {cause}").expect("writing to a String cannot fail");
        source = cause.source();
    }
    text
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    Url,
    KeyValue,
}

/// Where the password and database name lie in a connection string.
#[derive(Debug)]
struct Parts {
    form: Form,
    passwords: Vec<Range<usize>>,
    dbnames: Vec<Range<usize>>,
    /// Where a database name goes when the text has none.
    dbname_insertion: usize,
    tls_options: Vec<TlsOption>,
}

/// `sslmode` or `sslrootcert` where the text has it.
#[derive(Debug)]
struct TlsOption {
    key: String,
    value: Range<usize>,
    /// The whole option, with one separator, to take it out.
    whole: Range<usize>,
}

impl Parts {
    fn find(text: &str) -> Self {
        ["postgresql://", "postgres://"]
            .into_iter()
            .find(|prefix| text.starts_with(prefix))
            .map_or_else(
                || Self::key_value(text),
                |prefix| Self::url(text, prefix.len()),
            )
    }

    /// Follows tokio-postgres's URL parser: credentials up to the first `@`, the host up to
    /// `/` or `?`, the path up to `?`, then `key=value` pairs separated by `&`.
    fn url(text: &str, start: usize) -> Self {
        let mut parts = Self {
            form: Form::Url,
            passwords: Vec::new(),
            dbnames: Vec::new(),
            dbname_insertion: text.len(),
            tls_options: Vec::new(),
        };
        let mut at = start;
        if let Some(end) = text[at..].find('@').map(|i| at + i) {
            if let Some(colon) = text[at..end].find(':') {
                parts.passwords.push(at + colon + 1..end);
            }
            at = end + 1;
        }
        at = text[at..].find(['/', '?']).map_or(text.len(), |i| at + i);
        parts.dbname_insertion = at;
        if text[at..].starts_with('/') {
            let end = text[at..].find('?').map_or(text.len(), |i| at + i);
            parts.dbnames.push(at + 1..end);
            at = end;
        }
        if text[at..].starts_with('?') {
            let mut pair_start = at + 1;
            for pair in text[at + 1..].split('&') {
                let pair_end = pair_start + pair.len();
                if let Some((key, _)) = pair.split_once('=') {
                    let value = pair_start + key.len() + 1..pair_end;
                    let whole = if pair_end < text.len() {
                        pair_start..pair_end + 1
                    } else if pair_start > at + 1 {
                        pair_start - 1..pair_end
                    } else {
                        pair_start..pair_end
                    };
                    parts.note_tls(key, value.clone(), whole);
                    parts.note(key, value);
                }
                pair_start = pair_end + 1;
            }
        }
        parts
    }

    /// Follows tokio-postgres's `key=value` parser: values are bare (a backslash escapes the
    /// next character) or single-quoted.
    fn key_value(text: &str) -> Self {
        let mut parts = Self {
            form: Form::KeyValue,
            passwords: Vec::new(),
            dbnames: Vec::new(),
            dbname_insertion: text.trim_end().len(),
            tls_options: Vec::new(),
        };
        let bytes = text.as_bytes();
        let mut at = 0;
        let skip_space = |mut at: usize| {
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            at
        };
        loop {
            at = skip_space(at);
            let key_start = at;
            while at < bytes.len() && !bytes[at].is_ascii_whitespace() && bytes[at] != b'=' {
                at += 1;
            }
            if at == key_start {
                return parts;
            }
            let key = &text[key_start..at];
            at = skip_space(at);
            if bytes.get(at) != Some(&b'=') {
                return parts;
            }
            let value_start = skip_space(at + 1);
            at = value_end(bytes, value_start);
            parts.note_tls(key, value_start..at, key_start..at);
            parts.note(key, value_start..at);
        }
    }

    fn note_tls(&mut self, key: &str, value: Range<usize>, whole: Range<usize>) {
        if key == "sslmode" || key == "sslrootcert" {
            self.tls_options.push(TlsOption {
                key: key.to_owned(),
                value,
                whole,
            });
        }
    }

    /// The text tokio-postgres can parse (`sslrootcert` taken out, a verifying `sslmode`
    /// written `require`), and the TLS the URL asks for.
    fn tls_request(&self, text: &str) -> (String, TlsRequest) {
        let mut request = TlsRequest::default();
        let mut edits = Vec::new();
        for option in &self.tls_options {
            let value = self.decode(&text[option.value.clone()]);
            if option.key == "sslrootcert" {
                request.root_certificate = Some(value.into());
                edits.push((option.whole.clone(), String::new()));
            } else {
                if value.starts_with("verify-") {
                    edits.push((option.value.clone(), "require".to_owned()));
                }
                request.mode = Some(value);
            }
        }
        (apply(text, edits), request)
    }

    /// A value as written in the URL (percent-encoded) or in `key=value` form (quoted or
    /// with backslash escapes).
    fn decode(&self, written: &str) -> String {
        match self.form {
            Form::Url => percent_decode(written),
            Form::KeyValue => {
                let inner = written
                    .strip_prefix('\'')
                    .and_then(|rest| rest.strip_suffix('\''))
                    .unwrap_or(written);
                let mut value = String::with_capacity(inner.len());
                let mut characters = inner.chars();
                while let Some(character) = characters.next() {
                    match character {
                        '\\' => value.extend(characters.next()),
                        other => value.push(other),
                    }
                }
                value
            }
        }
    }

    fn note(&mut self, key: &str, value: Range<usize>) {
        match key {
            "password" => self.passwords.push(value),
            "dbname" => self.dbnames.push(value),
            _ => {}
        }
    }
}

/// The end of a `key=value` value starting at `start`, quotes included.
fn value_end(bytes: &[u8], start: usize) -> usize {
    let quoted = bytes.get(start) == Some(&b'\'');
    let mut at = if quoted { start + 1 } else { start };
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 1,
            b'\'' if quoted => return at + 1,
            byte if !quoted && byte.is_ascii_whitespace() => return at,
            _ => {}
        }
        at += 1;
    }
    at.min(bytes.len())
}

/// Replaces each span (they do not overlap) by its text.
fn apply(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut result = text.to_owned();
    for (span, replacement) in edits {
        result.replace_range(span, &replacement);
    }
    result
}

/// Escapes everything but RFC 3986's unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            write!(encoded, "%{byte:02X}").expect("writing to a String cannot fail");
        }
    }
    encoded
}

/// `%XX` sequences decoded; anything else (an invalid sequence included) kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escaped = (bytes[at] == b'%')
            .then(|| text.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                at += 3;
            }
            None => {
                decoded.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// A single-quoted `key=value` value.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> ConnectionUrl {
        ConnectionUrl::parse(text).unwrap()
    }

    #[test]
    fn masks_the_password_wherever_it_is_written() {
        for (text, masked) in [
            (
                "postgresql://admin:s3cr%40t@db.example:5432/maturion?sslmode=verify-full&sslrootcert=ca.pem",
                "postgresql://admin:****@db.example:5432/maturion?sslmode=verify-full&sslrootcert=ca.pem",
            ),
            (
                "postgres://admin@db/maturion?password=s3cret&application_name=x",
                "postgres://admin@db/maturion?password=****&application_name=x",
            ),
            (
                "host=db user=admin password='it\\'s secret' dbname=maturion",
                "host=db user=admin password=**** dbname=maturion",
            ),
            (
                "host=db password = bare\\ secret dbname=maturion",
                "host=db password = **** dbname=maturion",
            ),
            (
                "postgresql://admin@/maturion?host=/run/pg",
                "postgresql://admin@/maturion?host=/run/pg",
            ),
        ] {
            let url = url(text);
            assert_eq!(url.masked(), masked);
            assert_eq!(url.to_string(), masked);
            assert_eq!(format!("{url:?}"), format!("ConnectionUrl({masked:?})"));
            assert_eq!(url.expose(), text);
        }
    }

    #[test]
    fn another_database_keeps_everything_else() {
        for (text, renamed) in [
            (
                "postgresql://admin:pw@db.example:5432/maturion?sslmode=verify-full&sslrootcert=ca.pem",
                "postgresql://admin:pw@db.example:5432/other%20db?sslmode=verify-full&sslrootcert=ca.pem",
            ),
            (
                "postgres://u@/x?host=/run&dbname=y",
                "postgres://u@/other%20db?host=/run&dbname=other%20db",
            ),
            (
                "postgres://u@db?dbname=x",
                "postgres://u@db?dbname=other%20db",
            ),
            (
                "host=db user=u dbname='x y' port=1",
                "host=db user=u dbname='other db' port=1",
            ),
        ] {
            let moved = url(text).with_database("other db");
            assert_eq!(moved.expose(), renamed);
            let reparsed = url(moved.expose());
            assert_eq!(reparsed.config().get_dbname(), Some("other db"));
            assert_eq!(moved.config().get_dbname(), Some("other db"));
            assert_eq!(
                reparsed.config().get_password(),
                url(text).config().get_password()
            );
        }
    }

    #[test]
    fn a_scratch_database_on_the_same_server() {
        assert_eq!(
            url("postgresql://admin:pw@db.example:5432/maturion?sslmode=verify-full&sslrootcert=ca.pem")
                .with_database("b")
                .expose(),
            "postgresql://admin:pw@db.example:5432/b?sslmode=verify-full&sslrootcert=ca.pem"
        );
        assert_eq!(
            url("postgres://u@/x?host=/run").with_database("b").expose(),
            "postgres://u@/b?host=/run"
        );
        assert!(ConnectionUrl::parse("nonsense").is_err());
    }

    #[test]
    fn a_database_is_added_where_none_was_named() {
        let mut config = Config::new();
        config.host("db").user("u");
        let bare = ConnectionUrl::from_parts("postgres://u@db?sslmode=disable".into(), config);
        let moved = bare.with_database("o'k");
        assert_eq!(moved.expose(), "postgres://u@db/o%27k?sslmode=disable");
        assert_eq!(url(moved.expose()).config().get_dbname(), Some("o'k"));

        let mut config = Config::new();
        config.host("db");
        let bare = ConnectionUrl::from_parts("host=db ".into(), config);
        let moved = bare.with_database("o'k");
        assert_eq!(moved.expose(), "host=db dbname='o\\'k' ");
        assert_eq!(url(moved.expose()).config().get_dbname(), Some("o'k"));
    }

    #[test]
    fn refuses_what_is_not_a_url_naming_a_database() {
        assert!(matches!(
            ConnectionUrl::parse("postgres://u@db:notaport/x"),
            Err(UrlError::Invalid(_))
        ));
        assert!(matches!(
            ConnectionUrl::parse("nonsense"),
            Err(UrlError::Invalid(_))
        ));
        assert!(matches!(
            ConnectionUrl::parse("postgres://u:pw@db"),
            Err(UrlError::NoDatabase)
        ));
        let error = ConnectionUrl::parse("postgres://u:pw@db:notaport/x").unwrap_err();
        assert!(!error.to_string().contains("pw"), "{error}");
    }
}
