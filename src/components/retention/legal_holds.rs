//! Each mailbox of the organisation and its legal hold: a mailbox on hold loses nothing to
//! retention, whatever it is set to. A change is saved at once and shows on its row; one the
//! server refuses goes back, with why.

use std::collections::HashMap;

use leptos::prelude::*;
use portal_api::{LegalHold, OrganisationMailbox};

use crate::api::{self, ApiError};
use crate::bytes::human_bytes;
use crate::components::error_notice::ErrorNotice;

/// What the rows share, kept by the table so that it outlives any one row's drawing.
#[derive(Clone, Copy)]
struct Holds {
    /// The holds as changed on this page (the list itself is read once).
    saved: RwSignal<HashMap<i64, bool>>,
    /// The changes on their way, by mailbox.
    asked: RwSignal<HashMap<i64, bool>>,
    /// The last refusal of each mailbox's change.
    refused: RwSignal<HashMap<i64, ApiError>>,
    change: Action<(i64, bool), ()>,
}

impl Holds {
    fn new() -> Holds {
        let saved = RwSignal::new(HashMap::new());
        let asked = RwSignal::new(HashMap::new());
        let refused = RwSignal::new(HashMap::<i64, ApiError>::new());
        let change = Action::new_local(move |(mailbox_id, on_hold): &(i64, bool)| {
            let (mailbox_id, on_hold) = (*mailbox_id, *on_hold);
            asked.update(|asked| {
                asked.insert(mailbox_id, on_hold);
            });
            refused.update(|refused| {
                refused.remove(&mailbox_id);
            });
            async move {
                match api::set_legal_hold(mailbox_id, &LegalHold { on_hold }).await {
                    Ok(mailbox) => saved.update(|saved| {
                        saved.insert(mailbox_id, mailbox.legal_hold);
                    }),
                    Err(error) => refused.update(|refused| {
                        refused.insert(mailbox_id, error);
                    }),
                }
                // The box shows what is saved again (a refused change goes back).
                asked.update(|asked| {
                    asked.remove(&mailbox_id);
                });
            }
        });
        Holds { saved, asked, refused, change }
    }

    /// Whether the mailbox is on hold, as last asked, saved, or listed. Tracked.
    fn on_hold(&self, mailbox: &OrganisationMailbox) -> bool {
        let id = mailbox.id;
        self.asked
            .with(|asked| asked.get(&id).copied())
            .or_else(|| self.saved.with(|saved| saved.get(&id).copied()))
            .unwrap_or(mailbox.legal_hold)
    }
}

#[component]
pub fn LegalHolds(list: Vec<OrganisationMailbox>) -> impl IntoView {
    let holds = Holds::new();
    let count = list.len();
    view! {
        <section class="legal-holds" aria-labelledby="legal-holds-title">
            <h2 id="legal-holds-title">"Legal hold"</h2>
            <p class="legal-holds__lead">
                "A mailbox on legal hold keeps every message its backups hold, deleted or not, until the hold is taken off."
            </p>
            <table class="backups-table legal-holds-table">
                <caption class="visually-hidden">{format!("{count} mailboxes and their legal hold")}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Mailbox"</th>
                        <th scope="col">"Saved"</th>
                        <th scope="col">"Legal hold"</th>
                    </tr>
                </thead>
                <tbody>
                    // Keyed by the mailbox alone: a change redraws nothing but its box and its words.
                    <For each=move || list.clone() key=|mailbox| mailbox.id let:mailbox>
                        <HoldRow mailbox holds />
                    </For>
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn HoldRow(mailbox: OrganisationMailbox, holds: Holds) -> impl IntoView {
    let id = mailbox.id;
    let on_hold = {
        let mailbox = mailbox.clone();
        Memo::new(move |_| holds.on_hold(&mailbox))
    };
    let waiting = move || holds.asked.with(|asked| asked.contains_key(&id));
    let refusal = move || {
        holds.refused.with(|refused| refused.get(&id).cloned()).map(|error| {
            let wanted = !on_hold.get_untracked();
            let again = Callback::new(move |_: ()| {
                holds.change.dispatch((id, wanted));
            });
            view! { <ErrorNotice error retry=again /> }
        })
    };
    let saved = if mailbox.connector == portal_api::Connector::Imap {
        format!("{} messages · {}", mailbox.messages, human_bytes(mailbox.storage_used_bytes))
    } else {
        human_bytes(mailbox.storage_used_bytes)
    };
    let box_id = format!("legal-hold-{id}");
    let label_for = box_id.clone();
    view! {
        <tr class="backups-table__row legal-holds__row" data-on-hold=move || on_hold.get().to_string()>
            <td data-label="Mailbox"><span class="backups-table__email">{mailbox.email.clone()}</span></td>
            <td data-label="Saved">{saved}</td>
            <td data-label="Legal hold">
                <label class="legal-holds__toggle" for=label_for>
                    <input
                        type="checkbox"
                        id=box_id
                        prop:checked=move || on_hold.get()
                        aria-describedby=format!("legal-hold-{id}-state")
                        on:change=move |ev| {
                            // One change at a time per mailbox: the box shows the one on its way.
                            if waiting() {
                                event_target::<leptos::web_sys::HtmlInputElement>(&ev).set_checked(on_hold.get_untracked());
                            } else {
                                holds.change.dispatch((id, event_target_checked(&ev)));
                            }
                        }
                    />
                    "On legal hold"
                    <span class="visually-hidden">{format!(" ({})", mailbox.email)}</span>
                </label>
                <p class="legal-holds__state" id=format!("legal-hold-{id}-state") aria-live="polite">
                    {move || match (waiting(), on_hold.get()) {
                        (true, true) => "Putting on hold…",
                        (true, false) => "Taking off hold…",
                        (false, true) => "On hold: retention removes nothing of it.",
                        (false, false) => "Not on hold.",
                    }}
                </p>
                {refusal}
            </td>
        </tr>
    }
}
