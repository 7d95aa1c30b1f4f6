pub mod copy_button;
pub mod error_notice;
pub mod local_time;
pub mod shell;
pub mod status_badge;
