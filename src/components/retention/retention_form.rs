//! How long an organisation keeps a message after a backup found it deleted from its mailbox:
//! for ever, or a number of days or years; and what the last daily pruning removed, and the
//! storage the backups use now.

use leptos::prelude::*;
use portal_api::{Retention, RetentionInput};

use crate::api::{self, ApiError};
use crate::bytes::human_bytes;
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::local_time::LocalTime;

const DAYS_PER_YEAR: u32 = 365;
/// The longest the server keeps a deleted message for (100 years).
const MOST_DAYS: u32 = 36_500;

/// How long, as the form asks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keep {
    Everything,
    Days,
    Years,
}

/// The form's choice for a stored number of days: whole years read as years.
fn keep_of(days: Option<u32>) -> (Keep, String, String) {
    match days {
        None => (Keep::Everything, "90".to_owned(), "7".to_owned()),
        Some(days) if days % DAYS_PER_YEAR == 0 => (Keep::Years, days.to_string(), (days / DAYS_PER_YEAR).to_string()),
        Some(days) => (Keep::Days, days.to_string(), ((days / DAYS_PER_YEAR).max(1)).to_string()),
    }
}

/// "for ever", "for 90 days", "for 7 years".
pub fn kept_for(days: Option<u32>) -> String {
    match days {
        None => "for ever".to_owned(),
        Some(1) => "for 1 day".to_owned(),
        Some(days) if days % DAYS_PER_YEAR == 0 && days / DAYS_PER_YEAR == 1 => "for 1 year".to_owned(),
        Some(days) if days % DAYS_PER_YEAR == 0 => format!("for {} years", days / DAYS_PER_YEAR),
        Some(days) => format!("for {days} days"),
    }
}

/// Reads the number typed for the unit chosen, in days; or says what to type.
fn days_of(keep: Keep, days: &str, years: &str) -> Result<Option<u32>, &'static str> {
    let number = |text: &str| text.trim().parse::<u32>().ok().filter(|n| *n >= 1);
    match keep {
        Keep::Everything => Ok(None),
        Keep::Days => number(days).filter(|d| *d <= MOST_DAYS).map(Some).ok_or("Enter a whole number of days, from 1 to 36,500."),
        Keep::Years => number(years)
            .filter(|y| *y <= MOST_DAYS / DAYS_PER_YEAR)
            .map(|y| Some(y * DAYS_PER_YEAR))
            .ok_or("Enter a whole number of years, from 1 to 100."),
    }
}

