//! Who may do what, by role: the one table of permissions. The server enforces it (deny by
//! default: an action is allowed only where this table names the role) and adds the rule on
//! objects (whose mailbox, which organisation); the portal reads the same table only to hide
//! what a role cannot use.

use crate::{JobKind, Role};

/// Everything a signed-in person can ask the API to do, grouped by who may do it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read statuses: backups, their history and folders, migrations, restores, downloads,
    /// the dashboard and the live updates, within what the user may see.
    ViewStatus,
    /// Start a backup now, of one account or of every account of a filter.
    ForceBackup,
    /// Restore a backup. An end user restores only into their own mailbox (see
    /// [`Action::writes_own_mailbox_only`]).
    StartRestore,
    /// Migrate a mailbox to another.
    StartMigration,
    /// Download a mailbox's backup as a file.
    StartDownload,
    /// Try again, delete, or give the destination's password for a migration, restore or
    /// download. An end user only for jobs that write into nothing but their own mailbox.
    ManageJob,
    /// See Account Settings: an organisation's credentials and mailboxes.
    ViewSettings,
    /// Re-authenticate an organisation (Continue, Re Authenticate, Device Authorization, Check now).
    ChangeCredentials,
    /// Add IMAP mailboxes, test a connection, give a mailbox's new password.
    ChangeMailboxes,
    /// See and change where an organisation's events go (HaloPSA, webhooks) and their deliveries.
    ManageIntegrations,
    /// See how much room the service's own backup storage has left (the dashboard's warning):
    /// resellers run the service; an organisation can do nothing about it.
    ViewServiceStorage,
    /// Create, list and revoke API tokens (Account Settings › API tokens).
    ManageTokens,
    /// Read the activity log of the organisations one administers.
    ViewActivity,
    /// Search the messages inside backups, preview one, download its attachments: an end
    /// user their own mailbox's, admins and resellers those of the mailboxes in their scope.
    ReadMessages,
    /// Set how long deleted messages are kept (retention) and put mailboxes on legal hold.
    ManageRetention,
    /// One's own sign-in: second factor, password, sessions. Everyone, in person.
    ManageOwnSecurity,
    /// Require a second factor of an organisation's users (or, for a reseller, of its own and
    /// its organisations'): admins and resellers, in person.
    ManageSignInPolicy,
    /// Require a second factor reseller-wide (its own users and every organisation it
    /// serves): resellers only, in person.
    ManageResellerSignInPolicy,
}

impl Action {
    pub const ALL: [Action; 18] = [
        Action::ViewStatus,
        Action::ForceBackup,
        Action::StartRestore,
        Action::StartMigration,
        Action::StartDownload,
        Action::ManageJob,
        Action::ViewSettings,
        Action::ChangeCredentials,
        Action::ChangeMailboxes,
        Action::ManageIntegrations,
        Action::ViewServiceStorage,
        Action::ManageTokens,
        Action::ViewActivity,
        Action::ReadMessages,
        Action::ManageRetention,
        Action::ManageOwnSecurity,
        Action::ManageSignInPolicy,
        Action::ManageResellerSignInPolicy,
    ];

    /// Starting a job of this kind (a backup is started by Force Backup).
    pub fn start(kind: JobKind) -> Action {
        match kind {
            JobKind::Backup => Action::ForceBackup,
            JobKind::Restore => Action::StartRestore,
            JobKind::Migrate => Action::StartMigration,
            JobKind::Download => Action::StartDownload,
        }
    }

    /// Whether `role` may take this action at all (the objects it applies to are checked apart).
    pub fn allowed(self, role: Role) -> bool {
        let admin = matches!(role, Role::OrgAdmin | Role::Reseller);
        match self {
            Action::ViewStatus
            | Action::StartRestore
            | Action::StartDownload
            | Action::ManageJob
            | Action::ReadMessages
            | Action::ManageOwnSecurity => true,
            Action::ForceBackup
            | Action::StartMigration
            | Action::ViewSettings
            | Action::ChangeCredentials
            | Action::ChangeMailboxes
            | Action::ManageIntegrations
            | Action::ManageTokens
            | Action::ViewActivity
            | Action::ManageRetention
            | Action::ManageSignInPolicy => admin,
            Action::ViewServiceStorage | Action::ManageResellerSignInPolicy => role == Role::Reseller,
        }
    }

