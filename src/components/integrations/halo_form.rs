//! Account Settings › Integrations › HaloPSA: where the organisation's Halo is and the API
//! application it signs in with. Test connection says what failed on the field to change;
//! Save keeps the client secret sealed (left empty, the saved one stays); Remove stops tickets.

use leptos::prelude::*;
use portal_api::{HaloAppliedToAll, HaloSettings, HaloSettingsInput, HaloTest, Role};

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::integrations::halo_answer::{field_message, HaloTestAnswer};
use crate::components::local_time::LocalTime;
use crate::components::text_field::TextField;
use crate::session::Session;
use crate::time;

/// What a button asks of the server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ask {
    Test,
    Save,
    /// Save for every organisation the user serves.
    SaveAll,
    Remove,
}

/// What the last button did.
#[derive(Clone)]
enum Answer {
    /// Halo's answer to a test, and when it came (ms since the epoch): a wait it asked for
    /// counts from then.
    Tested(HaloTest, f64),
    Saved,
    SavedForAll(HaloAppliedToAll),
    Removed,
    /// What failed, to ask again after a wait or a new sign-in.
    Failed(Ask, ApiError),
}

/// The form's fields, as typed.
#[derive(Clone, Copy)]
struct Fields {
    url: RwSignal<String>,
    tenant: RwSignal<String>,
    client_id: RwSignal<String>,
    client_secret: RwSignal<String>,
    halo_client_id: RwSignal<String>,
    ticket_type_id: RwSignal<String>,
    priority_id: RwSignal<String>,
}

impl Fields {
    fn new(saved: Option<&HaloSettings>) -> Fields {
        let fields = Fields {
            url: RwSignal::new(String::new()),
            tenant: RwSignal::new(String::new()),
            client_id: RwSignal::new(String::new()),
            client_secret: RwSignal::new(String::new()),
            halo_client_id: RwSignal::new(String::new()),
            ticket_type_id: RwSignal::new(String::new()),
            priority_id: RwSignal::new(String::new()),
        };
        fields.show(saved);
        fields
    }

    /// Shows what is saved (the server may have tidied the address); the secret never comes back.
    fn show(&self, saved: Option<&HaloSettings>) {
        let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        self.url.set(saved.map(|s| s.url.clone()).unwrap_or_default());
        self.tenant.set(saved.map(|s| s.tenant.clone()).unwrap_or_default());
        self.client_id.set(saved.map(|s| s.client_id.clone()).unwrap_or_default());
        self.client_secret.set(String::new());
        self.halo_client_id.set(number(saved.map(|s| s.halo_client_id)));
        self.ticket_type_id.set(number(saved.and_then(|s| s.ticket_type_id)));
        self.priority_id.set(number(saved.and_then(|s| s.priority_id)));
    }

    fn input(&self) -> HaloSettingsInput {
        let text = |field: RwSignal<String>| field.get_untracked().trim().to_owned();
        HaloSettingsInput {
            url: text(self.url),
            tenant: text(self.tenant),
            client_id: text(self.client_id),
            // As typed: a secret may end in a space.
            client_secret: self.client_secret.get_untracked(),
            halo_client_id: text(self.halo_client_id),
            ticket_type_id: text(self.ticket_type_id),
            priority_id: text(self.priority_id),
        }
    }
}

