//! The embedded identity provider's directory: fixed demo tenants and users, in code.
//!
//! One tenant per demo organisation domain. Every tenant has the same four users, all with the
//! password [`DEMO_IDP_PASSWORD`]:
//!
//! | user | may grant admin consent | has the role Backup Portal needs | locked |
//! |---|---|---|---|
//! | `global.admin@{domain}` | yes | yes | no |
//! | `backup.admin@{domain}` | no | yes | no |
//! | `helpdesk@{domain}` | no | no | no |
//! | `former.admin@{domain}` | no | yes | yes |
//!
//! and, as members without those rights, the portal's demo users of each domain (`PORTAL_MEMBERS`),
//! who sign in to the portal with their work account (OpenID Connect).

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// The password of every user of the embedded identity provider.
pub const DEMO_IDP_PASSWORD: &str = "idp-demo";

/// A directory (an organisation) of the embedded identity provider.
#[derive(Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant ID: fixed, GUID-shaped.
    pub id: &'static str,
    /// The organisation's (only) verified domain.
    pub domain: &'static str,
    /// The organisation's display name.
    pub name: &'static str,
    /// A "busy provider": the first poll of each device code is answered `slow_down`.
    pub slow_down_first_poll: bool,
}

/// The demo tenants.
pub static TENANTS: [Tenant; 4] = [
    Tenant {
        id: "6f1c2a3e-7d45-4b8a-9c1e-2a5b7d9e0f11",
        domain: "acme-legal.example",
        name: "Acme Legal",
        slow_down_first_poll: false,
    },
    Tenant {
        id: "8a2d4c6e-1f3b-4d5a-8e7c-9b0a1c2d3e22",
        domain: "bluebird-clinics.example",
        name: "Bluebird Clinics",
        slow_down_first_poll: false,
    },
    Tenant {
        id: "3c5e7a9b-2d4f-4a6c-8b1e-0d2f4a6c8e33",
        domain: "cedar-logistics.example",
        name: "Cedar Logistics",
        slow_down_first_poll: true,
    },
    Tenant {
        id: "b4d6f8a0-3e5c-4b7d-9f1a-2c4e6a8b0d44",
        domain: "delta-foods.example",
        name: "Delta Foods",
        slow_down_first_poll: false,
    },
];

/// The tenant ID of a demo organisation's domain (case-insensitive), e.g.
/// `tenant_id_for_domain("acme-legal.example")`.
pub fn tenant_id_for_domain(domain: &str) -> Option<&'static str> {
    TENANTS.iter().find(|t| t.domain.eq_ignore_ascii_case(domain.trim())).map(|t| t.id)
}

/// A tenant by its ID or its domain (both case-insensitive).
pub fn tenant(id_or_domain: &str) -> Option<&'static Tenant> {
    let wanted = id_or_domain.trim();
    TENANTS.iter().find(|t| t.id.eq_ignore_ascii_case(wanted) || t.domain.eq_ignore_ascii_case(wanted))
}

/// Which directories a request's `{tenant}` path segment allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TenantScope {
    /// `organizations` (or `common`): any tenant; the user's own decides.
    Any,
    One(&'static Tenant),
}

impl TenantScope {
    /// `organizations`, `common`, a tenant ID or a domain; `None` when unknown.
    pub(crate) fn parse(segment: &str) -> Option<Self> {
        if segment.eq_ignore_ascii_case("organizations") || segment.eq_ignore_ascii_case("common") {
            return Some(TenantScope::Any);
        }
        tenant(segment).map(TenantScope::One)
    }

    /// Whether a user (or a grant) of `tenant` may be used here.
    pub(crate) fn allows(self, tenant: &Tenant) -> bool {
        match self {
            TenantScope::Any => true,
            TenantScope::One(one) => one.id == tenant.id,
        }
    }

