//! Who may do what to which object: the one place that decides every permission. Every
//! handler asks here; none decides by itself.
//!
//! Two questions, in this order:
//! 1. May the user's role take the action at all? The table is `portal_api::Action` (shared with
//!    the portal, which only hides what a role cannot use). No: 403 naming who may.
//! 2. Is the object within the user's scope (own mailbox, own organisation, the organisations a
//!    reseller serves)? No: 404, the same answer as for something that does not exist, so that
//!    nobody learns what exists outside their scope.
//!
//! An end user may also write only into their own mailbox: a restore elsewhere, or anything
//! done to a job that writes elsewhere (a migration), is 403.

use portal_api::{Action, FieldError, JobKind, Role};

use crate::db::Db;
use crate::error::{AppError, AppResult};

/// Whoever asks: the signed-in user (`auth::CurrentUser`). A trait, so that this module
/// depends on nothing above it.
pub trait Principal {
    fn role(&self) -> Role;
    fn reseller_id(&self) -> Option<i64>;
    fn organisation_id(&self) -> Option<i64>;
    fn mailbox_id(&self) -> Option<i64>;
    /// The access level of the API token the request was signed with; none for a session.
    fn token_access(&self) -> Option<portal_api::TokenAccess> {
        None
    }
}

impl<T: Principal> Principal for &T {
    fn role(&self) -> Role {
        (**self).role()
    }
    fn reseller_id(&self) -> Option<i64> {
        (**self).reseller_id()
    }
    fn organisation_id(&self) -> Option<i64> {
        (**self).organisation_id()
    }
    fn mailbox_id(&self) -> Option<i64> {
        (**self).mailbox_id()
    }
    fn token_access(&self) -> Option<portal_api::TokenAccess> {
        (**self).token_access()
    }
}

/// What a user may see, from their role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Mailbox(i64),
    Organisation(i64),
    Reseller(i64),
}

impl Scope {
    /// The SQL condition that keeps rows to this scope, on tables joined as `m` (mailboxes)
    /// and `o` (organisations); its one parameter is `$1`.
    pub fn condition(self) -> (&'static str, i64) {
        match self {
            Scope::Mailbox(id) => ("m.id = $1", id),
            Scope::Organisation(id) => ("m.organisation_id = $1", id),
            Scope::Reseller(id) => ("o.reseller_id = $1", id),
        }
    }

    /// The same rule as [`Scope::condition`], on a row already read: whether a job of a
    /// mailbox with this owner is in the scope (live updates read every tenant's changes once
    /// and give each stream the ones its user may see).
    pub fn covers(self, owner: Owner) -> bool {
        match self {
            Scope::Mailbox(id) => owner.mailbox_id == id,
            Scope::Organisation(id) => owner.organisation_id == id,
            Scope::Reseller(id) => owner.reseller_id == id,
        }
    }

    /// The same on the `organisations` table alone (as `o`); `None` for an end user, who
    /// administers no organisation.
    pub fn organisation_condition(self) -> Option<(&'static str, i64)> {
        match self {
            Scope::Mailbox(_) => None,
            Scope::Organisation(id) => Some(("o.id = $1", id)),
            Scope::Reseller(id) => Some(("o.reseller_id = $1", id)),
        }
    }
}

impl Scope {
    /// The users (as `u`) whose API tokens this scope sees and may revoke: an organisation's
    /// admins; for a reseller, its own users and the admins of the organisations it serves.
    /// `None` for an end user. One parameter, `$1`.
    pub fn token_owner_condition(self) -> Option<(&'static str, i64)> {
        match self {
            Scope::Mailbox(_) => None,
            Scope::Organisation(id) => Some(("u.organisation_id = $1", id)),
            Scope::Reseller(id) => {
                Some(("(u.reseller_id = $1 OR u.organisation_id IN (SELECT id FROM organisations WHERE reseller_id = $1))", id))
            }
        }
    }

