pub mod backups;
pub mod not_found;
pub mod sign_in;
