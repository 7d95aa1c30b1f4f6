//! What every list endpoint shares: text search as a LIKE pattern, and paging, validated.

use portal_api::page::{DEFAULT_PER_PAGE, MAX_PER_PAGE};
use portal_api::FieldError;

/// Lower-cased search text and its `LIKE ... ESCAPE '\'` pattern (`%` and `_` match themselves).
pub fn search(q: Option<&str>) -> (String, String) {
    let text = q.unwrap_or("").trim().to_lowercase();
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    (format!("%{escaped}%"), text)
}

/// Page number and size, or what is wrong with them (added to `errors`).
pub fn paging(page: Option<u32>, per_page: Option<u32>, errors: &mut Vec<FieldError>) -> (u32, u32) {
    let page = page.unwrap_or(1);
    if page == 0 {
        errors.push(FieldError::new("page", "Pages are numbered from 1."));
    }
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if per_page == 0 || per_page > MAX_PER_PAGE {
        errors.push(FieldError::new("per_page", format!("Ask for 1 to {MAX_PER_PAGE} rows per page.")));
    }
    (page.max(1), per_page.clamp(1, MAX_PER_PAGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_escaped_and_paging_is_checked() {
        assert_eq!(search(Some(" 50%_Off ")), ("%50\\%\\_off%".to_owned(), "50%_off".to_owned()));
        let mut errors = Vec::new();
        assert_eq!(paging(None, None, &mut errors), (1, 50));
        assert!(errors.is_empty());
        paging(Some(0), Some(500), &mut errors);
        assert_eq!(errors.len(), 2);
    }
}
