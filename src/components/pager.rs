use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::Page;

/// "51–60 of 60 mailboxes", page position, and links to the pages before and after.
#[component]
pub fn Pager<T: 'static>(
    page: Page<T>,
    /// What the rows are, plural: "mailboxes", "restores".
    noun: String,
    /// The address of a page of the same list.
    href: Callback<u32, String>,
) -> impl IntoView {
    let (first, last) = page.range();
    let count = page.page_count();
    let previous = (page.page > 1).then(|| href.run(page.page - 1));
    let next = (page.page < count).then(|| href.run(page.page + 1));
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="pager__summary">{format!("{first}–{last} of {} {noun}", page.total)}</span>
            {previous.map(|href| view! { <A href=href attr:rel="prev">"Previous"</A> })}
            <span class="pager__position">{format!("Page {} of {count}", page.page)}</span>
            {next.map(|href| view! { <A href=href attr:rel="next">"Next"</A> })}
        </nav>
    }
}
