//! A message's body in its preview: the HTML as sent, made safe by the server and shown in a
//! sandboxed frame (no script, no form, nothing it links to opens here); images from other
//! sites only when asked for, since loading them tells those sites the message was opened;
//! and its text.

use leptos::prelude::*;

use crate::api;

#[component]
pub fn MessageBody(id: i64, subject: String, text: String, has_html: bool, remote_images: bool) -> impl IntoView {
    let show_remote = RwSignal::new(false);
    let src = move || api::message_html_href(id, show_remote.get());
    let html = has_html.then(|| {
        view! {
            <section class="message-body" aria-labelledby="message-html-title">
                <h2 id="message-html-title">"As sent"</h2>
                {remote_images.then(|| view! {
                    <div class="message-body__remote">
                        <p id="message-remote-hint">
                            {move || if show_remote.get() {
                                "Images from other sites are shown: those sites can tell that this message was opened, and from where."
                            } else {
                                "This message loads images from other sites. They are not shown: loading them would tell those sites that it was opened, and from where."
                            }}
                        </p>
                        <button
                            type="button"
                            class="button button--small"
                            aria-describedby="message-remote-hint"
                            aria-pressed=move || show_remote.get().to_string()
                            on:click=move |_| show_remote.update(|on| *on = !*on)
                        >
                            "Show remote images"
                        </button>
                    </div>
                })}
                // Sandboxed: no script, no form, no plug-in, no navigation of this page; a link
                // opens a tab of its own (as an ordinary page). The document brings its own
                // strict policy too.
                <iframe
                    class="message-body__frame"
                    sandbox="allow-popups allow-popups-to-escape-sandbox"
                    src=src
                    title=format!("Message: {subject}")
                ></iframe>
            </section>
        }
    });
    let text_title = if has_html { "As text" } else { "Message" };
    view! {
        {html}
        <section class="message-text" aria-labelledby="message-text-title">
            <h2 id="message-text-title">{text_title}</h2>
            {if text.trim().is_empty() {
                view! { <p class="message-text__empty">"This message has no text."</p> }.into_any()
            } else {
                view! { <pre class="message-text__body">{text}</pre> }.into_any()
            }}
        </section>
    }
}
