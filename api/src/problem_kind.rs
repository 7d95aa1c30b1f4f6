//! The one table of problem kinds: for each kind of API error, its HTTP status, its `type`,
//! its title, and what it means and what to do, both for an API client (the server's
//! `/problems/{slug}` pages) and for the portal's user (its error notices). The server's
//! answers, those pages and the portal all read it here, so they cannot drift apart.

/// The prefix of every problem `type` the server answers with; the slug follows it.
pub const PROBLEM_TYPE_PREFIX: &str = "/problems/";

/// What the portal tells its user when there is no better advice for the answer.
pub const TRY_AGAIN: &str = "Try again. If it keeps happening, send the request ID to support.";

const NOT_UNDERSTOOD: &str = "The request was not understood";
const RELOAD_AND_TRY_AGAIN: &str = "Reload the page and try again. If it happens again, send the request ID to support.";
const DID_NOT_SUCCEED: &str = "The request did not succeed";
const ASK_SOMEONE_ELSE: &str = "Your role does not allow this. Ask your organisation admin or your reseller.";
const WAIT_AND_RETRY: &str =
    "Wait the number of seconds in the Retry-After header, then try again. The portal counts down and retries by itself.";
const TRY_AGAIN_LATER: &str = "Try again in a few minutes.";

/// One kind of problem; its description is [`ProblemKind::info`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    Unauthenticated,
    InvalidCredentials,
    Forbidden,
    CsrfRejected,
    NotFound,
    MethodNotAllowed,
    Gone,
    Conflict,
    MalformedBody,
    UnsupportedMediaType,
    PayloadTooLarge,
    Validation,
    RateLimited,
    RangeNotSatisfiable,
    UpstreamUnavailable,
    Timeout,
    Unavailable,
    Internal,
}

/// The description of one kind of problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProblemInfo {
    /// The HTTP status of every answer of this kind.
    pub status: u16,
    /// Names the kind: its `type` is `/problems/{slug}`, its documentation page too. Stable.
    pub slug: &'static str,
    /// The answer's `title`: the same for every occurrence.
    pub title: &'static str,
    /// When the server answers it (its documentation page, for API clients).
    pub meaning: &'static str,
    /// What an API client does next (its documentation page).
    pub what_to_do: &'static str,
    /// Its status in a few plain words, for the portal's user: shown where an answer of this
    /// status has no title of its own (a proxy's error page) and where a list was not refreshed.
    pub in_short: &'static str,
    /// What the portal tells its user to do about it.
    pub user_what_to_do: &'static str,
}

impl ProblemKind {
    /// Every kind, in the order of their documentation's index; a new kind belongs here too.
    pub const ALL: [ProblemKind; 18] = [
        ProblemKind::Unauthenticated,
        ProblemKind::InvalidCredentials,
        // Forbidden first: a 403 whose type the portal does not know reads as a matter of role.
        ProblemKind::Forbidden,
        ProblemKind::CsrfRejected,
        ProblemKind::NotFound,
        ProblemKind::MethodNotAllowed,
        ProblemKind::Gone,
        ProblemKind::Conflict,
        ProblemKind::MalformedBody,
        ProblemKind::UnsupportedMediaType,
        ProblemKind::PayloadTooLarge,
        ProblemKind::Validation,
        ProblemKind::RateLimited,
        ProblemKind::RangeNotSatisfiable,
        ProblemKind::UpstreamUnavailable,
        ProblemKind::Timeout,
        ProblemKind::Unavailable,
        ProblemKind::Internal,
    ];

