//! A reader for the one JSON shape that single-vector calls send,
//! `{"vectors": [[n, ...], ...]}` with an optional `"normalize": true|false` after it,
//! faster than serde_json's: it reads eight digits at a time where serde_json reads one,
//! and that parse was the largest cost of a JSON call after the product itself
//! (BENCHMARKS.md has the figures).
//!
//! It is an accelerator, not a second parser with its own rules. [`read_request`] answers
//! `Some` only for a body that serde_json accepts as a `ProjectRequest`, and then with
//! bit-identical values: it repeats serde_json's own number arithmetic (the default,
//! non-`float_roundtrip` build: the significand as `u64`, one multiplication or division
//! by a power of ten in f64, then serde's cast to f32). Anything else (other key orders,
//! escapes, `null`, digits past `u64`, exponents past 10^308, any error) gives `None`, and
//! serde_json reads the body and words the error. The tests hold it to that on mutated
//! bodies and on numbers of every form.

use std::sync::LazyLock;

/// Rows, dimension, the values row-major, and `normalize` if given.
pub type Request = (usize, usize, Vec<f32>, Option<bool>);

/// serde_json's table: `10^k` as the f64 literal `1eK` would give it (both round
/// correctly, so parsing the literal's text gives the same bits).
static POW10: LazyLock<[f64; 309]> =
    LazyLock::new(|| std::array::from_fn(|k| format!("1e{k}").parse().unwrap_or(f64::NAN)));

/// The common request shape, or `None` for anything else.
pub fn read_request(b: &[u8]) -> Option<Request> {
    let mut i = token(b, 0, b"{")?;
    i = token(b, i, b"\"vectors\"")?;
    i = token(b, i, b":")?;
    i = token(b, i, b"[")?;
    // Numbers as clients write them take 8 to 24 bytes with their separator.
    let mut data = Vec::with_capacity(b.len() / 8);
    let (mut rows, mut dim) = (0, 0);
    loop {
        i = token(b, i, b"[")?;
        let start = data.len();
        loop {
            let (v, j) = number(b, whitespace(b, i))?;
            data.push(v);
            let last;
            (i, last) = after_element(b, j)?;
            if last {
                break;
            }
        }
        let n = data.len() - start;
        if rows == 0 {
            dim = n;
        } else if n != dim {
            return None;
        }
        rows += 1;
        let last;
        (i, last) = after_element(b, i)?;
        if last {
            break;
        }
    }
    let mut normalize = None;
    if let Some(j) = token(b, i, b",") {
        i = token(b, j, b"\"normalize\"")?;
        i = token(b, i, b":")?;
        if let Some(j) = token(b, i, b"true") {
            (normalize, i) = (Some(true), j);
        } else {
            (normalize, i) = (Some(false), token(b, i, b"false")?);
        }
    }
    i = token(b, i, b"}")?;
    (whitespace(b, i) == b.len()).then_some((rows, dim, data, normalize))
}

