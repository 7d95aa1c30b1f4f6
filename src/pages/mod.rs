pub mod backups;
pub mod credentials;
pub mod dashboard;
pub mod error_catalogue;
pub mod job;
pub mod jobs;
pub mod not_found;
pub mod sign_in;
