//! The messages ticked for a restore or a download. They stay ticked across the pages of a
//! search and when its filter changes, until they are restored, downloaded or cleared.

use leptos::prelude::*;
use portal_api::MessageHit;

/// One message ticked: what a job needs (its ID, its mailbox) and what names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub id: i64,
    pub mailbox_id: i64,
    pub mailbox: String,
    pub subject: String,
}

impl Chosen {
    pub fn of(hit: &MessageHit) -> Chosen {
        Chosen { id: hit.id, mailbox_id: hit.mailbox_id, mailbox: hit.mailbox.clone(), subject: subject_or_none(&hit.subject) }
    }
}

/// A subject as the portal shows it (a message may have none).
pub fn subject_or_none(subject: &str) -> String {
    if subject.trim().is_empty() {
        "(no subject)".to_owned()
    } else {
        subject.to_owned()
    }
}

/// The ticked messages, in the order they were ticked.
#[derive(Clone, Copy)]
pub struct Selection(pub RwSignal<Vec<Chosen>>);

impl Selection {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Selection {
        Selection(RwSignal::new(Vec::new()))
    }

    /// Whether this message is ticked. Tracked.
    pub fn has(&self, id: i64) -> bool {
        self.0.with(|chosen| chosen.iter().any(|c| c.id == id))
    }

    pub fn set(&self, message: Chosen, on: bool) {
        self.0.update(|chosen| {
            chosen.retain(|c| c.id != message.id);
            if on {
                chosen.push(message);
            }
        });
    }

    /// Ticks (or unticks) every message of a page.
    pub fn set_all(&self, messages: &[Chosen], on: bool) {
        self.0.update(|chosen| {
            chosen.retain(|c| messages.iter().all(|m| m.id != c.id));
            if on {
                chosen.extend(messages.iter().cloned());
            }
        });
    }

    /// Unticks these messages (those a job was made for).
    pub fn remove(&self, ids: &[i64]) {
        self.0.update(|chosen| chosen.retain(|c| !ids.contains(&c.id)));
    }

    pub fn clear(&self) {
        self.0.set(Vec::new());
    }

    pub fn len(&self) -> usize {
        self.0.with(Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The messages of each mailbox, in the order the mailboxes were first ticked: one job per
/// mailbox (a job restores or downloads from one mailbox's backup).
pub fn by_mailbox(chosen: &[Chosen]) -> Vec<(i64, String, Vec<i64>)> {
    let mut groups: Vec<(i64, String, Vec<i64>)> = Vec::new();
    for message in chosen {
        match groups.iter_mut().find(|(mailbox_id, _, _)| *mailbox_id == message.mailbox_id) {
            Some((_, _, ids)) => ids.push(message.id),
            None => groups.push((message.mailbox_id, message.mailbox.clone(), vec![message.id])),
        }
    }
    groups
}

/// "1 message", "3 messages".
pub fn count_words(count: usize) -> String {
    if count == 1 {
        "1 message".to_owned()
    } else {
        format!("{count} messages")
    }
}
