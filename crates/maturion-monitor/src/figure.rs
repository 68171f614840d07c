use serde::Serialize;

/// A figure, or why this server cannot give it (an extension not loaded, backups not set up,
/// not the embedded cluster): monitoring goes on without it rather than failing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure<T> {
    Available(T),
    NotAvailable(String),
}

impl<T> Figure<T> {
    pub fn available(&self) -> Option<&T> {
        match self {
            Self::Available(value) => Some(value),
            Self::NotAvailable(_) => None,
        }
    }
}
