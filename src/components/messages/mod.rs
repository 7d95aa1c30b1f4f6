//! Search messages and a message's preview: the search's filters (kept in the address), its
//! results and rows, the ticked messages, their restore or download and the jobs it made, a
//! message's body and attachments.

pub mod attachments;
pub mod created_jobs;
pub mod filter;
pub mod message_body;
pub mod message_filters;
pub mod message_jobs;
pub mod message_results;
pub mod message_row;
pub mod restore_form;
pub mod selection;
pub mod snippet;
