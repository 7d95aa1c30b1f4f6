//! One page of a list that is paged, filtered and sorted on the server.

use serde::{Deserialize, Serialize};

/// Rows per page when the request does not say.
pub const DEFAULT_PER_PAGE: u32 = 50;
/// The most rows one request may ask for.
pub const MAX_PER_PAGE: u32 = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Rows that match the filter, over all pages.
    pub total: u64,
    /// 1-based page number.
    pub page: u32,
    pub per_page: u32,
}

impl<T> Page<T> {
    /// The 1-based positions of this page's first and last rows among all matching rows.
    pub fn range(&self) -> (u64, u64) {
        let first = u64::from(self.page.max(1) - 1) * u64::from(self.per_page) + 1;
        (first, first + self.items.len() as u64 - 1)
    }

    /// How many pages the filter spans (at least 1, so "page 1 of 1" reads right when empty).
    pub fn page_count(&self) -> u32 {
        let per_page = u64::from(self.per_page.max(1));
        self.total.div_ceil(per_page).max(1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_count_rounds_up_and_is_never_zero() {
        let page = |total| Page::<()> { items: vec![], total, page: 1, per_page: 50 };
        assert_eq!(page(0).page_count(), 1);
        assert_eq!(page(50).page_count(), 1);
        assert_eq!(page(51).page_count(), 2);
    }

    #[test]
    fn range_counts_rows_from_one() {
        let page = Page { items: vec![(); 10], total: 60, page: 2, per_page: 50 };
        assert_eq!(page.range(), (51, 60));
    }
}
