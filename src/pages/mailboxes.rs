//! Account Settings › Mailboxes: the mailboxes an organisation backs up, how each is reached,
//! and adding a real one over IMAP after a connection test that says exactly what failed.

use leptos::either::Either;
use leptos::prelude::*;
use portal_api::{OrganisationMailbox, OrganisationSummary};

use crate::api;
use crate::bytes::human_bytes;
use crate::components::error_notice::ErrorList;
use crate::components::jobs::status_badge::StatusBadge;
use crate::components::mailboxes::imap_mailbox_form::ImapMailboxForm;
use crate::components::mailboxes::mailbox_password::MailboxPasswordEdit;
use crate::components::organisation_picker::{ChosenOrganisation, OrganisationPicker};
use crate::paths;
use crate::session::Session;

fn name_only(organisation: &OrganisationSummary) -> String {
    organisation.name.clone()
}

#[component]
pub fn MailboxesPage() -> impl IntoView {
    let chosen = ChosenOrganisation::new();
    // Not live: a list rebuilt under a half-typed password would lose it. It reloads after each change made here.
    let mailboxes = LocalResource::new(move || {
        let id = chosen.id.get();
        async move {
            match id {
                Some(id) => api::organisation_mailboxes(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let refresh = Callback::new(move |_: ()| mailboxes.refetch());
    let added = RwSignal::new(None::<String>);
    // Adding a mailbox is for admins and resellers (`portal_api::Action`).
    let session = expect_context::<Session>();
    let may_add = move || session.may(portal_api::Action::ChangeMailboxes);

    view! {
        <section class="mailboxes" aria-labelledby="mailboxes-title">
            <header class="page-header">
                <p class="page-header__trail">"Account Settings"</p>
                <h1 id="mailboxes-title">"Mailboxes"</h1>
                <p class="page-header__lead">
                    "The mailboxes backed up for the organisation. A mailbox on any IMAP server can be added: its backups, restores, migrations and downloads then move real mail."
                </p>
            </header>
            <OrganisationPicker chosen path=paths::MAILBOXES id="mailboxes-organisation" describe=name_only />
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading mailboxes…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        mailboxes.await.map(|found| match found {
                            Some(list) => Either::Left(view! { <MailboxesTable list refresh /> }),
                            None => Either::Right(view! { <p class="empty-state">"You do not manage any organisation's mailboxes."</p> }),
                        })
                    })}
                </ErrorBoundary>
            </Transition>
            {move || added.get().map(|email| view! {
                <p class="notice notice--success" role="status">
                    {format!("{email} is added. Its first backup has started; it shows on System Status › Backups.")}
                </p>
            })}
            {move || chosen.id.get().filter(|_| may_add()).map(|organisation_id| view! {
                <ImapMailboxForm
                    organisation_id
                    on_added=Callback::new(move |email: String| {
                        added.set(Some(email));
                        refresh.run(());
                    })
                />
            })}
        </section>
    }
}

#[component]
fn MailboxesTable(list: Vec<OrganisationMailbox>, refresh: Callback<()>) -> impl IntoView {
    let count = list.len();
    let session = expect_context::<Session>();
    let may_change = untrack(|| session.may(portal_api::Action::ChangeMailboxes));
    view! {
        <table class="backups-table mailboxes-table">
            <caption class="visually-hidden">{format!("{count} mailboxes")}</caption>
            <thead>
                <tr>
                    <th scope="col">"Mailbox"</th>
                    <th scope="col">"Where"</th>
                    <th scope="col">"Backup"</th>
                    <th scope="col">"Saved"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                <For each=move || list.clone() key=|m| (m.id, m.backup_status.as_str(), m.messages, m.storage_used_bytes) let:mailbox>
                    <tr class="backups-table__row" data-connector=mailbox.connector.as_str()>
                        <td data-label="Mailbox"><span class="backups-table__email">{mailbox.email.clone()}</span></td>
                        <td data-label="Where">
                            {match mailbox.imap.clone() {
                                Some(imap) => format!(
                                    "IMAP {}:{} ({}) as {}",
                                    imap.host,
                                    imap.port,
                                    if imap.security == "tls" { "TLS" } else { "plain, this machine" },
                                    imap.username
                                ),
                                None => "Demo mailbox (scripted)".to_owned(),
                            }}
                        </td>
                        <td data-label="Backup"><StatusBadge status=mailbox.backup_status /></td>
                        <td data-label="Saved">
                            {if mailbox.connector == portal_api::Connector::Imap {
                                format!("{} messages · {}", mailbox.messages, human_bytes(mailbox.storage_used_bytes))
                            } else {
                                human_bytes(mailbox.storage_used_bytes)
                            }}
                        </td>
                        <td data-label="Actions">
                            {(mailbox.imap.is_some() && may_change).then(|| view! {
                                <MailboxPasswordEdit mailbox_id=mailbox.id email=mailbox.email.clone() on_done=refresh />
                            })}
                        </td>
                    </tr>
                </For>
            </tbody>
        </table>
    }
}
