//! A new API token, shown this once (the server keeps only its hash and never sends it again):
//! copy it now, with an example of its use, or revoke it and create another.

use leptos::prelude::*;
use portal_api::{CreatedApiToken, JobStatus};

use crate::components::copy_button::CopyButton;
use crate::components::focus::focus_first_soon;

/// What the example asks for, which any token may read: the backups in an error a backup can
/// be in (a backup is never `failed`: that filter would always answer an empty list).
const EXAMPLE_STATUS: JobStatus = JobStatus::ConnectionError;

#[component]
pub fn TokenSecret(created: CreatedApiToken, on_done: Callback<()>) -> impl IntoView {
    let token = created.token.clone();
    let origin = window().location().origin().unwrap_or_default();
    let example = format!("curl -H \"Authorization: Bearer {token}\" {origin}/api/backups?status={}", EXAMPLE_STATUS.as_str());
    // Done: the focus goes to the new token in the list (or the list, should it not be drawn yet).
    let listed = format!("token-{}-name", created.api_token.id);

    view! {
        <section class="token-secret" aria-labelledby="token-secret-title">
            <h2 id="token-secret-title" tabindex="-1">"Copy your token now"</h2>
            <p>
                {format!("The token “{}” is created. ", created.api_token.name)}
                <strong>"You will not see it again:"</strong>
                " it is shown only here, once. If it is lost, revoke it and create another."
            </p>
            <p class="token-secret__value">
                <code>{token.clone()}</code>
                <CopyButton value=token what="API token" />
            </p>
            <p>{format!("Send it in the Authorization header of each request. For example, the backups in {}:", EXAMPLE_STATUS.label())}</p>
            <div class="token-secret__example">
                <pre><code>{example.clone()}</code></pre>
                <CopyButton value=example what="curl example" />
            </div>
            <p>
                "Keep it as you keep a password: it acts as you, within what you may see. Anyone who has it can use it until it expires or is revoked."
            </p>
            <button
                type="button"
                class="button"
                on:click=move |_| {
                    on_done.run(());
                    focus_first_soon(vec![listed.clone(), "tokens-title".to_owned()]);
                }
            >
                "Done"
            </button>
        </section>
    }
}
