//! Stable hashes: the split of pairs and the fingerprint of training ids must not change
//! with the Rust version (std's `DefaultHasher` makes no such promise), and must be
//! reproducible from Python. FNV-1a over the id's UTF-8 bytes, mixed with SplitMix64.

/// FNV-1a, 64-bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64 finaliser: spreads a seed, a purpose and an id hash over 64 bits.
pub fn mix(seed: u64, purpose: u64, h: u64) -> u64 {
    let mut x =
        h ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ purpose.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A seeded hash of an id, one independent stream per purpose.
pub fn id_hash(seed: u64, purpose: u64, id: &str) -> u64 {
    mix(seed, purpose, fnv1a(id.as_bytes()))
}

/// An order-independent fingerprint of a set of ids: `count:sum` of their FNV-1a hashes.
pub fn fingerprint<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    let (n, sum) = ids.into_iter().fold((0u64, 0u64), |(n, s), id| {
        (n + 1, s.wrapping_add(fnv1a(id.as_bytes())))
    });
    format!("{n}:{sum:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn fingerprint_ignores_order() {
        let a: Vec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
        let b: Vec<String> = ["z", "x", "y"].iter().map(|s| s.to_string()).collect();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&a[..2]));
    }
}
