//! Account Settings › Credentials: a credential's card, the three flows that fix one, and the
//! dashboard's "Need Reauthentication" banner that leads to them.

pub mod backup_admin_form;
pub mod consent_button;
pub mod credential_card;
pub mod device_authorization;
pub mod just_fixed;
pub mod reauth_banner;
pub mod renew_soon;
