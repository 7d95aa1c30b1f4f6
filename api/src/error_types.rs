//! The job error types the backup service raises as tickets in a PSA, grouped by what was
//! being backed up, each with what it means and what to do. The titles are the tickets' own
//! names (what PSA users search for); the explanations are ours.

use crate::jobs::{JobKind, JobStatus};

/// What was being backed up (or which credential) when the error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Email,
    OneDrive,
    Contacts,
    Calendars,
    Tasks,
    Archive,
    Tokens,
}

impl Service {
    pub const ALL: [Service; 7] = [
        Service::Email,
        Service::OneDrive,
        Service::Contacts,
        Service::Calendars,
        Service::Tasks,
        Service::Archive,
        Service::Tokens,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Service::Email => "Email",
            Service::OneDrive => "OneDrive",
            Service::Contacts => "Contacts",
            Service::Calendars => "Calendars",
            Service::Tasks => "Tasks",
            Service::Archive => "Archive",
            Service::Tokens => "Sign-in tokens (Account Settings › Credentials)",
        }
    }
}

/// One error type of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorType {
    /// Stable, for links: `/errors#{id}`.
    pub id: &'static str,
    pub service: Service,
    /// The ticket's title in the PSA.
    pub title: &'static str,
    pub meaning: &'static str,
    pub what_to_do: &'static str,
}

const CONNECT_TODO: &str = "Usually nothing: the backup tries again by itself every 30 minutes, up to 25 times. \
    If it keeps failing for a day, check the provider's service status page and tell support the Mailbox Email ID.";
const SIGN_IN_TODO: &str = "Check that the account exists, is enabled and licensed, and that the backup admin still \
    has its role; then fix the credential on Account Settings › Credentials.";

pub const ERROR_TYPES: [ErrorType; 17] = [
    ErrorType {
        id: "email-backup-failed",
        service: Service::Email,
        title: "The email backup has failed",
        meaning: "The mailbox could not be backed up. It stands for every kind of email failure: the mail server \
            could not be reached, it refused our sign-in, our own infrastructure failed, or our code hit an error.",
        what_to_do: "Open System Status › Backups for the mailbox: its status says which failure it was (Connection \
            Error, Authentication Error, Retrying) and what to do about that one.",
    },
    ErrorType {
        id: "onedrive-cannot-connect",
        service: Service::OneDrive,
        title: "OneDrive backup fails. Unable to connect to mail server",
        meaning: "Microsoft Graph did not give us a file: the file was gone (404), Microsoft asked us to slow down \
            (429), the service was down (503), or the connection was reset or timed out.",
        what_to_do: CONNECT_TODO,
    },
    ErrorType {
        id: "onedrive-authentication",
        service: Service::OneDrive,
        title: "OneDrive backup fail. Authentication error",
        meaning: "Microsoft Graph refused the request: something it needs was missing (400), the account lacks a \
            permission (401), or we may not open the file or lack a scope (403).",
        what_to_do: SIGN_IN_TODO,
    },
    ErrorType {
        id: "contacts-cannot-connect",
        service: Service::Contacts,
        title: "Backup contacts fail. Unable to connect to mail server",
        meaning: "We could not reach the mail server to read the user's contacts.",
        what_to_do: CONNECT_TODO,
    },
    ErrorType {
        id: "contacts-authentication",
        service: Service::Contacts,
        title: "Backup contacts fail. Authentication error",
        meaning: "The mail server did not accept who we signed in as: the user name (UPN) is wrong, the username and \
            password do not match, or the right to sign in was taken away.",
        what_to_do: SIGN_IN_TODO,
    },
    ErrorType {
        id: "contacts-gws-connection",
        service: Service::Contacts,
        title: "Backup contacts fail. GWS API connection error",
        meaning: "Google Workspace would not give us the contacts: the address they belong to is inactive, or \
            contacts are turned off in the Google Workspace Admin console.",
        what_to_do: "In the Google Workspace Admin console, check that the user is active and that Contacts is on \
            for them; the next backup picks them up.",
    },
    ErrorType {
        id: "calendars-cannot-connect",
        service: Service::Calendars,
        title: "Backup calendars fail. Unable to connect to mail server",
        meaning: "We could not reach the mail server to read the user's calendars.",
        what_to_do: CONNECT_TODO,
    },
    ErrorType {
        id: "calendars-authentication",
        service: Service::Calendars,
        title: "Backup calendars fail. Authentication error",
        meaning: "The mail server did not accept who we signed in as: the user name (UPN) is wrong, the username and \
            password do not match, or the right to sign in was taken away.",
        what_to_do: SIGN_IN_TODO,
    },
    ErrorType {
        id: "calendars-gws-connection",
        service: Service::Calendars,
        title: "Backup calendars fail. GWS API connection error",
        meaning: "Google Workspace would not give us the calendars: the address that owns them is inactive, or \
            calendars are turned off in the Google Workspace Admin console.",
        what_to_do: "In the Google Workspace Admin console, check that the user is active and that Calendar is on \
            for them; the next backup picks them up.",
    },
    ErrorType {
        id: "tasks-cannot-connect",
        service: Service::Tasks,
        title: "Backup tasks fail. Unable to connect to mail server",
        meaning: "We could not reach the mail server to read the user's tasks.",
        what_to_do: CONNECT_TODO,
    },
    ErrorType {
        id: "tasks-gws-throttled",
        service: Service::Tasks,
        title: "Backup tasks fail. Unable to connect to GWS API due to per-day throttling",
        meaning: "The backup used up its daily allowance of calls to the Google Tasks API, so Google stopped \
            answering until the next day.",
        what_to_do: "Nothing: the tasks are backed up once Google's daily allowance starts again. If it happens \
            every day, tell support: the allowance may need raising for your domain.",
    },
    ErrorType {
        id: "tasks-authentication",
        service: Service::Tasks,
        title: "Backup tasks fail. Authentication error",
        meaning: "The mail server did not accept who we signed in as: the user name (UPN) is wrong, the username and \
            password do not match, or the right to sign in was taken away.",
        what_to_do: SIGN_IN_TODO,
    },
    ErrorType {
        id: "archive-authentication",
        service: Service::Archive,
        title: "Archive fail. Authentication error",
        meaning: "The archive could not be opened for this user: the user does not exist or is disabled, has no \
            license, or a permission stops us.",
        what_to_do: "Check the user in the Microsoft 365 admin center (exists, enabled, licensed), then the backup \
            admin's role.",
    },
    ErrorType {
        id: "main-app-token-detected",
        service: Service::Tokens,
        title: "Main App (Global Admin) Token authorization error was detected",
        meaning: "The backup app's consent no longer works: the app registration was deleted, the global \
            administrator who consented was removed, or the consent was revoked. Backups cannot start.",
        what_to_do: "On Account Settings › Credentials, choose Continue and have a global administrator consent again.",
    },
    ErrorType {
        id: "main-app-token-resolved",
        service: Service::Tokens,
        title: "Main App (Global Admin) Token authorization error is resolved",
        meaning: "Consent was given again and the backup app has a working token; backups carry on.",
        what_to_do: "Nothing. The ticket can be closed.",
    },
    ErrorType {
        id: "device-token-detected",
        service: Service::Tokens,
        title: "Device Token authorization error was detected",
        meaning: "The device token, the first step of the sign-in flows, did not work: it is invalid, expired, \
            revoked or malformed.",
        what_to_do: "On Account Settings › Credentials, run Device Authorization again with a new code.",
    },
    ErrorType {
        id: "delegated-token-detected",
        service: Service::Tokens,
        title: "Delegated Token authorization error was detected",
        meaning: "The token that lets the backup act on a signed-in admin's behalf was not granted: the permission \
            was not given when that admin was asked to consent, or it was taken away since.",
        what_to_do: "On Account Settings › Credentials, choose Re Authenticate and sign in as the backup admin, \
            accepting the permissions asked for.",
    },
];

