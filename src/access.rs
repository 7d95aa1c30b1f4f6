//! What the signed-in person may do, read from `portal_api::Action`: the one table of
//! permissions, which the server enforces. The portal only hides what a role cannot use;
//! no page compares roles by itself.

use leptos::prelude::*;
use portal_api::{Action, JobKind, JobRow, Role};

use crate::session::Session;

impl Session {
    /// The signed-in person's role, once the session is known. Tracked: a value derived
    /// from it follows it.
    pub fn role(&self) -> Option<Role> {
        self.0.get().and_then(Result::ok).map(|user| user.role)
    }

    /// Whether the signed-in person may take this action at all (not until the session is known).
    pub fn may(&self, action: Action) -> bool {
        self.role().is_some_and(|role| action.allowed(role))
    }

    /// Whether the signed-in person may act on this job (Try again, Delete, Edit).
    pub fn may_manage(&self, row: &JobRow) -> bool {
        self.role().is_some_and(|role| may_manage_job(role, row))
    }
}

/// Whether `role` may try again, delete, or give the destination's password of this job: an
/// end user only where the job writes into nothing but their own mailbox.
pub fn may_manage_job(role: Role, row: &JobRow) -> bool {
    Action::ManageJob.allowed(role) && (!Action::writes_own_mailbox_only(role) || writes_into_own_mailbox_only(row))
}

/// A download writes into no mailbox; a restore writes into the mailbox it was taken from
/// unless it names another; a migration always writes into another mailbox. (The mailbox a
/// job is about is the only one an end user sees.)
fn writes_into_own_mailbox_only(row: &JobRow) -> bool {
    match row.kind {
        JobKind::Download => true,
        JobKind::Restore => row.destination.as_deref().is_none_or(|to| to.eq_ignore_ascii_case(&row.mailbox_email)),
        JobKind::Migrate | JobKind::Backup => false,
    }
}

/// Whether `role` sees other people's mailboxes, each under its organisation. An end user's
/// view is their own mailbox, the same bound as what they may write into.
pub fn sees_other_mailboxes(role: Role) -> bool {
    !Action::writes_own_mailbox_only(role)
}

/// Whether `role` restores into a mailbox of their choice (an end user only into their own).
pub fn may_choose_destination(role: Role) -> bool {
    !Action::writes_own_mailbox_only(role)
}

/// Whether `role` sets sign-in rules of its own besides each organisation's: a reseller's cover
/// its own users and every organisation it serves.
pub fn sets_reseller_rules(role: Role) -> bool {
    Action::ManageSignInPolicy.allowed(role) && role == Role::Reseller
}
