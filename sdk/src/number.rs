//! Comparing phone numbers as people write them.
//!
//! Numbers reach plugins in several spellings: `+31 6 1234 5678` in settings,
//! `+31612345678` from a trunk, `sip:+31612345678@carrier;user=phone` as an
//! asserted identity, `0031612345678` typed by an admin. [`normalise`]
//! reduces each to the same key; [`same`] compares two numbers by it.
//!
//! What it does **not** do: turn a national number (`0612345678`) into
//! E.164 (`+31612345678`), which needs the tenant's country. List numbers in
//! settings the way the host presents them (see `Party::number`), or list
//! both spellings.

use alloc::string::String;

/// The comparison key of a number: a `sip:`/`sips:`/`tel:` URI is reduced to
/// its user part, visual separators (spaces, `-`, `.`, `(`, `)`, `/`) are
/// dropped, a leading `00` becomes `+`, and only `+` (leading), digits, `*`
/// and `#` are kept. ASCII letters are kept lower-cased, so an extension
/// such as `"reception"` still compares.
pub fn normalise(number: &str) -> String {
    let mut s = number.trim();
    s = s.strip_prefix('<').unwrap_or(s);
    s = s.strip_suffix('>').unwrap_or(s);
    for scheme in ["sips:", "sip:", "tel:"] {
        if s.len() >= scheme.len() && s[..scheme.len()].eq_ignore_ascii_case(scheme) {
            s = &s[scheme.len()..];
            break;
        }
    }
    if let Some(at) = s.find('@') {
        s = &s[..at];
    }
    if let Some(semi) = s.find(';') {
        s = &s[..semi];
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '+' if out.is_empty() => out.push('+'),
            '0'..='9' | '*' | '#' => out.push(c),
            c if c.is_ascii_alphabetic() => out.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    if let Some(rest) = out.strip_prefix("00") {
        if !rest.is_empty() {
            let mut plus = String::with_capacity(rest.len() + 1);
            plus.push('+');
            plus.push_str(rest);
            return plus;
        }
    }
    out
}

/// Whether `a` and `b` are the same number after [`normalise`]. Two empty
/// numbers are never the same.
pub fn same(a: &str, b: &str) -> bool {
    let a = normalise(a);
    !a.is_empty() && a == normalise(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(normalise("+31 6 1234-5678"), "+31612345678");
        assert_eq!(normalise("0031612345678"), "+31612345678");
        assert_eq!(
            normalise("sip:+31612345678@carrier.example;user=phone"),
            "+31612345678"
        );
        assert_eq!(normalise("<tel:+31612345678>"), "+31612345678");
        assert_eq!(normalise("(020) 123.45.67"), "0201234567");
        assert_eq!(normalise("*21#"), "*21#");
        assert_eq!(normalise("Reception"), "reception");
        assert!(same("201", " 201 "));
        assert!(!same("201", "202"));
        assert!(!same("", ""));
        assert!(!same("0612345678", "+31612345678"));
    }
}