#[component]
pub fn HaloForm(organisation_id: i64, saved: Option<HaloSettings>) -> impl IntoView {
    let fields = Fields::new(saved.as_ref());
    // Kept here, not read again: a reload would redraw the form under what is being typed.
    let saved = RwSignal::new(saved);
    let confirming = RwSignal::new(false);
    let send = Action::new_local(move |(ask, input): &(Ask, HaloSettingsInput)| {
        let (ask, input) = (*ask, input.clone());
        async move {
            match ask {
                Ask::Test => match api::test_halo(organisation_id, &input).await {
                    Ok(test) => Answer::Tested(test, time::now_ms()),
                    Err(error) => Answer::Failed(ask, error),
                },
                Ask::Save => match api::save_halo(organisation_id, &input).await {
                    Ok(settings) => {
                        fields.show(Some(&settings));
                        saved.set(Some(settings));
                        Answer::Saved
                    }
                    Err(error) => Answer::Failed(ask, error),
                },
                Ask::SaveAll => match api::save_halo_for_all(&input).await {
                    Ok(applied) => match api::halo_settings(organisation_id).await {
                        Ok(settings) => {
                            fields.show(settings.as_ref());
                            saved.set(settings);
                            Answer::SavedForAll(applied)
                        }
                        Err(error) => Answer::Failed(Ask::Save, error),
                    },
                    Err(error) => Answer::Failed(ask, error),
                },
                Ask::Remove => match api::remove_halo(organisation_id).await {
                    Ok(()) => {
                        fields.show(None);
                        saved.set(None);
                        confirming.set(false);
                        // Remove and its confirmation are gone: the section's heading is next.
                        focus_soon("halo-title");
                        Answer::Removed
                    }
                    Err(error) => Answer::Failed(ask, error),
                },
            }
        }
    });
    let answer = move || send.value().get();
    let doing = move |ask: Ask| send.pending().get() && send.input().with(|i| i.as_ref().is_some_and(|(a, _)| *a == ask));

    // Halo's 429: Test connection waits as long as it asked; `now` moves while a wait shows.
    let now = RwSignal::new(time::now_ms());
    let wait_until = move || match answer() {
        Some(Answer::Tested(test, at)) => test.retry_after_seconds.map(|secs| at + secs as f64 * 1000.0),
        _ => None,
    };
    let waiting = move || wait_until().is_some_and(|until| now.get() < until);
    // The buttons are never `disabled` while they wait: that would drop the focus of whoever
    // pressed one. They say so (`aria-disabled`), and these refuse.
    let busy = move || send.pending().get();
    let test = move || {
        if !untrack(busy) && !untrack(waiting) {
            send.dispatch((Ask::Test, fields.input()));
        }
    };
    // A reseller may set one Halo up for every organisation it serves at once.
    let session = expect_context::<Session>();
    let serves_many = move || session.role() == Some(Role::Reseller);
    let for_all = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !untrack(busy) {
            let ask = if untrack(move || serves_many() && for_all.get()) { Ask::SaveAll } else { Ask::Save };
            send.dispatch((ask, fields.input()));
        }
    };

    let field = move |name: &'static str| {
        Signal::derive_local(move || match answer() {
            Some(Answer::Failed(_, error)) => error.field_error(name),
            Some(Answer::Tested(test, _)) if !test.ok && test.field.as_deref() == Some(name) => Some(field_message(&test)),
            _ => None,
        })
    };
    let secret_hint = Signal::derive(move || {
        if saved.with(|s| s.as_ref().is_some_and(|s| s.secret_saved)) {
            "Saved — leave empty to keep it.".to_owned()
        } else {
            "Shown once in Halo when the application is made.".to_owned()
        }
    });

    view! {
        <form class="halo-form" on:submit=submit novalidate aria-labelledby="halo-title">
            <p class="halo-form__state">
                {move || match saved.get() {
                    Some(settings) => view! { "Saved " <LocalTime at=Some(settings.updated_at) /> }.into_any(),
                    None => view! { "Not set up: no tickets are filed." }.into_any(),
                }}
            </p>
            <TextField id="halo-url" label="Halo URL" value=fields.url kind="url" hint="For example https://yourcompany.halopsa.com" error=field("url") />
            <TextField id="halo-tenant" label="Tenant" value=fields.tenant hint="Hosted Halo only; leave empty for your own Halo." error=field("tenant") />
            <div class="halo-form__pair">
                <TextField id="halo-client-id" label="Client ID" value=fields.client_id error=field("client_id") />
                <TextField
                    id="halo-client-secret"
                    label="Client secret"
                    value=fields.client_secret
                    kind="password"
                    hint=secret_hint
                    error=field("client_secret")
                />
            </div>
            <TextField
                id="halo-customer-id"
                label="Halo client ID"
                value=fields.halo_client_id
                hint="The customer in Halo that tickets are filed under."
                error=field("halo_client_id")
            />
            <div class="halo-form__pair">
                <TextField id="halo-ticket-type" label="Ticket type ID" value=fields.ticket_type_id hint="Optional: Halo's default when empty." error=field("ticket_type_id") />
                <TextField id="halo-priority" label="Priority ID" value=fields.priority_id hint="Optional: Halo's default when empty." error=field("priority_id") />
            </div>
            <Show when=serves_many>
                <p class="halo-form__all">
                    <input type="checkbox" id="halo-for-all" bind:checked=for_all aria-describedby="halo-for-all-hint" />
                    <label for="halo-for-all">"Use this connection for every organisation I serve"</label>
                    <span id="halo-for-all-hint" class="field__hint">
                        "One that already files in this Halo keeps its Halo client; the others file under the client above. Type the client secret: it is saved for each."
                    </span>
                </p>
            </Show>
            {move || match answer() {
                Some(Answer::Tested(test, at)) => Some(view! { <HaloTestAnswer test received_at_ms=at now /> }.into_any()),
                Some(Answer::SavedForAll(applied)) => {
                    let kept = if applied.kept_their_client.is_empty() {
                        String::new()
                    } else {
                        format!(" Kept their own Halo client: {}.", applied.kept_their_client.join(", "))
                    };
                    let text = format!(
                        "Saved for {} organisation(s): {}.{kept}",
                        applied.organisations.len(),
                        applied.organisations.join(", ")
                    );
                    Some(view! { <p class="notice notice--success" role="status">{text}</p> }.into_any())
                }
                Some(Answer::Saved) => Some(view! {
                    <p class="notice notice--success" role="status">"Saved. Backup errors now open tickets in HaloPSA."</p>
                }.into_any()),
                Some(Answer::Removed) => Some(view! {
                    <p class="notice notice--success" role="status">"HaloPSA is removed: no more tickets are filed. Tickets already open stay in Halo."</p>
                }.into_any()),
                Some(Answer::Failed(ask, error)) => {
                    let again = Callback::new(move |_: ()| {
                        send.dispatch((ask, fields.input()));
                    });
                    Some(view! { <ErrorNotice error retry=again /> }.into_any())
                }
                None => None,
            }}
            <div class="halo-form__actions">
                <button
                    type="button"
                    class="button"
                    aria-disabled=move || (busy() || waiting()).then_some("true")
                    on:click=move |_| test()
                >
                    {move || if doing(Ask::Test) { "Testing…" } else { "Test connection" }}
                </button>
                <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                    {move || if doing(Ask::Save) || doing(Ask::SaveAll) { "Saving…" } else { "Save" }}
                </button>
                <Show when=move || saved.with(Option::is_some) && !confirming.get()>
                    <button
                        type="button"
                        id="halo-remove"
                        class="button"
                        on:click=move |_| {
                            confirming.set(true);
                            focus_soon("halo-remove-confirm");
                        }
                    >
                        "Remove"
                    </button>
                </Show>
            </div>
            <Show when=move || confirming.get()>
                <div class="halo-form__confirm" id="halo-remove-confirm" role="group" aria-label="Remove HaloPSA?" tabindex="-1">
                    <p>"Remove the HaloPSA connection? No more tickets are filed or closed; tickets already open stay in Halo."</p>
                    <button
                        type="button"
                        class="button button--danger"
                        aria-disabled=move || busy().then_some("true")
                        on:click=move |_| {
                            if !untrack(busy) {
                                send.dispatch((Ask::Remove, fields.input()));
                            }
                        }
                    >
                        {move || if doing(Ask::Remove) { "Removing…" } else { "Remove connection" }}
                    </button>
                    <button
                        type="button"
                        class="button"
                        on:click=move |_| {
                            confirming.set(false);
                            focus_soon("halo-remove");
                        }
                    >
                        "Keep it"
                    </button>
                </div>
            </Show>
        </form>
    }
}
