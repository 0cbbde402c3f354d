//! Deterministic FHIR resource ids derived from source identifiers, so that
//! converting the same data twice yields the same ids (no duplicates) and a
//! newer version of a message overwrites the resource of the older one.

/// 64-bit FNV-1a: small, stable across platforms and Rust versions.
pub fn fnv1a(data: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An id made of a prefix and parts joined with `.`. Characters FHIR does not
/// allow become `-`; when the result is longer than 64 characters it becomes
/// the prefix plus a hash of all parts.
pub fn make(prefix: &str, parts: &[&str]) -> String {
    let mut id = String::from(prefix);
    for p in parts {
        id.push('.');
        id.extend(p.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }));
    }
    if id.len() <= 64 && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')) {
        return id;
    }
    // Either too long or some characters were replaced (which could make two
    // different keys equal): use a hash of the exact key instead.
    format!("{prefix}.{:016x}", fnv1a(&parts.join("\u{1f}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_valid() {
        assert_eq!(make("pat", &["9999013"]), "pat.9999013");
        let long = make("obs", &["9999013", "20111220", "OML-11", "000000011000354", "3A016000002327102", "1"]);
        assert!(long.len() <= 64 && fhir::id::is_valid_id(&long), "{long}");
        assert_eq!(long, make("obs", &["9999013", "20111220", "OML-11", "000000011000354", "3A016000002327102", "1"]));
        assert_ne!(make("x", &["a_b"]), make("x", &["a-b"]));
        assert!(fhir::id::is_valid_id(&make("x", &["患者"])));
    }
}
