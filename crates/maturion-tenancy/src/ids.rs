use std::fmt;
use std::str::FromStr;

use postgres_types::{to_sql_checked, IsNull, ToSql, Type};
use uuid::Uuid;

/// A malformed id, with what it was meant to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "malformed {kind} id {input:?}: expected a UUID such as 0190c3a0-5b1e-7c3d-8e4f-0123456789ab"
)]
pub struct IdError {
    pub kind: &'static str,
    pub input: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(input: &str) -> Result<Self, IdError> {
                Uuid::try_parse(input.trim())
                    .map(Self)
                    .map_err(|_| IdError { kind: $kind, input: input.to_owned() })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl ToSql for $name {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut postgres_types::private::BytesMut,
            ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <Uuid as ToSql>::accepts(ty)
            }

            to_sql_checked!();
        }
    };
}

uuid_id!(
    /// Id of an organisation: the tenant key (`organisation_id`).
    OrganisationId,
    "organisation"
);
uuid_id!(
    /// Id of a user within an organisation.
    UserId,
    "user"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_print() {
        let text = "0190c3a0-5b1e-7c3d-8e4f-0123456789ab";
        let id: OrganisationId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(format!(" {text} ").parse::<OrganisationId>().unwrap(), id);
    }

    #[test]
    fn malformed_ids_are_named() {
        let err = "not-a-uuid".parse::<UserId>().unwrap_err();
        assert_eq!(err.kind, "user");
        assert!(
            err.to_string().contains("malformed user id \"not-a-uuid\""),
            "{err}"
        );
        assert!("".parse::<OrganisationId>().is_err());
        assert!("0190c3a0-5b1e-7c3d-8e4f-0123456789ab'; --"
            .parse::<OrganisationId>()
            .is_err());
    }

    #[test]
    fn generated_ids_are_time_ordered_v7() {
        let a = OrganisationId::generate();
        let b = OrganisationId::generate();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
    }
}