    /// The table: each kind's description.
    pub const fn info(self) -> ProblemInfo {
        match self {
            ProblemKind::Unauthenticated => ProblemInfo {
                status: 401,
                slug: "unauthenticated",
                title: "You are not signed in",
                meaning: "The request carried no session, or its session ended (signed out, or older than the session lifetime).",
                what_to_do: "Sign in again (POST /api/session) and repeat the request. The portal brings you back to the page you were on.",
                in_short: "You are not signed in",
                user_what_to_do: "Sign in again; you will come back to this page.",
            },
            ProblemKind::InvalidCredentials => ProblemInfo {
                status: 401,
                slug: "invalid-credentials",
                title: "Email address or password not recognised",
                meaning: "Sign-in with an email address and password that do not match an account. The answer never says which of the two was wrong.",
                what_to_do: "Check both (and Caps Lock) and sign in again.",
                in_short: "You are not signed in",
                user_what_to_do: "Check the email address and the password (is Caps Lock on?), then sign in again.",
            },
            ProblemKind::CsrfRejected => ProblemInfo {
                status: 403,
                slug: "csrf-rejected",
                title: "Request not accepted from this page",
                meaning: "A request that changes something came without this session's security token (the x-csrf-token header), or from another site.",
                what_to_do: "Reload the page, which fetches the token again (GET /api/session), and repeat the request.",
                in_short: "Not accepted from this page",
                // Not a matter of role: the page's security token is missing or old.
                user_what_to_do: RELOAD_AND_TRY_AGAIN,
            },
            ProblemKind::Forbidden => ProblemInfo {
                status: 403,
                slug: "forbidden",
                title: "Not allowed for your role",
                meaning: "The signed-in role may not do this: for example an end user forcing a backup, or anyone but an organisation's admins and its reseller opening its credentials.",
                what_to_do: "Ask someone with the role the detail names (your organisation admin or your reseller).",
                in_short: "Not allowed",
                user_what_to_do: ASK_SOMEONE_ELSE,
            },
            ProblemKind::NotFound => ProblemInfo {
                status: 404,
                slug: "not-found",
                title: "Not found",
                meaning: "Nothing is at this address for you: it never existed, it was deleted, or it belongs to someone outside your scope (which reads the same, on purpose).",
                what_to_do: "Go back to the list and look for it there; an old link may point to something deleted.",
                in_short: "Not found",
                user_what_to_do: "It may have been deleted, or the link is old. Go back to the list and look for it there.",
            },
            ProblemKind::MethodNotAllowed => ProblemInfo {
                status: 405,
                slug: "method-not-allowed",
                title: "Method not allowed here",
                meaning: "The address exists but does not take this HTTP method. The Allow header lists the ones it takes.",
                what_to_do: "Use one of the methods in Allow. In the portal this means the page is out of date: reload it.",
                in_short: "Not possible here",
                user_what_to_do: "Reload the page; if it happens again, send the request ID to support.",
            },
            ProblemKind::Gone => ProblemInfo {
                status: 410,
                slug: "gone",
                title: "No longer available",
                meaning: "It existed and is no longer available, such as a download link past its expiry.",
                what_to_do: "Ask for it again (a download: Request again on the Downloads page).",
                in_short: "No longer available",
                user_what_to_do: "Ask for it again.",
            },
            ProblemKind::Conflict => ProblemInfo {
                status: 409,
                slug: "conflict",
                title: "In conflict with the current state",
                meaning: "The request does not fit the thing's current state: a backup already running, a restore that already finished, a password for a job that no longer waits for one. The detail says what.",
                what_to_do: "Reload the item to see its current state, then decide again.",
                in_short: "Something changed in the meantime",
                user_what_to_do: "Reload this item to see its current state, then decide again.",
            },
            ProblemKind::MalformedBody => ProblemInfo {
                status: 400,
                slug: "malformed-body",
                title: "The request body is not valid JSON",
                meaning: "The body could not be read as JSON at all. The detail says where it stopped making sense.",
                what_to_do: "Send a valid JSON document.",
                in_short: NOT_UNDERSTOOD,
                user_what_to_do: RELOAD_AND_TRY_AGAIN,
            },
            ProblemKind::UnsupportedMediaType => ProblemInfo {
                status: 415,
                slug: "unsupported-media-type",
                title: "The request body must be JSON",
                meaning: "The body was sent with a Content-Type other than application/json.",
                what_to_do: "Send JSON with Content-Type: application/json.",
                in_short: NOT_UNDERSTOOD,
                user_what_to_do: RELOAD_AND_TRY_AGAIN,
            },
            ProblemKind::PayloadTooLarge => ProblemInfo {
                status: 413,
                slug: "payload-too-large",
                title: "The request body is too large",
                meaning: "The body is larger than the server accepts (2 MB).",
                what_to_do: "Send less at once.",
                in_short: DID_NOT_SUCCEED,
                user_what_to_do: TRY_AGAIN,
            },
            ProblemKind::Validation => ProblemInfo {
                status: 422,
                slug: "validation",
                title: "Some fields are not valid",
                meaning: "The body or the query string was read, but some fields are wrong. The errors member names each field and what is wrong with it.",
                what_to_do: "Correct each named field and send again; nothing was changed.",
                in_short: "Some details need correcting",
                user_what_to_do: "Correct each field marked in the form, then send it again.",
            },
            ProblemKind::RateLimited => ProblemInfo {
                status: 429,
                slug: "rate-limited",
                title: "Too many attempts",
                meaning: "Too many attempts in a short time (re-authentication attempts are limited per user and per organisation).",
                what_to_do: WAIT_AND_RETRY,
                in_short: "Too many requests",
                user_what_to_do: "Wait a moment before trying again.",
            },
            ProblemKind::RangeNotSatisfiable => ProblemInfo {
                status: 416,
                slug: "range-not-satisfiable",
                title: "The range asked for is not in the file",
                meaning: "A download was asked for a byte range (the Range header) that starts past the end of its file. Content-Range: bytes */length gives the file's length.",
                what_to_do: "Ask for a range within the length, or for the whole file without Range. A download manager that resumes a file which has since been made again starts it over.",
                in_short: DID_NOT_SUCCEED,
                user_what_to_do: TRY_AGAIN,
            },
            ProblemKind::UpstreamUnavailable => ProblemInfo {
                status: 502,
                slug: "upstream-unavailable",
                title: "A service we rely on did not answer as expected",
                meaning: "A service the server depends on, such as the identity provider, could not be reached or answered something unusable.",
                what_to_do: "Nothing was changed. Try again in a few minutes; if it persists, quote the request ID to support.",
                in_short: "The service is briefly unavailable",
                user_what_to_do: TRY_AGAIN_LATER,
            },
            ProblemKind::Timeout => ProblemInfo {
                status: 504,
                slug: "timeout",
                title: "The request took too long",
                meaning: "The request took longer than the server's time limit, so the server stopped waiting for it.",
                what_to_do: "Reload to see whether what you asked for completed anyway, then try again, with a narrower request if it was a large one.",
                in_short: "The request took too long",
                user_what_to_do: "Try again; if it keeps happening, narrow the request (a smaller filter) or try later.",
            },
            ProblemKind::Unavailable => ProblemInfo {
                status: 503,
                slug: "unavailable",
                title: "The service is busy for a moment",
                meaning: "The database could not be used for a moment: another writer held it longer than the server waits, every connection was busy, or it could not be reached. Nothing was changed.",
                what_to_do: WAIT_AND_RETRY,
                in_short: "The service is busy or under maintenance",
                user_what_to_do: TRY_AGAIN_LATER,
            },
            ProblemKind::Internal => ProblemInfo {
                status: 500,
                slug: "internal",
                title: "Something went wrong on our side",
                meaning: "Something failed on the server that it did not expect. The cause is in the server's log under the request ID; the answer never includes it.",
                what_to_do: "Try again. If it happens again, quote the request ID to support.",
                in_short: "Something went wrong on our side",
                user_what_to_do: TRY_AGAIN,
            },
        }
    }

