//! Add an IMAP mailbox: where it is and how to sign in, a Test connection that reports the
//! exact failure on the field to change, and Add, which tests again before it saves.

use leptos::prelude::*;
use portal_api::ImapMailboxRequest;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::text_field::TextField;

/// What the last button did: a test's summary, an addition, or a failure.
#[derive(Clone)]
enum Answer {
    Tested(String),
    Added,
    Failed(ApiError),
}

#[component]
pub fn ImapMailboxForm(organisation_id: i64, on_added: Callback<String>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let host = RwSignal::new(String::new());
    let port = RwSignal::new("993".to_owned());
    let security = RwSignal::new("tls".to_owned());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let settings = move || ImapMailboxRequest {
        email: email.get_untracked(),
        host: host.get_untracked(),
        // Not a number: 0, which the server names as a wrong port.
        port: port.get_untracked().trim().parse().unwrap_or(0),
        security: security.get_untracked(),
        username: username.get_untracked(),
        password: password.get_untracked(),
    };
    let send = Action::new_local(move |(add, request): &(bool, ImapMailboxRequest)| {
        let (add, request) = (*add, request.clone());
        async move {
            if add {
                match api::add_mailbox(organisation_id, &request).await {
                    Ok(added) => {
                        on_added.run(added.email);
                        for field in [email, host, username, password] {
                            field.set(String::new());
                        }
                        Answer::Added
                    }
                    Err(error) => Answer::Failed(error),
                }
            } else {
                match api::test_mailbox(organisation_id, &request).await {
                    Ok(test) => Answer::Tested(test.summary),
                    Err(error) => Answer::Failed(error),
                }
            }
        }
    });
    let error = move || match send.value().get() {
        Some(Answer::Failed(error)) => Some(error),
        _ => None,
    };
    let field = move |name: &'static str| Signal::derive_local(move || error().and_then(|e| e.field_error(name)));
    let again = Callback::new(move |_: ()| {
        if let Some(input) = send.input().get_untracked().or_else(|| Some((false, settings()))) {
            send.dispatch(input);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send.dispatch((true, settings()));
    };
    let choose_security = move |ev: leptos::ev::Event| {
        let chosen = event_target_value(&ev);
        // The usual port of each, unless one was typed.
        port.update(|p| {
            if p == "993" || p == "143" || p.is_empty() {
                *p = if chosen == "tls" { "993" } else { "143" }.to_owned();
            }
        });
        security.set(chosen);
    };

    view! {
        <form class="imap-form" on:submit=submit novalidate aria-labelledby="imap-form-title">
            <h2 id="imap-form-title">"Add an IMAP mailbox"</h2>
            <p class="imap-form__lead">
                "The password is checked with the mail server, stored encrypted, and never shown again."
            </p>
            <TextField id="imap-email" label="Mailbox address" value=email kind="email" error=field("email") />
            <div class="imap-form__server">
                <TextField id="imap-host" label="IMAP server" value=host error=field("host") />
                <TextField id="imap-port" label="Port" value=port kind="number" error=field("port") />
            </div>
            <div class="field">
                <label for="imap-security">"Security"</label>
                <select id="imap-security" on:change=choose_security prop:value=security aria-describedby="imap-security-error">
                    <option value="tls">"TLS (port 993)"</option>
                    <option value="plain">"None: only for a server on this machine (port 143)"</option>
                </select>
                <p class="field__error" id="imap-security-error">{move || field("security").get()}</p>
            </div>
            <TextField id="imap-username" label="Username" value=username autocomplete="off" error=field("username") />
            <TextField id="imap-password" label="Password" value=password kind="password" autocomplete="new-password" error=field("password") />
            {move || match send.value().get() {
                Some(Answer::Tested(summary)) => Some(view! {
                    <p class="notice notice--success" role="status">{format!("Connection works. {summary}")}</p>
                }.into_any()),
                Some(Answer::Failed(error)) => Some(view! { <ErrorNotice error retry=again /> }.into_any()),
                Some(Answer::Added) | None => None,
            }}
            <div class="imap-form__actions">
                <button
                    type="button"
                    class="button"
                    disabled=move || send.pending().get()
                    on:click=move |_| {
                        send.dispatch((false, settings()));
                    }
                >
                    {move || if send.pending().get() { "Connecting…" } else { "Test connection" }}
                </button>
                <button type="submit" class="button button--primary" disabled=move || send.pending().get()>"Add mailbox"</button>
            </div>
        </form>
    }
}