    /// The path segment that names this scope in our own links.
    pub(crate) fn segment(self) -> &'static str {
        match self {
            TenantScope::Any => "organizations",
            TenantScope::One(tenant) => tenant.id,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct User {
    pub email: String,
    pub display_name: String,
    pub tenant: &'static Tenant,
    /// May grant admin consent for the tenant.
    pub global_admin: bool,
    /// Assigned the role the backup service needs.
    pub backup_role: bool,
    pub locked: bool,
}

static USERS: LazyLock<Vec<User>> = LazyLock::new(|| {
    let mut users = Vec::new();
    for tenant in &TENANTS {
        let mut add = |local: &str, name: &str, global_admin: bool, backup_role: bool, locked: bool| {
            users.push(User {
                email: format!("{local}@{}", tenant.domain),
                display_name: format!("{name} ({})", tenant.name),
                tenant,
                global_admin,
                backup_role,
                locked,
            })
        };
        add("global.admin", "Global Administrator", true, true, false);
        add("backup.admin", "Backup Administrator", false, true, false);
        add("helpdesk", "Helpdesk", false, false, false);
        add("former.admin", "Former Administrator", false, true, true);
        // People of the organisation who sign in to the portal with their work account (the
        // portal's demo users of that domain): no admin rights in the directory.
        for (domain, local, name) in PORTAL_MEMBERS {
            if domain == tenant.domain {
                add(local, name, false, false, false);
            }
        }
    }
    users
});

/// Members who are not administrators: the portal's demo users with an address of a tenant.
const PORTAL_MEMBERS: [(&str, &str, &str); 6] = [
    ("acme-legal.example", "admin", "Sam Patel"),
    ("acme-legal.example", "alice.archer", "Alice Archer"),
    ("acme-legal.example", "bruno.dubois", "Bruno Dubois"),
    ("acme-legal.example", "chloe.garcia", "Chloe Garcia"),
    ("bluebird-clinics.example", "it", "Iris Tan"),
    ("cedar-logistics.example", "admin", "Kofi Mensah"),
];

/// A user by email address (case-insensitive).
pub fn user(email: &str) -> Option<&'static User> {
    let wanted = email.trim();
    USERS.iter().find(|u| u.email.eq_ignore_ascii_case(wanted))
}

/// The outcome of checking an email address and password.
#[derive(Debug)]
pub(crate) enum SignIn {
    /// The password is right and the account is not locked.
    Valid(&'static User),
    /// The password is right, and the account is locked.
    Locked(&'static User),
    /// Unknown user or wrong password (never says which).
    Invalid,
}

/// Checks a sign-in. The password is compared as a SHA-256 digest in constant time, and an
/// unknown email costs the same comparison as a known one.
pub(crate) fn sign_in(email: &str, password: &str) -> SignIn {
    static EXPECTED: LazyLock<[u8; 32]> = LazyLock::new(|| Sha256::digest(DEMO_IDP_PASSWORD.as_bytes()).into());
    let given: [u8; 32] = Sha256::digest(password.as_bytes()).into();
    let password_ok = super::constant_time_eq(&given, &*EXPECTED);
    match user(email) {
        Some(user) if password_ok && user.locked => SignIn::Locked(user),
        Some(user) if password_ok => SignIn::Valid(user),
        _ => SignIn::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_found_by_domain_or_id() {
        let acme = tenant_id_for_domain("acme-legal.example").unwrap();
        assert_eq!(tenant(acme).unwrap().domain, "acme-legal.example");
        assert_eq!(tenant("ACME-LEGAL.example").unwrap().id, acme);
        assert_eq!(tenant_id_for_domain("northwind.example"), None);
        assert_eq!(TenantScope::parse("organizations"), Some(TenantScope::Any));
        assert!(TENANTS.iter().filter(|t| t.slow_down_first_poll).all(|t| t.domain == "cedar-logistics.example"));
    }

    #[test]
    fn sign_in_checks_the_password_before_telling_about_a_lock() {
        assert!(matches!(sign_in("backup.admin@delta-foods.example", DEMO_IDP_PASSWORD), SignIn::Valid(_)));
        assert!(matches!(sign_in("former.admin@delta-foods.example", DEMO_IDP_PASSWORD), SignIn::Locked(_)));
        assert!(matches!(sign_in("former.admin@delta-foods.example", "nope"), SignIn::Invalid));
        assert!(matches!(sign_in("nobody@delta-foods.example", DEMO_IDP_PASSWORD), SignIn::Invalid));
    }
}
