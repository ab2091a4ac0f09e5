//! Where a dialled string leads inside a tenant.

use super::{Tenant, User};
use crate::store::{Store, StoreError};

/// The result of resolving a dialled string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A user of the tenant (by extension or by one of its numbers).
    User(User),
    /// A number outside the tenant, to go out through the trunk (outside-line
    /// prefix removed).
    Outside(String),
    /// Nothing matches.
    NotFound,
}

/// Removes visual separators (spaces, dashes, dots, parentheses).
pub fn normalise_dialled(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect()
}

fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Resolves `dialled` in `tenant`: extension, then the tenant's own numbers,
/// then (by the dial plan) an outside number.
pub async fn resolve_callee(
    store: &Store,
    tenant: &Tenant,
    dialled: &str,
) -> Result<Destination, StoreError> {
    let d = normalise_dialled(dialled);
    if d.is_empty() {
        return Ok(Destination::NotFound);
    }
    if let Some(u) = store.user_by_extension(tenant.id, &d).await? {
        return Ok(Destination::User(u));
    }
    if is_number(&d) {
        if let Ok(n) = super::numbers::canonical(&d, &tenant.country_code) {
            if let Some((t, u)) = store.user_by_number(&n).await? {
                if t.id == tenant.id {
                    return Ok(Destination::User(u));
                }
            }
        }
    }
    let ext_len = usize::try_from(tenant.extension_length).unwrap_or(0);
    if !tenant.outside_prefix.is_empty() {
        if let Some(rest) = d.strip_prefix(tenant.outside_prefix.as_str()) {
            if is_number(rest) && rest.len() > ext_len {
                return Ok(Destination::Outside(rest.to_string()));
            }
        }
    } else if is_number(&d) && d.len() > ext_len {
        return Ok(Destination::Outside(d));
    }
    Ok(Destination::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_removed() {
        assert_eq!(normalise_dialled("+31 (20) 123-45.67"), "+31201234567");
    }
}
