//! What the bound user may do: `user_permissions (module, permission)` with `read` < `write`
//! < `admin`, nothing unless granted. `admin` on `platform` makes the organisation's
//! administrator (so does the `admin` role of `users`), who may grant anything and so holds
//! every level of every module.

use std::collections::HashMap;

use crate::model::{Level, PLATFORM_MODULE};

/// The bound user's live grants of the three levels (other permission names are modules'
/// own business). Runs in the request's tenant transaction, so it sees only that organisation.
/// An active user whose role is `admin` is the organisation's administrator without a grant
/// (the first user `maturion.create_organisation` makes is one).
pub const PERMISSIONS_OF_BOUND_USER: &str = "SELECT p.module, p.permission \
     FROM public.user_permissions AS p \
     WHERE p.user_id = (SELECT maturion.current_user_id()) AND p.deleted_at IS NULL \
       AND p.permission IN ('read', 'write', 'admin') \
     UNION ALL \
     SELECT 'platform', 'admin' FROM public.users AS u \
     WHERE u.id = (SELECT maturion.current_user_id()) AND u.role = 'admin' \
       AND u.is_active AND u.deleted_at IS NULL";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    levels: HashMap<String, Level>,
}

impl Permissions {
    /// From `(module, permission)` pairs.
    pub fn from_grants<'a>(grants: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut levels: HashMap<String, Level> = HashMap::new();
        for (module, permission) in grants {
            if let Some(level) = Level::parse(permission) {
                let held = levels.entry(module.to_owned()).or_insert(level);
                *held = (*held).max(level);
            }
        }
        Permissions { levels }
    }

    /// The modules whose rows the user may read, or `None` when every module (the platform's
    /// administrator).
    pub fn readable_modules(&self) -> Option<Vec<String>> {
        if self.levels.get(PLATFORM_MODULE) == Some(&Level::Admin) {
            return None;
        }
        let mut modules: Vec<String> = self.levels.keys().cloned().collect();
        modules.sort();
        Some(modules)
    }

    pub fn allows(&self, module: &str, needed: Level) -> bool {
        let held = self.levels.get(module).copied();
        let administrator = self.levels.get(PLATFORM_MODULE) == Some(&Level::Admin);
        administrator || held.is_some_and(|held| held >= needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_include_the_lower_ones_and_nothing_is_granted_by_default() {
        let permissions = Permissions::from_grants([("risks", "write"), ("risks", "approve")]);
        assert!(permissions.allows("risks", Level::Read));
        assert!(permissions.allows("risks", Level::Write));
        assert!(!permissions.allows("risks", Level::Admin));
        assert!(!permissions.allows("policies", Level::Read));
        assert!(!permissions.allows("platform", Level::Read));
        assert!(!Permissions::default().allows("risks", Level::Read));
    }

    #[test]
    fn the_platform_administrator_holds_every_level() {
        let permissions = Permissions::from_grants([("platform", "admin")]);
        assert!(permissions.allows("risks", Level::Admin));
        let reader = Permissions::from_grants([("platform", "read")]);
        assert!(!reader.allows("risks", Level::Read));
    }
}
