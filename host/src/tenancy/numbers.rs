//! Phone numbers in one spelling: E.164, `+` and digits (`+31201234567`).
//! What people type — `020 123 4567`, `0031 20 1234567`, `31201234567`,
//! `+31 (0)20-1234567` — is turned into it with the tenant's country code,
//! so that one number has one key in the store and no tenant can claim
//! another's by spelling it differently.

/// Most digits of an E.164 number.
pub const MAX_DIGITS: usize = 15;
/// Fewest digits accepted as a public number.
pub const MIN_DIGITS: usize = 7;

/// The E.164 form of `input` for a tenant whose country code is `country`
/// (digits, e.g. `31`): separators dropped, `00` and `+` international,
/// a leading `0` national, other digits international without the `+`.
/// A `(0)` after the country code (Dutch habit) is dropped.
///
/// # Errors
///
/// A message for the admin when it is not a number or has too few or too
/// many digits.
pub fn canonical(input: &str, country: &str) -> Result<String, String> {
    let mut s: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '/' | '\t'))
        .collect();
    // +31(0)20... -> +3120...
    if let Some(i) = s.find("(0)") {
        s.replace_range(i..i + 3, "");
    }
    let s: String = s.chars().filter(|c| !matches!(c, '(' | ')')).collect();
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let e164 = if let Some(rest) = s.strip_prefix('+') {
        rest.to_string()
    } else if let Some(rest) = s.strip_prefix("00") {
        rest.to_string()
    } else if let Some(rest) = s.strip_prefix('0') {
        if !digits(country) {
            return Err(format!(
                "{input:?} is a national number but the tenant has no country code"
            ));
        }
        format!("{country}{rest}")
    } else {
        s.clone()
    };
    if !digits(&e164) {
        return Err(format!(
            "{input:?} is not a phone number: use digits, optionally with + or a leading 0 (e.g. +31201234567)"
        ));
    }
    if e164.starts_with('0') {
        return Err(format!("{input:?} is not a valid international number"));
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&e164.len()) {
        return Err(format!(
            "{input:?} has {} digits: an E.164 number has {MIN_DIGITS} to {MAX_DIGITS}",
            e164.len()
        ));
    }
    Ok(format!("+{e164}"))
}

/// Whether canonical `number` lies in the range `first..=last` (canonical,
/// same length).
pub fn in_range(number: &str, first: &str, last: &str) -> bool {
    number.len() == first.len() && first <= number && number <= last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_number_is_one_key() {
        for s in [
            "+31205552010",
            "31205552010",
            "0031205552010",
            "020 555 2010",
            "020-5552010",
            "+31 (0)20 555 20 10",
            "(020) 555 2010",
        ] {
            assert_eq!(canonical(s, "31").as_deref(), Ok("+31205552010"), "{s}");
        }
        assert_eq!(canonical("0612345678", "32").as_deref(), Ok("+32612345678"));
    }

    #[test]
    fn what_is_not_a_number() {
        for s in [
            "",
            "+",
            "12",
            "abc",
            "+31 20 abc",
            "00",
            "+0123456789",
            "1234567890123456",
        ] {
            assert!(canonical(s, "31").is_err(), "{s}");
        }
        assert!(canonical("0201234567", "").is_err());
    }

    #[test]
    fn ranges() {
        assert!(in_range("+31205552010", "+31205552000", "+31205552099"));
        assert!(!in_range("+31205552100", "+31205552000", "+31205552099"));
        assert!(!in_range("+3120555201", "+31205552000", "+31205552099"));
    }
}
