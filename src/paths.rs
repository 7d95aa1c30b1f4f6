//! Every page's address, named once: links, navigations and the route table in `lib.rs` take
//! them from here. A new page gets its address here first.

use portal_api::JobKind;

/// The addresses, and `route!(NAME)`: the same text as a route's path for `lib.rs` (Leptos'
/// `path!` takes only a literal token, so `route!` hands it the one written here).
macro_rules! addresses {
    // `tt`, not `literal`: a `literal` reaches `path!` wrapped in a group, which it cannot read.
    ($($(#[doc = $doc:literal])* $name:ident = $path:tt;)*) => {
        $($(#[doc = $doc])* pub const $name: &str = $path;)*

        /// The route path (Leptos' `path!`) of an address named in `paths`.
        macro_rules! route {
            $(($name) => { leptos_router::path!($path) };)*
        }
        pub(crate) use route;
    };
}

addresses! {
    /// Sign in; `sign_in_href` adds the page to come back to.
    SIGN_IN = "/sign-in";
    /// The backup dashboard.
    DASHBOARD = "/";
    /// System Status › Backups: `?q=`, `?status=`, `?page=`.
    BACKUPS = "/status/backups";
    /// System Status › Migrates, Restores, Downloads (`jobs(kind)`): `?q=`, `?status=`,
    /// `?sort=`, `?page=`.
    MIGRATES = "/status/migrates";
    RESTORES = "/status/restores";
    DOWNLOADS = "/status/downloads";
    /// One migration, restore or download, as a route: its address is `job(kind, id)`.
    MIGRATE = "/status/migrates/:id";
    RESTORE = "/status/restores/:id";
    DOWNLOAD = "/status/downloads/:id";
    /// Search messages (in every backup the user may see): `?q=`, `?from=`, `?to=`,
    /// `?mailbox_id=`, `?folder=`, `?after=`, `?before=` (YYYY-MM-DD), `?has_attachment=`,
    /// `?deleted=`, `?sort=`, `?page=`.
    MESSAGES = "/messages";
    /// One message of a backup, as a route: its address is `message(id)`.
    MESSAGE = "/messages/:id";
    /// Account Settings › Credentials: `?organisation=`, `?consent=` (back from the identity
    /// provider), `#backup_admin` (one credential, by its kind).
    CREDENTIALS = "/settings/credentials";
    /// Account Settings › Mailboxes: `?organisation=`.
    MAILBOXES = "/settings/mailboxes";
    /// Account Settings › Integrations (HaloPSA, webhooks): `?organisation=`.
    INTEGRATIONS = "/settings/integrations";
    /// Account Settings › Deliveries (every event sent and its attempts): `?organisation=`.
    DELIVERIES = "/settings/deliveries";
    /// Account Settings › API tokens: create one (shown once), list and revoke them.
    TOKENS = "/settings/tokens";
    /// Account Settings › Activity (who did what): `?action=`, `?q=`, `?page=`.
    ACTIVITY = "/settings/activity";
    /// Account Settings › Retention (how long deleted messages are kept, legal hold): `?organisation=`.
    RETENTION = "/settings/retention";
    /// Account Settings › Security: the person's own second factor, sessions and password, and
    /// (for admins and resellers) the sign-in rules: `?organisation=`. Where a person whose
    /// organisation requires a second factor is kept until they set one up.
    SECURITY = "/account/security";
    /// Help › Error types; `#id` is one of them (`error_type`).
    ERROR_TYPES = "/errors";
}

/// A kind's list on System Status (`/status/restores`).
pub const fn jobs(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Backup => BACKUPS,
        JobKind::Migrate => MIGRATES,
        JobKind::Restore => RESTORES,
        JobKind::Download => DOWNLOADS,
    }
}

/// One job's page (`/status/restores/R-…`; the routes `MIGRATE`, `RESTORE`, `DOWNLOAD`).
pub fn job(kind: JobKind, id: &str) -> String {
    format!("{}/{id}", jobs(kind))
}

/// One message of a backup, previewed (`/messages/812`; the route `MESSAGE`).
pub fn message(id: i64) -> String {
    format!("{MESSAGES}/{id}")
}

/// An Account Settings page for one organisation (`/settings/deliveries?organisation=7`).
pub fn for_organisation(page: &str, organisation_id: i64) -> String {
    format!("{page}?organisation={organisation_id}")
}

/// One error type on Help › Error types (`/errors#email-backup-failed`).
pub fn error_type(id: &str) -> String {
    format!("{ERROR_TYPES}#{id}")
}

// A job's route is its list's address and `/:id`, as `job` makes its links.
const _: () = assert!(is_item_of(MIGRATE, MIGRATES) && is_item_of(RESTORE, RESTORES) && is_item_of(DOWNLOAD, DOWNLOADS));
// A message's route is the search's address and `/:id`, as `message` makes its links.
const _: () = assert!(is_item_of(MESSAGE, MESSAGES));

/// Whether `route` is `list` followed by `/:id`.
const fn is_item_of(route: &str, list: &str) -> bool {
    const ITEM: &[u8] = b"/:id";
    let (route, list) = (route.as_bytes(), list.as_bytes());
    if route.len() != list.len() + ITEM.len() {
        return false;
    }
    let mut i = 0;
    while i < route.len() {
        let expected = if i < list.len() { list[i] } else { ITEM[i - list.len()] };
        if route[i] != expected {
            return false;
        }
        i += 1;
    }
    true
}
