//! Account Settings › Activity: the filters (kept in the address), the log's table and its rows.

pub mod activity_filters;
pub mod activity_row;
pub mod activity_table;
pub mod filter;
