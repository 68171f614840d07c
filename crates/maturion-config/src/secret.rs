//! A value that must not end up in logs, error messages or terminals by accident.

use std::fmt;

/// What a secret prints as, in its place.
pub const MASK: &str = "****";

/// Holds a secret (a password, a URL with a password in it). `Debug` and `Display` print
/// [`MASK`]; the value itself is only reached through [`Secret::expose`], which makes every
/// place that shows it easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_debug_nor_display_shows_the_value() {
        let secret = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{secret:?}"), "Secret(****)");
        assert_eq!(format!("{secret:#?}"), "Secret(****)");
        assert_eq!(secret.to_string(), "****");
        assert_eq!(secret.expose(), "hunter2");
    }
}
