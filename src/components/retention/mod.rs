//! Account Settings › Retention: how long deleted messages are kept (and what the last pruning
//! removed), and each mailbox's legal hold; the dashboard's storage by organisation.

pub mod legal_holds;
pub mod organisation_storage;
pub mod retention_form;
