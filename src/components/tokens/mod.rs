//! Account Settings › API tokens: the form that creates one, the token shown that once, and
//! the list of tokens with Revoke.

pub mod new_token;
pub mod token_item;
pub mod token_list;
pub mod token_secret;
