//! The demo sign-ins that the embedded default seeds: printed by `cargo xtask run`, shown on
//! the sign-in page, used by the tests.

use crate::Role;

/// The password of every demo sign-in.
pub const DEMO_PASSWORD: &str = "demo-portal";

/// One sign-in per role.
pub const DEMO_SIGN_INS: [(Role, &str); 3] = [
    (Role::EndUser, "alice.archer@acme-legal.example"),
    (Role::OrgAdmin, "admin@acme-legal.example"),
    (Role::Reseller, "reseller@northwind.example"),
];

/// The mail-server password of every demo mailbox: what Edit on a restore or migration in
/// Authentication Error must be given for the demo connector to get in.
pub const DEMO_MAILBOX_PASSWORD: &str = "mailbox-demo";
