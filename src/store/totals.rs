//! Totals of large user lists, reused for a few seconds: at 1,000,000 users a `count(*)`
//! walks a million index entries, far more than the page it comes with.
//!
//! The trade: a total of at least [`EXACT_BELOW`] may lag new and deleted users by up to
//! [`MAX_AGE`] (per instance). Smaller totals are counted on every request, exactly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::UserQuery;

pub(crate) const EXACT_BELOW: u64 = 10_000;
pub(crate) const MAX_AGE: Duration = Duration::from_secs(5);
/// Filters remembered at once; `q` is free text, so the map is bounded.
const MAX_FILTERS: usize = 256;

type Filter = (Option<String>, Option<String>);

#[derive(Default)]
pub(crate) struct Totals {
    counted: Mutex<HashMap<Filter, (u64, Instant)>>,
}

impl Totals {
    /// A recent total of a large list with this filter, if one was counted.
    pub(crate) fn recent(&self, query: &UserQuery) -> Option<u64> {
        let counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        // Cloning costs nothing for the unfiltered list (both `None`).
        let key = (query.q.clone(), query.role.clone());
        counted.get(&key).filter(|(_, at)| at.elapsed() < MAX_AGE).map(|(total, _)| *total)
    }

    pub(crate) fn counted(&self, query: &UserQuery, total: u64) {
        if total < EXACT_BELOW {
            return;
        }
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        if counted.len() >= MAX_FILTERS {
            counted.retain(|_, (_, at)| at.elapsed() < MAX_AGE);
            if counted.len() >= MAX_FILTERS {
                counted.clear();
            }
        }
        counted.insert((query.q.clone(), query.role.clone()), (total, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: Option<&str>) -> UserQuery {
        UserQuery { page: 1, per_page: 20, q: q.map(str::to_string), role: None }
    }

    #[test]
    fn small_totals_are_never_reused_and_large_ones_only_for_their_filter() {
        let totals = Totals::default();
        totals.counted(&query(None), EXACT_BELOW - 1);
        assert_eq!(totals.recent(&query(None)), None);
        totals.counted(&query(None), EXACT_BELOW);
        assert_eq!(totals.recent(&query(None)), Some(EXACT_BELOW));
        assert_eq!(totals.recent(&query(Some("a"))), None);
    }

    #[test]
    fn the_filters_remembered_stay_bounded() {
        let totals = Totals::default();
        for i in 0..MAX_FILTERS * 3 {
            totals.counted(&query(Some(&i.to_string())), EXACT_BELOW);
        }
        assert!(totals.counted.lock().unwrap_or_else(|e| e.into_inner()).len() <= MAX_FILTERS);
    }
}
