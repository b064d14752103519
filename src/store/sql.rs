//! Small helpers both stores build their SQL values with.

use chrono::{DateTime, Utc};

pub(crate) fn millis_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A `LIKE` pattern (with `ESCAPE '\'`) matching `needle` anywhere: `%` and `_` (and the
/// escape character itself) match literally. Both stores build the `q` filter with it.
pub(crate) fn like_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_escape_the_wildcards_and_the_escape_character() {
        assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(like_pattern("alice"), "%alice%");
    }
}
