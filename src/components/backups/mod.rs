//! System Status › Backups: Force Backup and an account's backup history.

pub mod backup_history;
pub mod force_backup;