/// How answers from upstream services map to job statuses (what a connector does).
pub const UPSTREAM_ANSWERS: [(&str, &str); 5] = [
    ("Microsoft Graph 404, 429, 503; connection reset; timeout", "Connection Error (retried)"),
    ("Microsoft Graph 400, 401, 403; IMAP sign-in refused", "Authentication Error"),
    ("Google Workspace per-day limit reached", "Connection Error (throttled, retried)"),
    ("Quota of the subscription or of the destination mailbox", "Space Full"),
    ("Some items could not be read", "Partially Complete (the items are listed)"),
];

/// The catalogue entry a job in this status links to, where there is one (the PSA raises
/// tickets for backups only).
pub fn for_job(kind: JobKind, status: JobStatus) -> Option<&'static ErrorType> {
    let failed = matches!(
        status,
        JobStatus::ConnectionError
            | JobStatus::AuthenticationError
            | JobStatus::Retrying
            | JobStatus::SpaceFull
            | JobStatus::PartiallyComplete
    );
    (kind == JobKind::Backup && failed).then(|| &ERROR_TYPES[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_entries_and_every_id_is_unique() {
        for service in Service::ALL {
            assert!(ERROR_TYPES.iter().any(|e| e.service == service), "{service:?}");
        }
        let mut ids: Vec<&str> = ERROR_TYPES.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ERROR_TYPES.len());
    }

    #[test]
    fn backup_errors_link_to_the_email_entry_and_healthy_states_to_none() {
        assert_eq!(for_job(JobKind::Backup, JobStatus::ConnectionError).map(|e| e.id), Some("email-backup-failed"));
        assert_eq!(for_job(JobKind::Backup, JobStatus::Completed), None);
        assert_eq!(for_job(JobKind::Restore, JobStatus::Failed), None);
    }
}
