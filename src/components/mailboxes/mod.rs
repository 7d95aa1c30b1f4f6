//! Account Settings › Mailboxes: adding an IMAP mailbox, and its new password.

pub mod imap_mailbox_form;
pub mod mailbox_password;