    /// Its `type`: `/problems/{slug}`.
    pub fn type_uri(self) -> String {
        format!("{PROBLEM_TYPE_PREFIX}{}", self.info().slug)
    }

    /// The kind of this slug, if there is one.
    pub fn from_slug(slug: &str) -> Option<ProblemKind> {
        ProblemKind::ALL.into_iter().find(|kind| kind.info().slug == slug)
    }

    /// The kind an answer is: the one its `type` names when its status agrees, else the first
    /// kind of its status (an answer without a problem, such as a proxy's error page).
    pub fn of(type_uri: Option<&str>, status: u16) -> Option<ProblemKind> {
        let named = type_uri.and_then(|t| t.strip_prefix(PROBLEM_TYPE_PREFIX)).and_then(ProblemKind::from_slug);
        named
            .filter(|kind| kind.info().status == status)
            .or_else(|| ProblemKind::ALL.into_iter().find(|kind| kind.info().status == status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_listed_once_with_a_slug_of_its_own() {
        for (index, kind) in ProblemKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, index, "ALL in the order of the declaration, each once");
            assert_eq!(ProblemKind::from_slug(kind.info().slug), Some(kind), "{kind:?}");
            assert_eq!(ProblemKind::of(Some(&kind.type_uri()), kind.info().status), Some(kind));
        }
    }

    #[test]
    fn an_answer_is_of_the_kind_its_type_names_else_of_its_status() {
        assert_eq!(ProblemKind::of(Some("/problems/forbidden"), 403), Some(ProblemKind::Forbidden));
        assert_eq!(ProblemKind::of(Some("/problems/internal"), 502), Some(ProblemKind::UpstreamUnavailable));
        assert_eq!(ProblemKind::of(Some("about:blank"), 401), Some(ProblemKind::Unauthenticated));
        // A 403 of no known type reads as a matter of role; a rejected token is named by its type.
        assert_eq!(ProblemKind::of(None, 403), Some(ProblemKind::Forbidden));
        assert_eq!(ProblemKind::of(Some("/problems/csrf-rejected"), 403), Some(ProblemKind::CsrfRejected));
        assert_eq!(ProblemKind::of(None, 418), None);
    }
}
