//! Stable hashes: the split of pairs and the fingerprint of training ids must not change
//! with the Rust version (std's `DefaultHasher` makes no such promise), and must be
//! reproducible from Python. FNV-1a over the id's UTF-8 bytes, mixed with SplitMix64.

/// FNV-1a, 64-bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What a seeded hash or random stream is for. Each use has its own, so that one never
/// shifts another; the values are part of what makes a run reproducible (from Python too),
/// so they never change.
pub mod stream {
    /// Whether a pair is held out ([`super::Split`]).
    pub const HELD_OUT: u64 = 1;
    /// Which tuning fold a pair joins.
    pub const FOLD: u64 = 2;
    /// The order in which an evaluation samples training documents and a backfill
    /// re-embeds them.
    pub const SAMPLE: u64 = 3;
    /// Which held-out and adapter pairs a fit keeps as vectors.
    pub const KEEP: u64 = 4;
    /// Which fold a query pair joins when the share of query pairs is chosen.
    pub const QUERY_SHARE_FOLD: u64 = 5;
    /// Which fold of the scored queries an evaluation cross-fits query pairs over.
    pub const QUERY_PAIR_FOLD: u64 = 6;
    /// Which re-embedded documents a backfill's blend is chosen on, and in what order.
    pub const BLEND: u64 = 7;
    /// Which of them play the re-embedded part of the index when it is chosen.
    pub const BLEND_PART: u64 = 8;
    /// The MLP's initial weights and batches (xor'd into the seed).
    pub const MLP: u64 = 0x4D4C_5000;
    /// Spherical k-means' first centroids (xor'd into the seed).
    pub const KMEANS: u64 = 0xC1C5_7E25;
    /// The bootstrap's draws (xor'd into the seed).
    pub const BOOTSTRAP: u64 = 0xB007_57A9;
}

/// SplitMix64 finaliser: spreads a seed, a purpose and an id hash over 64 bits.
pub fn mix(seed: u64, purpose: u64, h: u64) -> u64 {
    let mut x =
        h ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ purpose.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Where a pair goes: held out to score candidates, or into one of the tuning folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    HeldOut,
    Fold(usize),
}

/// The seeded split of pairs by id: a share `val_frac` held out, the rest spread over
/// `folds` tuning folds. Each decision is an independent stream of [`mix`].
#[derive(Debug, Clone, Copy)]
pub struct Split {
    seed: u64,
    cut: u64,
    folds: u64,
}

impl Split {
    pub fn new(seed: u64, val_frac: f64, folds: usize) -> Self {
        Split {
            seed,
            cut: (val_frac * u64::MAX as f64) as u64,
            folds: folds.max(1) as u64,
        }
    }

    /// The part of the pair whose id hashes (FNV-1a) to `id_hash`.
    pub fn part(&self, id_hash: u64) -> Part {
        if mix(self.seed, stream::HELD_OUT, id_hash) < self.cut {
            Part::HeldOut
        } else {
            Part::Fold((mix(self.seed, stream::FOLD, id_hash) % self.folds) as usize)
        }
    }
}

/// An order-independent fingerprint of a set of ids, built one id hash at a time:
/// `count:sum` of their FNV-1a hashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fingerprint {
    count: u64,
    sum: u64,
}

impl Fingerprint {
    pub fn add(&mut self, id_hash: u64) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(id_hash);
    }

    /// The fingerprint of both sets of ids together.
    pub fn merge(&mut self, other: Fingerprint) {
        self.count += other.count;
        self.sum = self.sum.wrapping_add(other.sum);
    }

    /// (count, sum): what [`Fingerprint::from_parts`] takes back.
    pub fn parts(&self) -> (u64, u64) {
        (self.count, self.sum)
    }

    pub fn from_parts(count: u64, sum: u64) -> Self {
        Fingerprint { count, sum }
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{:016x}", self.count, self.sum)
    }
}

/// The fingerprint of a set of ids.
pub fn fingerprint<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    let mut f = Fingerprint::default();
    ids.into_iter().for_each(|id| f.add(fnv1a(id.as_bytes())));
    f.to_string()
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
