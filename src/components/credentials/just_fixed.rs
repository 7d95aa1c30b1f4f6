//! The credential the user has just fixed on Account Settings › Credentials. Kept by the page,
//! not by the card: a fix reloads the credentials and rebuilds every card, and the
//! confirmation must outlive that. Its own module: the card and the flows inside it all use it.

use leptos::prelude::*;
use portal_api::CredentialKind;

#[derive(Clone, Copy)]
pub struct JustFixed(pub RwSignal<Option<CredentialKind>>);

impl JustFixed {
    pub fn set(kind: Option<CredentialKind>) {
        if let Some(JustFixed(fixed)) = use_context::<JustFixed>() {
            fixed.set(kind);
        }
    }
}