    /// Whether a token of this access level may take this action (its owner's role must also
    /// allow it). Deny by default: a token never manages tokens, credentials, mailboxes or
    /// integrations, whatever its level.
    pub fn allowed_for_token(self, access: crate::TokenAccess) -> bool {
        match self {
            Action::ViewStatus
            | Action::ViewSettings
            | Action::ViewServiceStorage
            | Action::ViewActivity
            | Action::ReadMessages => true,
            Action::ForceBackup | Action::StartRestore | Action::StartMigration | Action::StartDownload | Action::ManageJob => {
                access == crate::TokenAccess::Act
            }
            Action::ChangeCredentials
            | Action::ChangeMailboxes
            | Action::ManageIntegrations
            | Action::ManageTokens
            | Action::ManageRetention
            | Action::ManageOwnSecurity
            | Action::ManageSignInPolicy
            | Action::ManageResellerSignInPolicy => false,
        }
    }

    /// Whether `role` may do this only to what writes into their own mailbox (an end user's
    /// restore, and what they do with it afterwards).
    pub fn writes_own_mailbox_only(role: Role) -> bool {
        role == Role::EndUser
    }

    /// Who may take this action, in words for a 403 (what the person needs).
    pub fn who_may(self) -> &'static str {
        match self {
            Action::ViewStatus | Action::StartRestore | Action::StartDownload | Action::ManageJob | Action::ReadMessages => {
                "Everyone signed in may do this"
            }
            Action::ManageOwnSecurity => "Your own sign-in is changed only by you, signed in in person (not with an API token)",
            Action::ManageSignInPolicy => {
                "Sign-in rules are set only by the organisation's admins and its reseller, signed in in person"
            }
            Action::ManageResellerSignInPolicy => "Reseller-wide sign-in rules are set only by the reseller, signed in in person",
            Action::ForceBackup => "Force Backup is for resellers and organisation admins",
            Action::StartMigration => "Migrations are started by resellers and organisation admins",
            Action::ViewSettings => "Account Settings can be seen only by the organisation's admins and its reseller",
            Action::ChangeCredentials => "Credentials can be seen and changed only by the organisation's admins and its reseller",
            Action::ChangeMailboxes => "Mailboxes can be added and changed only by the organisation's admins and its reseller",
            Action::ManageIntegrations => {
                "Integrations (HaloPSA, webhooks) are set up only by the organisation's admins and its reseller"
            }
            Action::ViewServiceStorage => "The service's own storage is shown to resellers, who run the service",
            Action::ManageTokens => "API tokens are created and revoked only by organisation admins and resellers, signed in in person",
            Action::ViewActivity => "The activity log is shown only to organisation admins and resellers",
            Action::ManageRetention => {
                "Retention and legal hold are set only by the organisation's admins and its reseller, signed in in person"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_user_may_only_read_restore_and_download() {
        let allowed: Vec<Action> = Action::ALL.into_iter().filter(|a| a.allowed(Role::EndUser)).collect();
        assert_eq!(
            allowed,
            [
                Action::ViewStatus,
                Action::StartRestore,
                Action::StartDownload,
                Action::ManageJob,
                Action::ReadMessages,
                Action::ManageOwnSecurity
            ]
        );
        assert!(Action::writes_own_mailbox_only(Role::EndUser));
    }

    #[test]
    fn admins_and_resellers_may_do_everything_within_their_scope() {
        for role in [Role::OrgAdmin, Role::Reseller] {
            let organisations = Action::ALL
                .into_iter()
                .filter(|a| !matches!(a, Action::ViewServiceStorage | Action::ManageResellerSignInPolicy));
            assert!(organisations.into_iter().all(|a| a.allowed(role)), "{role:?}");
            assert!(!Action::writes_own_mailbox_only(role));
        }
    }

    #[test]
    fn only_resellers_see_the_service_storage() {
        let who: Vec<Role> = [Role::EndUser, Role::OrgAdmin, Role::Reseller]
            .into_iter()
            .filter(|role| Action::ViewServiceStorage.allowed(*role) && Action::ManageResellerSignInPolicy.allowed(*role))
            .collect();
        assert_eq!(who, [Role::Reseller]);
    }
}