    /// The activity entries (as `a`) this scope sees: an organisation's; a reseller's own and
    /// those of the organisations it serves. `None` for an end user. One parameter, `$1`.
    pub fn activity_condition(self) -> Option<(&'static str, i64)> {
        match self {
            Scope::Mailbox(_) => None,
            Scope::Organisation(id) => Some(("a.organisation_id = $1", id)),
            Scope::Reseller(id) => Some(("a.reseller_id = $1", id)),
        }
    }
}

/// Whose a mailbox is: the mailbox, its organisation and that organisation's reseller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub mailbox_id: i64,
    pub organisation_id: i64,
    pub reseller_id: i64,
}

/// The user's scope. The schema guarantees the right ID is set for each role; a row that
/// broke that rule would see nothing rather than too much.
pub fn scope(user: impl Principal) -> Scope {
    match user.role() {
        Role::Reseller => Scope::Reseller(user.reseller_id().unwrap_or(-1)),
        Role::OrgAdmin => Scope::Organisation(user.organisation_id().unwrap_or(-1)),
        Role::EndUser => Scope::Mailbox(user.mailbox_id().unwrap_or(-1)),
    }
}

/// Whether the user's role may take `action` (for what an answer includes, not a 403), and,
/// for a request signed with an API token, the token's access level too.
pub fn may(user: impl Principal, action: Action) -> bool {
    action.allowed(user.role()) && user.token_access().is_none_or(|access| action.allowed_for_token(access))
}

/// 403 unless the user's role (and the token's access level) may take `action`.
pub fn require(user: impl Principal, action: Action) -> AppResult<()> {
    if !action.allowed(user.role()) {
        return Err(AppError::Forbidden(format!("{}; you are signed in as {}.", action.who_may(), user.role().label().to_lowercase())));
    }
    match user.token_access() {
        Some(access) if !action.allowed_for_token(access) => Err(AppError::Forbidden(match access {
            portal_api::TokenAccess::Read if action.allowed_for_token(portal_api::TokenAccess::Act) => {
                "This API token may only read. Create a token with the access level “act” to do this.".to_owned()
            }
            _ => "API tokens cannot do this: sign in to the portal in person.".to_owned(),
        })),
        _ => Ok(()),
    }
}

/// The organisation `id`, if the user's role may take `action` (else 403) on this organisation
/// (else 404: it does not exist, or it is outside the user's scope, which reads the same).
pub async fn organisation(db: &Db, user: impl Principal, id: i64, action: Action) -> AppResult<i64> {
    require(&user, action)?;
    let not_found = || AppError::not_found(format!("There is no organisation {id} among those you manage."));
    let Some((condition, scope_id)) = scope(&user).organisation_condition() else {
        return Err(not_found());
    };
    let found: Option<(i64,)> = sqlx::query_as(&format!("SELECT o.id FROM organisations o WHERE {condition} AND o.id = $2"))
        .bind(scope_id)
        .bind(id)
        .fetch_optional(db)
        .await?;
    found.map(|(id,)| id).ok_or_else(not_found)
}

/// Every organisation in the user's scope (id, name), if the user's role may take `action`
/// (else 403); none for a role that administers none.
pub async fn organisations(db: &Db, user: impl Principal, action: Action) -> AppResult<Vec<(i64, String)>> {
    require(&user, action)?;
    let Some((condition, scope_id)) = scope(&user).organisation_condition() else {
        return Ok(Vec::new());
    };
    Ok(sqlx::query_as(&format!("SELECT o.id, o.name FROM organisations o WHERE {condition} ORDER BY o.name, o.id"))
        .bind(scope_id)
        .fetch_all(db)
        .await?)
}

/// 403 for a request signed with an API token: what only a person signed in may do (sign out).
pub fn in_person(user: impl Principal) -> AppResult<()> {
    match user.token_access() {
        Some(_) => Err(AppError::Forbidden("An API token cannot do this: revoke it in Account Settings › API tokens instead.".into())),
        None => Ok(()),
    }
}

