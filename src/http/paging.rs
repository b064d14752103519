//! The contract's pagination: `page` from 1 (default 1), `per_page` 1 to 100 (default 20).
//! Query values arrive as strings and are parsed here, so that every bad value is a 422
//! naming its parameter.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::FieldError;

pub const DEFAULT_PER_PAGE: u32 = 20;
pub const MAX_PER_PAGE: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
}

/// `page` and `per_page` alone, for lists without filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1 (default 1); a page past the end answers 200 with no items.
    #[param(value_type = Option<u32>, minimum = 1, example = 1)]
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
    match raw.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => n,
        _ => {
            let range = if max == u32::MAX { "1 or more".to_string() } else { format!("1 to {max}") };
            errors.push(FieldError::new(field, format!("must be a whole number from {range}")));
            default
        }
    }
}

/// Parses both values, pushing one error per bad value.
pub fn paging(page: Option<&str>, per_page: Option<&str>, errors: &mut Vec<FieldError>) -> Paging {
    Paging {
        page: number("page", page, 1, u32::MAX, errors),
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
        for (page, per_page) in [("0", "1"), ("abc", "1"), ("1", "0"), ("1", "101"), ("-1", "1"), ("", "1")] {
            let mut errors = Vec::new();
            paging(Some(page), Some(per_page), &mut errors);
            assert_eq!(errors.len(), 1, "page={page} per_page={per_page}");
        }
    }
}
