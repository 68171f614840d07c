//! The platform's login roles that an external server can have URLs of their own for.

/// A role of the platform (see maturion-schema's `roles.sql`) whose URL can be configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformRole {
    /// `maturion_app`: the runtime role, under RLS.
    App,
    /// `maturion_readonly`: reads under RLS.
    Readonly,
    /// `maturion_maintenance`: retention, partitions and rollups (BYPASSRLS).
    Maintenance,
}

impl PlatformRole {
    pub const ALL: [Self; 3] = [Self::App, Self::Readonly, Self::Maintenance];

    pub const fn name(self) -> &'static str {
        match self {
            Self::App => "maturion_app",
            Self::Readonly => "maturion_readonly",
            Self::Maintenance => "maturion_maintenance",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.name() == name)
    }

    /// Its URL's key in the configuration file.
    pub const fn key(self) -> &'static str {
        match self {
            Self::App => "database.app_url",
            Self::Readonly => "database.readonly_url",
            Self::Maintenance => "database.maintenance_url",
        }
    }

    /// Its URL's environment variable.
    pub const fn variable(self) -> &'static str {
        match self {
            Self::App => "MATURION_DATABASE_APP_URL",
            Self::Readonly => "MATURION_DATABASE_READONLY_URL",
            Self::Maintenance => "MATURION_DATABASE_MAINTENANCE_URL",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_schema_roles() {
        assert_eq!(PlatformRole::App.name(), maturion_schema::APP_ROLE);
        assert_eq!(
            PlatformRole::Readonly.name(),
            maturion_schema::READONLY_ROLE
        );
        assert_eq!(
            PlatformRole::Maintenance.name(),
            maturion_schema::MAINTENANCE_ROLE
        );
        assert_eq!(
            PlatformRole::from_name("maturion_app"),
            Some(PlatformRole::App)
        );
        assert_eq!(PlatformRole::from_name("maturion_owner"), None);
    }
}
