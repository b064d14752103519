//! The contract's pagination: `page` from 1 (default 1) to [`MAX_PAGE`], `per_page` 1 to 100
//! (default 20). Query values arrive as strings and are parsed here, so that every bad value
//! is a 422 naming its parameter.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::FieldError;

pub const DEFAULT_PER_PAGE: u32 = 20;
pub const MAX_PER_PAGE: u32 = 100;
/// The largest `page`: the largest 32-bit signed integer, so that a client generated from the
/// schema (`format: int32`) can ask for every page the server serves. The schema states it
/// as a literal in each list's `page` parameter (`maximum = 2147483647`).
pub const MAX_PAGE: u32 = i32::MAX as u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
}

/// `page` and `per_page` alone, for lists without filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1 (default 1) to 2147483647; a page past the end answers 200 with no items.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2147483647, example = 1)]
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, example = 20)]
    pub per_page: Option<String>,
}

impl PageParams {
    pub fn parse(&self, errors: &mut Vec<FieldError>) -> Paging {
        paging(self.page.as_deref(), self.per_page.as_deref(), errors)
    }
}

fn number(field: &str, raw: Option<&str>, default: u32, max: u32, errors: &mut Vec<FieldError>) -> u32 {
    let Some(raw) = raw else { return default };
    // Digits only: `u32::from_str` also takes a leading `+`, which no integer in the schema has.
    match raw.parse::<u32>() {
        Ok(n) if raw.bytes().all(|b| b.is_ascii_digit()) && (1..=max).contains(&n) => n,
        _ => {
            errors.push(FieldError::new(field, format!("must be a whole number from 1 to {max}")));
            default
        }
    }
}

/// Parses both values, pushing one error per bad value.
pub fn paging(page: Option<&str>, per_page: Option<&str>, errors: &mut Vec<FieldError>) -> Paging {
    Paging {
        page: number("page", page, 1, MAX_PAGE, errors),
        per_page: number("per_page", per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE, errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_refuses_values_out_of_range_or_of_the_wrong_form() {
        let mut errors = Vec::new();
        assert_eq!(paging(None, None, &mut errors), Paging { page: 1, per_page: 20 });
        assert_eq!(paging(Some("3"), Some("100"), &mut errors), Paging { page: 3, per_page: 100 });
        assert!(errors.is_empty());
        assert_eq!(paging(Some("2147483647"), None, &mut errors).page, MAX_PAGE);
        assert!(errors.is_empty());
        for (page, per_page) in
            [("0", "1"), ("abc", "1"), ("1", "0"), ("1", "101"), ("-1", "1"), ("", "1"), ("2147483648", "1"), ("+1", "1")]
        {
            let mut errors = Vec::new();
            paging(Some(page), Some(per_page), &mut errors);
            assert_eq!(errors.len(), 1, "page={page} per_page={per_page}");
        }
    }
}
