//! Totals and deep positions of large user lists, reused for a few seconds: at 1,000,000
//! users a `count(*)` walks a million index entries, and page 5,000 an OFFSET of 100,000.
//!
//! The trade: a total of at least [`EXACT_BELOW`] may lag new and deleted users by up to
//! [`MAX_AGE`] (per instance). Smaller totals are counted on every request, exactly.
//! Likewise a page at offset [`STRIDE`] or more starts from a remembered position (the
//! user at the last multiple of `STRIDE`) and walks at most `STRIDE` entries from there:
//! for up to `MAX_AGE`, users deleted before that position shift such a page by as many
//! rows. New users sort last (by creation time), so they shift nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::UserQuery;

pub(crate) const EXACT_BELOW: u64 = 10_000;
pub(crate) const MAX_AGE: Duration = Duration::from_secs(5);
/// Every this many rows of a large list, the position is remembered.
pub(crate) const STRIDE: u64 = 10_000;
/// Filters remembered at once; `q` is free text, so the map is bounded.
const MAX_FILTERS: usize = 256;

type Filter = (Option<String>, Option<String>);
/// A place in the list order: `(created_at, id)` of the user there.
pub(crate) type Position = (DateTime<Utc>, Uuid);

#[derive(Default)]
pub(crate) struct Totals {
    counted: Mutex<HashMap<Filter, (u64, Instant)>>,
    positions: Mutex<HashMap<(Filter, u64), (Position, Instant)>>,
}

/// The remembered offset a page at `offset` starts from, when it is deep enough to have one.
pub(crate) fn anchor_offset(offset: i64) -> Option<u64> {
    let offset = u64::try_from(offset).ok()?;
    (offset >= STRIDE).then(|| offset - offset % STRIDE)
}

/// Keeps a map of recent entries under `MAX_FILTERS`: the stale go first, then everything.
fn make_room<K, V>(map: &mut HashMap<K, (V, Instant)>) {
    if map.len() >= MAX_FILTERS {
        map.retain(|_, (_, at)| at.elapsed() < MAX_AGE);
        if map.len() >= MAX_FILTERS {
            map.clear();
        }
    }
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
        make_room(&mut counted);
        counted.insert((query.q.clone(), query.role.clone()), (total, Instant::now()));
    }

    /// A recent position of the row at `offset` of the list with this filter.
    pub(crate) fn position(&self, query: &UserQuery, offset: u64) -> Option<Position> {
        let positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        let key = ((query.q.clone(), query.role.clone()), offset);
        positions.get(&key).filter(|(_, at)| at.elapsed() < MAX_AGE).map(|(position, _)| *position)
    }

    pub(crate) fn found(&self, query: &UserQuery, offset: u64, position: Position) {
        let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        make_room(&mut positions);
        positions.insert(((query.q.clone(), query.role.clone()), offset), (position, Instant::now()));
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
    fn only_pages_from_the_first_stride_on_start_from_a_remembered_position() {
        assert_eq!(anchor_offset(0), None);
        assert_eq!(anchor_offset(9_999), None);
        assert_eq!(anchor_offset(10_000), Some(10_000));
        assert_eq!(anchor_offset(99_980), Some(90_000));
        let totals = Totals::default();
        let position = (Utc::now(), Uuid::now_v7());
        totals.found(&query(None), 90_000, position);
        assert_eq!(totals.position(&query(None), 90_000), Some(position));
        assert_eq!(totals.position(&query(Some("a")), 90_000), None);
        assert_eq!(totals.position(&query(None), 80_000), None);
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
