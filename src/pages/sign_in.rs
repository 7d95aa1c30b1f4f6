//! Sign in, then go back to the page that asked for it (`?next=`).

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_navigate, use_query_map};
use portal_api::SignInRequest;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::text_field::TextField;
use crate::Session;

/// Where to go after signing in: only a path on this site, never another site.
pub fn safe_next(next: Option<String>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") => path,
        _ => "/".to_owned(),
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let query = use_query_map();
    let next = move || safe_next(query.read_untracked().get("next"));
    let navigate = use_navigate();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());

    let sign_in = Action::new_local(move |request: &SignInRequest| {
        let request = request.clone();
        let navigate = navigate.clone();
        async move {
            api::sign_in(&request).await?;
            session.refetch();
            navigate(&next(), Default::default());
            Ok::<(), ApiError>(())
        }
    });
    let error = move || sign_in.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| move || error().and_then(|e| e.field_error(field));
    // Field messages sit by their fields; any other failure is shown above the button.

    let already_signed_in = move || matches!(session.0.get(), Some(Ok(_)));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        sign_in.dispatch(SignInRequest { email: email.get_untracked(), password: password.get_untracked() });
    };

    view! {
        <Show when=already_signed_in>
            <Redirect path=next() />
        </Show>
        <main class="sign-in" id="main">
            <form class="sign-in__form" on:submit=on_submit novalidate>
                <h1 class="sign-in__title">"Sign in to Backup Portal"</h1>
                <TextField
                    id="sign-in-email"
                    label="Email address"
                    value=email
                    kind="email"
                    autocomplete="username"
                    name="email"
                    required=true
                    error=Signal::derive_local(field_error("email"))
                />
                <TextField
                    id="sign-in-password"
                    label="Password"
                    value=password
                    kind="password"
                    autocomplete="current-password"
                    name="password"
                    required=true
                    error=Signal::derive_local(field_error("password"))
                />
                // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
                {move || error().map(|error| view! { <ErrorNotice error /> })}
                <button type="submit" class="button button--primary" disabled=move || sign_in.pending().get()>
                    {move || if sign_in.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
