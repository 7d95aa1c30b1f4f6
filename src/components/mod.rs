pub mod copy_button;
pub mod error_notice;
pub mod force_backup;
pub mod job_run;
pub mod local_time;
pub mod pager;
pub mod shell;
pub mod status_badge;
