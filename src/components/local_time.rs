use leptos::either::Either;
use leptos::prelude::*;

use crate::time;

/// A time from the API shown in the browser's time zone, with how long ago it was.
#[component]
pub fn LocalTime(
    /// RFC 3339, as the API sends times.
    at: Option<String>,
    /// What to show when there is no time.
    #[prop(default = "never")]
    missing: &'static str,
) -> impl IntoView {
    match at.as_deref().and_then(time::parse) {
        Some(ms) => Either::Left(view! {
            <time class="local-time" datetime=at.clone()>
                {time::local(ms)}
                <span class="local-time__relative">{time::relative(ms - time::now_ms())}</span>
            </time>
        }),
        None => Either::Right(view! { <span class="local-time local-time--missing">{missing}</span> }),
    }
}