/// API token `id`, if the user's role may take `action` (else 403) and the token is owned by
/// someone in the user's scope (else 404). Answers the token's name and its owner's
/// organisation (none for a reseller's own).
pub async fn api_token(db: &Db, user: impl Principal, id: &str, action: Action) -> AppResult<(String, Option<i64>)> {
    require(&user, action)?;
    let not_found = || AppError::not_found("There is no such API token among those you manage.");
    let Some((condition, scope_id)) = scope(&user).token_owner_condition() else {
        return Err(not_found());
    };
    let found: Option<(String, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT t.name, u.organisation_id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE {condition} AND t.id = $2"
    ))
    .bind(scope_id)
    .bind(id)
    .fetch_optional(db)
    .await?;
    found.ok_or_else(not_found)
}

/// The organisation of delivery `id` (a PSA's or a webhook's), if the user's role may take
/// `action` (else 403, whatever the ID) and the delivery is of an organisation in the user's
/// scope (else 404).
pub async fn delivery(db: &Db, user: impl Principal, id: &str, action: Action) -> AppResult<i64> {
    require(&user, action)?;
    let not_found = || AppError::not_found("There is no such delivery among your organisations'.");
    let Some((condition, scope_id)) = scope(&user).organisation_condition() else {
        return Err(not_found());
    };
    let found: Option<(i64,)> = sqlx::query_as(&format!(
        "SELECT o.id FROM deliveries d JOIN organisations o ON o.id = d.organisation_id WHERE {condition} AND d.id = $2"
    ))
    .bind(scope_id)
    .bind(id)
    .fetch_optional(db)
    .await?;
    found.map(|(id,)| id).ok_or_else(not_found)
}

/// The message `id` of a backup, if the user may read messages (else 403) and its mailbox is
/// in their scope (else 404: missing or someone else's reads the same). Answers its mailbox.
pub async fn message(db: &Db, user: impl Principal, id: i64) -> AppResult<i64> {
    require(&user, Action::ReadMessages)?;
    let (condition, scope_id) = scope(&user).condition();
    let found: Option<(i64,)> = sqlx::query_as(&format!(
        "SELECT s.mailbox_id FROM message_search s JOIN mailboxes m ON m.id = s.mailbox_id \
         JOIN organisations o ON o.id = m.organisation_id WHERE {condition} AND s.id = $2"
    ))
    .bind(scope_id)
    .bind(id)
    .fetch_optional(db)
    .await?;
    found.map(|(mailbox,)| mailbox).ok_or_else(|| AppError::not_found(format!("There is no message {id} in the backups you may see.")))
}

/// Where a new restore or migration may write. An end user: their own mailbox only (no
/// destination means their own). Anyone else: another mailbox of the source's organisation;
/// for an IMAP source, an IMAP
/// mailbox of the organisation, whose saved settings the connector signs in with. Answers the
/// address to write into, lower-case.
pub async fn destination(
    db: &Db,
    user: impl Principal,
    kind: JobKind,
    source: &SourceMailbox,
    requested: Option<&str>,
) -> AppResult<Result<String, FieldError>> {
    let requested = requested.map(str::trim).filter(|d| !d.is_empty()).map(str::to_lowercase);
    if Action::writes_own_mailbox_only(user.role()) {
        return match requested {
            Some(other) if other != source.email => Err(AppError::Forbidden(format!(
                "You may restore your backup only into your own mailbox ({}); restores into {other} are started by your organisation's admins.",
                source.email
            ))),
            _ => Ok(Ok(source.email.clone())),
        };
    }
    let Some(destination) = requested else {
        return Ok(match kind {
            JobKind::Migrate => Err(FieldError::new("destination", "Enter the mailbox to migrate to.")),
            _ => Ok(source.email.clone()),
        });
    };
    if !looks_like_email(&destination) {
        return Ok(Err(FieldError::new("destination", "Enter the mailbox's address, like name@example.com.")));
    }
    if kind == JobKind::Migrate && destination == source.email {
        return Ok(Err(FieldError::new("destination", "A mailbox cannot be migrated into itself: enter another mailbox.")));
    }
    let imap = source.connector == portal_api::Connector::Imap;
    let sql = if imap {
        "SELECT m.id FROM mailboxes m JOIN imap_accounts a ON a.mailbox_id = m.id WHERE m.email = $1 AND m.organisation_id = $2"
    } else {
        "SELECT m.id FROM mailboxes m WHERE m.email = $1 AND m.organisation_id = $2"
    };
    let known: Option<(i64,)> = sqlx::query_as(sql).bind(&destination).bind(source.organisation_id).fetch_optional(db).await?;
    if known.is_none() {
        // Said the same whether the address exists in another organisation or nowhere.
        let message = if imap {
            format!("{destination} is not an IMAP mailbox of this organisation; add it under Account Settings › Mailboxes first.")
        } else {
            format!("{destination} is not a mailbox of this organisation: choose one of its mailboxes.")
        };
        return Ok(Err(FieldError::new("destination", message)));
    }
    Ok(Ok(destination))
}

