//! What a Partially Complete run skipped, message by message, with why: asked for on
//! demand, since a run can skip thousands.

use leptos::either::Either;
use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;

/// Whose skipped items: a job's, or the current backup of a mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SkippedOf {
    Job(String),
    Backup(i64),
}

/// The lists opened on a page, kept by the page: a live update redraws the rows whose data
/// changed (or the whole list), and a list someone opened is read again and stays open.
#[derive(Clone, Copy)]
pub struct OpenedSkipped(StoredValue<std::collections::HashSet<SkippedOf>>);

impl OpenedSkipped {
    pub fn provide() {
        provide_context(OpenedSkipped(StoredValue::new(Default::default())));
    }
}

#[component]
pub fn SkippedItems(of: SkippedOf) -> impl IntoView {
    let label = match &of {
        SkippedOf::Job(id) => format!("Which messages did {id} skip?"),
        SkippedOf::Backup(_) => "Which messages were skipped?".to_owned(),
    };
    let load = Action::new_local(move |of: &SkippedOf| {
        let of = of.clone();
        async move {
            let job_id = match of {
                SkippedOf::Job(id) => id,
                SkippedOf::Backup(mailbox_id) => {
                    let history = api::backup_history(mailbox_id).await?;
                    match history.runs.first() {
                        Some(run) => run.job_id.clone(),
                        None => return Ok(Vec::new()),
                    }
                }
            };
            api::skipped_items(&job_id).await
        }
    });
    let again = {
        let of = of.clone();
        Callback::new(move |_: ()| {
            load.dispatch(of.clone());
        })
    };
    let opened = use_context::<OpenedSkipped>();
    if opened.is_some_and(|opened| opened.0.with_value(|set| set.contains(&of))) {
        load.dispatch(of.clone());
    }
    view! {
        <div class="skipped">
            <Show
                when=move || load.value().get().is_some_and(|r: Result<_, ApiError>| r.is_ok())
                fallback={
                    let (of, label) = (of.clone(), label.clone());
                    move || {
                        let of = of.clone();
                        view! {
                            <button
                                type="button"
                                class="button button--small button--quiet"
                                disabled=move || load.pending().get()
                                on:click=move |_| {
                                    if let Some(opened) = opened {
                                        opened.0.update_value(|set| {
                                            set.insert(of.clone());
                                        });
                                    }
                                    load.dispatch(of.clone());
                                }
                            >
                                {label.clone()}
                            </button>
                        }
                    }
                }
            >
                {move || {
                    load.value().get().and_then(Result::ok).map(|items| {
                        if items.is_empty() {
                            Either::Left(view! { <p class="skipped__none">"Nothing is listed for this run."</p> })
                        } else {
                            Either::Right(view! {
                                <ul class="skipped__list" aria-label="Skipped messages">
                                    {items.into_iter().map(|item| view! {
                                        <li><span class="skipped__item">{item.item}</span>" — "{item.reason}</li>
                                    }).collect_view()}
                                </ul>
                            })
                        }
                    })
                }}
            </Show>
            {move || load.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error retry=again /> })}
        </div>
    }
}
