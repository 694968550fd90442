//! Paging tokens of the list operations whose pages are offsets into a sorted list (the
//! `nextToken` is the decimal index of the page's first item).

/// The index a `nextToken` names (0 without one); `Err` for a token that is not one of
/// ours.
pub fn offset(token: Option<&str>) -> Result<usize, std::num::ParseIntError> {
    match token {
        Some(token) => token.parse(),
        None => Ok(0),
    }
}

/// The `nextToken` of the page of `page_size` items that starts at `start` of `total`, or
/// `None` when that page is the last.
pub fn next_offset(start: usize, page_size: usize, total: usize) -> Option<String> {
    let next = start.saturating_add(page_size);
    (next < total).then(|| next.to_string())
}

#[cfg(test)]
mod tests;
