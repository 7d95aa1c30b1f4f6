//! Recovery codes, shown this once (the server keeps only their hashes): each signs in once
//! without the phone. Listed, with Copy all and Download as a text file, and a plain warning
//! that they will not be shown again.

use leptos::prelude::*;
use portal_api::RecoveryCodes;

use crate::components::copy_button::CopyButton;

/// The heading's ID: the focus goes there when the codes appear.
pub const TITLE_ID: &str = "recovery-codes-title";

/// The text file's content: who they are for, and one code a line.
fn as_text(codes: &[String], email: &str) -> String {
    let mut text = format!(
        "Backup Portal recovery codes for {email}\n\nEach code signs you in once, instead of a code from your authenticator app or a passkey.\nKeep them somewhere safe, apart from your phone and keys.\n\n"
    );
    for code in codes {
        text.push_str(code);
        text.push('\n');
    }
    text
}

#[component]
pub fn RecoveryCodesPanel(
    codes: RecoveryCodes,
    /// Whose codes they are (named in the file).
    #[prop(into)]
    email: String,
    /// What the last button says ("Done", "Continue to the portal") and does.
    done_label: &'static str,
    on_done: Callback<()>,
) -> impl IntoView {
    let text = as_text(&codes.codes, &email);
    let all = codes.codes.join("\n");
    let href = format!("data:text/plain;charset=utf-8,{}", String::from(js_sys::encode_uri_component(&text)));
    let count = codes.codes.len();
    let items = codes.codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view();

    view! {
        <section class="recovery-codes" aria-labelledby=TITLE_ID>
            <h3 id=TITLE_ID tabindex="-1">"Save your recovery codes"</h3>
            <p>
                <strong>"They will not be shown again."</strong>
                {format!(
                    " If you lose your phone or your passkey, each of these {count} codes signs you in once instead. Keep them somewhere safe, apart from your phone and keys: a password manager, or on paper."
                )}
            </p>
            <ol class="recovery-codes__list" aria-label="Recovery codes">{items}</ol>
            <div class="recovery-codes__actions">
                <CopyButton value=all what="all recovery codes" label="Copy all" />
                <a class="button" href=href download="backup-portal-recovery-codes.txt">"Download as .txt"</a>
                <button type="button" class="button button--primary" on:click=move |_| on_done.run(())>{done_label}</button>
            </div>
        </section>
    }
}
