//! On the dashboard when deliveries to a PSA or a webhook gave up: the tickets or calls they
//! were are missing on the other side, until they are sent again from Deliveries.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::paths;

#[component]
pub fn FailedDeliveries(count: u64) -> impl IntoView {
    (count > 0).then(|| {
        let title = match count {
            1 => "1 delivery to your PSA or webhooks failed".to_owned(),
            n => format!("{n} deliveries to your PSA or webhooks failed"),
        };
        view! {
            <section class="dashboard-notice" role="status" aria-labelledby="failed-deliveries-title">
                <h2 id="failed-deliveries-title">{title}</h2>
                <p class="dashboard-notice__detail">
                    "They gave up after their last retry, so the ticket or call they carried is missing. See what the receiver answered, fix it, then send them again: "
                    <A href=paths::DELIVERIES>"Open Deliveries"</A>
                </p>
            </section>
        }
    })
}
