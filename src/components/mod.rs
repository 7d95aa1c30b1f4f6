//! The portal's components: those of one feature in its folder, the ones every page may use
//! here at the top.

pub mod activity;
pub mod backups;
pub mod confirm;
pub mod copy_button;
pub mod credentials;
pub mod error_notice;
pub mod focus;
pub mod integrations;
pub mod jobs;
pub mod live_list;
pub mod local_time;
pub mod mailboxes;
pub mod messages;
pub mod not_allowed;
pub mod organisation_picker;
pub mod pager;
pub mod problems_panel;
pub mod retention;
pub mod route_focus;
pub mod security;
pub mod shell;
pub mod sign_in_again;
pub mod text_field;
pub mod tokens;
