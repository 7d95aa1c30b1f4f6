//! Account Settings › Integrations and Deliveries: the HaloPSA connection, webhook endpoints
//! and their one-time secret, the deliveries list, and what the dashboard and Backups show of them.

pub mod deliveries_list;
pub mod delivery_row;
pub mod failed_deliveries;
pub mod halo_answer;
pub mod halo_form;
pub mod halo_section;
pub mod new_webhook;
pub mod no_organisation;
pub mod ticket_badge;
pub mod webhook_secret;
pub mod webhooks;