/// JSON's whitespace, as serde_json skips it.
fn whitespace(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The `,` or `]` after an array element: the index after it, and whether it was the last.
fn after_element(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let i = whitespace(b, i);
    match b.get(i)? {
        b',' => Some((i + 1, false)),
        b']' => Some((i + 1, true)),
        _ => None,
    }
}

/// `text` after optional whitespace; the index after it.
fn token(b: &[u8], i: usize, text: &[u8]) -> Option<usize> {
    let i = whitespace(b, i);
    let end = i + text.len();
    (b.get(i..end)? == text).then_some(end)
}

/// One JSON number at `b[i..]`, as serde_json would read it into an f32, and the index
/// after it.
fn number(b: &[u8], mut i: usize) -> Option<(f32, usize)> {
    let positive = b.get(i) != Some(&b'-');
    if !positive {
        i += 1;
    }
    let mut significand = 0u64;
    match b.get(i)? {
        // One leading zero, never two.
        b'0' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => return None,
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i, &mut significand)?.0,
        _ => return None,
    }
    let mut exponent = 0i32;
    let mut integer = true;
    if b.get(i) == Some(&b'.') {
        let (j, n) = digits(b, i + 1, &mut significand)?;
        if n == 0 {
            return None;
        }
        exponent = -i32::try_from(n).ok()?;
        (i, integer) = (j, false);
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let positive_exponent = b.get(i) != Some(&b'-');
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let mut e = 0u64;
        let (j, n) = digits(b, i, &mut e)?;
        let e = i32::try_from(e).ok().filter(|_| n > 0)?;
        exponent = if positive_exponent {
            exponent.saturating_add(e)
        } else {
            exponent.saturating_sub(e)
        };
        (i, integer) = (j, false);
    }
    let value = if integer {
        // serde_json hands integers to the f32 visitor as u64 or i64, and -0 as f64.
        match (positive, (significand as i64).wrapping_neg()) {
            (true, _) => significand as f32,
            (false, neg) if neg >= 0 => -(significand as f64) as f32,
            (false, neg) => neg as f32,
        }
    } else {
        let pow = *POW10.get(exponent.unsigned_abs() as usize)?;
        let mut f = significand as f64;
        if exponent >= 0 {
            f *= pow;
            if f.is_infinite() {
                return None;
            }
        } else {
            f /= pow;
        }
        let f = if positive { f } else { -f };
        // Out of float32's range: serde's path says why.
        if !super::types::fits_f32(f) {
            return None;
        }
        f as f32
    };
    Some((value, i))
}

/// A run of decimal digits added to `acc`, eight at a time while they last; the index
/// after the run and its length, or `None` if `acc` would pass `u64::MAX` (serde_json
/// changes method there).
fn digits(b: &[u8], mut i: usize, acc: &mut u64) -> Option<(usize, usize)> {
    let start = i;
    while let Some(chunk) = b.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
        let chunk = u64::from_le_bytes(chunk);
        if !eight_digits(chunk) {
            break;
        }
        *acc = acc
            .checked_mul(100_000_000)?
            .checked_add(eight_digit_value(chunk))?;
        i += 8;
    }
    while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        *acc = acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        i += 1;
    }
    Some((i, i - start))
}

