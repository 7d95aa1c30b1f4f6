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

/// One sign-in per role with an authenticator app set up: its secret is derived from the
/// address (`cargo xtask totp EMAIL` prints the current code; `cargo xtask run` the secrets).
pub const DEMO_TWO_FACTOR_SIGN_INS: [(Role, &str, &str); 3] = [
    (Role::EndUser, "chloe.garcia@acme-legal.example", "Chloe Garcia"),
    (Role::OrgAdmin, "it@bluebird-clinics.example", "Iris Tan"),
    (Role::Reseller, "security@northwind.example", "Owen Shaw"),
];

/// Cedar Logistics enforces sign-in with Microsoft (through the identity provider built in,
/// whose password for every account is `idp-demo`): its admin signs in only that way; the
/// break-glass admin keeps the demo password.
pub const DEMO_SSO_ADMIN: &str = "admin@cedar-logistics.example";
pub const DEMO_BREAK_GLASS_ADMIN: &str = "breakglass@cedar-logistics.example";

/// An end user without a second factor whom no other demo story uses: the sessions and
/// enrolment specs sign in as them.
pub const DEMO_SPARE_END_USER: &str = "bruno.dubois@acme-legal.example";

/// The mail-server password of every demo mailbox: what Edit on a restore or migration in
/// Authentication Error must be given for the demo connector to get in.
pub const DEMO_MAILBOX_PASSWORD: &str = "mailbox-demo";
