//! Key scopes and what each may do.

use crate::domain::names::named_enum;

named_enum! {
    /// What a brand's key may do.
    pub enum Scope {
        Admin = "admin",
        Read = "read",
        Storefront = "storefront",
        Influencer = "influencer",
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
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(*s));
        }
    }
}