/// Whether all eight bytes are ASCII digits: each high nibble is 3, and adding 6 to the
/// byte does not carry into it.
fn eight_digits(chunk: u64) -> bool {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    (chunk & HIGH) | ((chunk.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4)
        == 0x3333_3333_3333_3333
}

/// The value of eight ASCII digits, the first in the lowest byte: pairs, then fours, then
/// the eight, combined in three multiplications.
fn eight_digit_value(chunk: u64) -> u64 {
    let v = chunk - 0x3030_3030_3030_3030;
    let v = v * 10 + (v >> 8);
    ((v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32))
        + ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::types::ProjectRequest;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// What serde_json makes of a body, in the fast reader's terms.
    fn serde(body: &[u8]) -> Option<Request> {
        let r: ProjectRequest = serde_json::from_slice(body).ok()?;
        Some((r.vectors.rows, r.vectors.dim, r.vectors.data, r.normalize))
    }

    fn bits(r: &Request) -> (usize, usize, Vec<u32>, Option<bool>) {
        (r.0, r.1, r.2.iter().map(|v| v.to_bits()).collect(), r.3)
    }

    /// The contract: `Some` only where serde_json succeeds, and then the same bits.
    fn agrees(body: &[u8]) -> bool {
        match read_request(body) {
            None => true,
            Some(fast) => serde(body).is_some_and(|slow| bits(&fast) == bits(&slow)),
        }
    }

    fn random_number(rng: &mut ChaCha8Rng) -> String {
        let v = f32::from_bits(rng.random());
        match rng.random_range(0..9) {
            // Python: f32 widened to f64, shortest f64 text (17 digits).
            0 | 1 => format!("{}", rng.random_range(-1.0f32..1.0) as f64),
            2 if v.is_finite() => format!("{}", v as f64),
            3 if v.is_finite() => format!("{v:e}"),
            4 => format!("{}", rng.random::<i64>() >> rng.random_range(0..64)),
            5 => format!("{}", rng.random::<u64>()),
            6 => format!(
                "{}{}.{}E{}{}",
                ["", "-"][rng.random_range(0..2)],
                rng.random_range(0..1000),
                rng.random::<u64>(),
                ["", "+", "-"][rng.random_range(0..3)],
                rng.random_range(0..400)
            ),
            // 2^60 + 2^36 + 1 rounds differently to f32 directly and through f64.
            7 => [
                "0",
                "-0",
                "-0.0",
                "0e0",
                "1E+2",
                "0.000",
                "1e308",
                "1e309",
                "2e-400",
                "1152921573326323713",
                "-1152921573326323713",
            ][rng.random_range(0..11)]
            .to_owned(),
            _ => format!("{}", rng.random_range(-1e-3f32..1e-3)),
        }
    }

    #[test]
    fn numbers_of_every_form_read_as_serde_json_reads_them() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut taken, mut total) = (0, 0);
        for _ in 0..20_000 {
            let row: Vec<String> = (0..4).map(|_| random_number(&mut rng)).collect();
            let body = format!("{{\"vectors\": [[{}]]}}", row.join(", "));
            assert!(agrees(body.as_bytes()), "{body}");
            for n in &row {
                let body = format!("{{\"vectors\":[[{n}]]}}");
                assert!(agrees(body.as_bytes()), "{body}");
                total += 1;
                taken += usize::from(read_request(body.as_bytes()).is_some());
            }
        }
        // Most forms take the fast path; the rest (over u64, over 1e308) fall back.
        assert!(taken * 10 > total * 7, "{taken} of {total}");
    }

    #[test]
    fn python_bodies_take_the_fast_path() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let rows: Vec<Vec<f64>> = (0..3)
            .map(|_| {
                (0..768)
                    .map(|_| rng.random_range(-1.0f32..1.0) as f64)
                    .collect()
            })
            .collect();
        for normalize in ["", ", \"normalize\": false", ",\"normalize\":true"] {
            let body = format!(
                "{{\"vectors\": {}{normalize}}}\n",
                serde_json::to_string(&rows).unwrap()
            );
            let fast = read_request(body.as_bytes()).expect("the common shape");
            assert_eq!((fast.0, fast.1), (3, 768));
            assert!(agrees(body.as_bytes()));
        }
    }

    #[test]
    fn other_shapes_fall_back_and_mutations_never_pass_what_serde_refuses() {
        let base =
            br#" { "vectors" : [ [1.5, -2e-3, 0.25] , [3, 4.0, -0] ] , "normalize" : false } "#;
        assert!(read_request(base).is_some());
        for other in [
            &br#"{"normalize": true, "vectors": [[1.0]]}"#[..],
            br#"{"vectors": [[1.0]], "normalize": null}"#,
            br#"{"vectors": [[1.0], [1.0, 2.0]]}"#,
            br#"{"vectors": [[]]}"#,
            br#"{"vectors": []}"#,
            br#"{"vectors": [[1.0]], "other": 1}"#,
            br#"{"vectors": [[1.0]]} x"#,
            br#"{"vectors": [[01]]}"#,
            br#"{"vectors": [[1.]]}"#,
            br#"{"vectors": [[.5]]}"#,
            br#"{"vectors": [[1e]]}"#,
            br#"{"vectors": [[+1]]}"#,
            br#"{"vectors": [[123456789012345678901]]}"#,
            br#"{"vectors": [[1e400]]}"#,
        ] {
            assert!(
                read_request(other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        let alphabet = b"0123456789-+.eE,[]{}: \"\nx";
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50_000 {
            let mut body = base.to_vec();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..body.len());
                let c = alphabet[rng.random_range(0..alphabet.len())];
                match rng.random_range(0..3) {
                    0 => body[at] = c,
                    1 => body.insert(at, c),
                    _ => {
                        body.remove(at);
                    }
                }
            }
            assert!(agrees(&body), "{}", String::from_utf8_lossy(&body));
        }
    }
}
