//! Jobs of every kind (a backup is one too): a status and what it means, what a run skipped,
//! the actions on a migration, restore or download, and starting one.

pub mod destination_password;
pub mod job_actions;
pub mod job_run;
pub mod new_job;
pub mod skipped_items;
pub mod status_badge;