#[component]
pub fn RetentionSettings(organisation_id: i64, retention: Retention) -> impl IntoView {
    let current = RwSignal::new(retention.clone());
    let (kind, days_text, years_text) = keep_of(retention.keep_deleted_days);
    let keep = RwSignal::new(kind);
    let days = RwSignal::new(days_text);
    let years = RwSignal::new(years_text);
    // What the portal itself finds wrong before asking (a number that is not one).
    let typed_wrong = RwSignal::new(None::<&'static str>);
    let saved = RwSignal::new(false);
    let save = Action::new_local(move |input: &RetentionInput| {
        let input = input.clone();
        async move {
            let answer = api::save_retention(organisation_id, &input).await;
            match &answer {
                Ok(stored) => {
                    current.set(stored.clone());
                    saved.set(true);
                }
                Err(error) if error.field_error("keep_deleted_days").is_some() => focus_soon(number_id(keep.get_untracked())),
                Err(_) => {}
            }
            answer.map(|_| ())
        }
    });
    let server_error = move || save.value().get().and_then(Result::err);
    let field_error = Signal::derive_local(move || {
        typed_wrong.get().map(str::to_owned).or_else(|| server_error().and_then(|e: ApiError| e.field_error("keep_deleted_days")))
    });
    let busy = move || save.pending().get();
    let send = move || {
        saved.set(false);
        match days_of(keep.get_untracked(), &days.get_untracked(), &years.get_untracked()) {
            Ok(keep_deleted_days) => {
                typed_wrong.set(None);
                save.dispatch(RetentionInput { keep_deleted_days });
            }
            Err(message) => {
                typed_wrong.set(Some(message));
                focus_soon(number_id(keep.get_untracked()));
            }
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !untrack(busy) {
            send();
        }
    };
    let again = Callback::new(move |_: ()| send());
    let choice = move |value: Keep, id: &'static str, label: &'static str| {
        view! {
            <input
                type="radio"
                name="retention-keep"
                id=id
                prop:checked=move || keep.get() == value
                on:change=move |_| {
                    keep.set(value);
                    typed_wrong.set(None);
                }
            />
            <label for=id>{label}</label>
        }
    };
    let number = move |value: Keep, text: RwSignal<String>, unit: &'static str, max: u32| {
        let id = number_id(value);
        view! {
            <Show when=move || keep.get() == value>
                <span class="retention-form__number">
                    <input
                        type="number"
                        inputmode="numeric"
                        min="1"
                        max=max.to_string()
                        id=id
                        aria-label=format!("Number of {unit}")
                        aria-describedby="retention-keep-error"
                        aria-invalid=move || field_error.get().is_some().to_string()
                        prop:value=text
                        on:input=move |ev| text.set(event_target_value(&ev))
                    />
                    " " {unit}
                </span>
            </Show>
        }
    };
    let figures = move || {
        let retention = current.get();
        view! {
            <dl class="retention-figures">
                <div>
                    <dt>"Kept now"</dt>
                    <dd class="retention-figures__kept">{format!("Deleted messages are kept {}.", kept_for(retention.keep_deleted_days))}</dd>
                </div>
                <div>
                    <dt>"Last pruning"</dt>
                    <dd><LocalTime at=retention.last_pruned_at.clone() missing="Not yet run" /></dd>
                </div>
                <div>
                    <dt>"It removed"</dt>
                    <dd class="retention-figures__removed">
                        {format!(
                            "{} {}, {}",
                            retention.last_pruned_messages,
                            if retention.last_pruned_messages == 1 { "message" } else { "messages" },
                            human_bytes(retention.last_pruned_bytes)
                        )}
                    </dd>
                </div>
                <div>
                    <dt>"Storage used"</dt>
                    <dd class="retention-figures__storage">{human_bytes(retention.storage_used_bytes)}</dd>
                </div>
            </dl>
        }
    };

    view! {
        <section class="retention-settings" aria-labelledby="retention-keep-title">
            <h2 id="retention-keep-title">"Deleted messages"</h2>
            {figures}
            <form class="retention-form" on:submit=submit novalidate>
                <fieldset aria-describedby="retention-keep-hint retention-keep-error">
                    <legend>"Keep a message deleted from its mailbox"</legend>
                    <p class="field__hint" id="retention-keep-hint">
                        "Counted from the backup that found it deleted. Pruning runs once a day; mailboxes on legal hold lose nothing."
                    </p>
                    <div class="retention-form__choice">{choice(Keep::Everything, "retention-keep-all", "For ever (keep everything)")}</div>
                    <div class="retention-form__choice">
                        {choice(Keep::Days, "retention-keep-days", "For a number of days")}
                        {number(Keep::Days, days, "days", MOST_DAYS)}
                    </div>
                    <div class="retention-form__choice">
                        {choice(Keep::Years, "retention-keep-years", "For a number of years")}
                        {number(Keep::Years, years, "years", MOST_DAYS / DAYS_PER_YEAR)}
                    </div>
                    <p class="field__error" id="retention-keep-error">{move || field_error.get()}</p>
                </fieldset>
                {move || server_error().map(|error| view! { <ErrorNotice error retry=again /> })}
                <Show when=move || saved.get()>
                    <p class="notice notice--success" role="status">
                        {move || format!("Saved: deleted messages are kept {}.", kept_for(current.with(|r| r.keep_deleted_days)))}
                    </p>
                </Show>
                <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                    {move || if busy() { "Saving…" } else { "Save" }}
                </button>
            </form>
        </section>
    }
}

/// The number field of a unit (the focus goes there when what was typed is refused).
fn number_id(keep: Keep) -> &'static str {
    match keep {
        Keep::Years => "retention-years",
        _ => "retention-days",
    }
}
