//! Key scopes and what each may do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Admin,
    Read,
    Storefront,
    Influencer,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Read => "read",
            Self::Storefront => "storefront",
            Self::Influencer => "influencer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "read" => Some(Self::Read),
            "storefront" => Some(Self::Storefront),
            "influencer" => Some(Self::Influencer),
            _ => None,
        }
    }
}

/// What an operation needs of the calling key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Brand data, read: admin or read keys.
    Read,
    /// Brand data, written: admin keys.
    Write,
    /// Storefront calls (code lookups, orders): storefront or admin keys.
    Storefront,
}

impl Access {
    pub fn allows(self, scope: Scope) -> bool {
        match self {
            Self::Read => matches!(scope, Scope::Admin | Scope::Read),
            Self::Write => scope == Scope::Admin,
            Self::Storefront => matches!(scope, Scope::Admin | Scope::Storefront),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_matrix() {
        use Scope::*;
        let all = [Admin, Read, Storefront, Influencer];
        let allowed = |a: Access| all.iter().filter(|s| a.allows(**s)).count();
        assert_eq!(allowed(Access::Write), 1);
        assert!(Access::Read.allows(Read) && !Access::Read.allows(Storefront));
        assert!(Access::Storefront.allows(Storefront) && !Access::Storefront.allows(Read));
        assert!(!Access::Read.allows(Influencer));
        for s in all {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
    }
}