/// Before a restore or migration runs again (Try again, a destination password): its
/// destination is checked as when it was started, so a job stored before a rule tightened, or
/// one whose destination left the organisation since, cannot write where it may not now.
pub async fn rerun_destination(
    db: &Db,
    user: impl Principal,
    kind: JobKind,
    mailbox_id: i64,
    stored: Option<&str>,
) -> AppResult<()> {
    if !matches!(kind, JobKind::Restore | JobKind::Migrate) {
        return Ok(());
    }
    let source: SourceMailbox = sqlx::query_as("SELECT email, connector, organisation_id FROM mailboxes WHERE id = $1")
        .bind(mailbox_id)
        .fetch_one(db)
        .await?;
    match destination(db, &user, kind, &source, stored).await? {
        Ok(_) => Ok(()),
        Err(field) => Err(AppError::Conflict(format!("It cannot run again: {} Start a new one instead.", field.message))),
    }
}

/// The mailbox a new job reads from, as found within the user's scope.
#[derive(sqlx::FromRow)]
pub struct SourceMailbox {
    pub email: String,
    #[sqlx(try_from = "String")]
    pub connector: portal_api::Connector,
    pub organisation_id: i64,
}

/// May the user try again, delete, or give the destination's password for this job (already
/// found within their scope)? An end user only for a job that writes into nothing but their
/// own mailbox: a download, or a restore into it.
pub fn manage_job(user: impl Principal, kind: JobKind, source_email: &str, destination: Option<&str>) -> AppResult<()> {
    require(&user, Action::ManageJob)?;
    if !Action::writes_own_mailbox_only(user.role()) {
        return Ok(());
    }
    let own = match kind {
        JobKind::Download => true,
        JobKind::Restore => destination.is_none_or(|d| d.eq_ignore_ascii_case(source_email)),
        JobKind::Migrate | JobKind::Backup => false,
    };
    if own {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "This job writes into another mailbox: only your organisation's admins and its reseller may change it.".into(),
        ))
    }
}

pub(crate) fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_covers_its_own_mailboxes_only() {
        let owner = Owner { mailbox_id: 7, organisation_id: 2, reseller_id: 1 };
        assert!(Scope::Mailbox(7).covers(owner));
        assert!(!Scope::Mailbox(8).covers(owner));
        assert!(Scope::Organisation(2).covers(owner));
        assert!(!Scope::Organisation(7).covers(owner), "IDs of other kinds never match");
        assert!(Scope::Reseller(1).covers(owner));
        assert!(!Scope::Reseller(2).covers(owner));
        // A user row that broke the schema's rule sees nothing.
        assert!(!Scope::Organisation(-1).covers(owner));
    }
}
