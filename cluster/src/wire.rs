//! How shims travel inside a plan: every shim a function holds, as its artifact's bytes
//! with their version hash, which the receiver checks before using them.
//!
//! ```text
//! "shimkit-shims/1\n"  u32 count
//! per shim: u32 len, name | u8 normalize | u32 len, version | u64 len, artifact bytes
//! ```
//! Integers are little-endian. Every length is checked against what is left of the
//! buffer before anything is allocated.

use shimkit_engine::{ShimSet, version_of};

use crate::error::{ClusterError, Result};

pub const SHIMS_MAGIC: &[u8] = b"shimkit-shims/1\n";

pub fn encode_shims(shims: &ShimSet, buf: &mut Vec<u8>) {
    buf.extend_from_slice(SHIMS_MAGIC);
    let all: Vec<_> = shims.iter().collect();
    buf.extend_from_slice(&(all.len() as u32).to_le_bytes());
    for shim in all {
        buf.extend_from_slice(&(shim.name.len() as u32).to_le_bytes());
        buf.extend_from_slice(shim.name.as_bytes());
        buf.push(u8::from(shim.normalize));
        buf.extend_from_slice(&(shim.version.len() as u32).to_le_bytes());
        buf.extend_from_slice(shim.version.as_bytes());
        buf.extend_from_slice(&(shim.bytes.len() as u64).to_le_bytes());
        buf.extend_from_slice(&shim.bytes);
    }
}

/// The shims in `buf` (which starts with [`SHIMS_MAGIC`]), each checked by its hash.
pub fn decode_shims(buf: &[u8]) -> Result<ShimSet> {
    let mut r = Reader {
        buf: buf
            .strip_prefix(SHIMS_MAGIC)
            .ok_or_else(|| invalid("no shims header"))?,
    };
    let count = r.u32()?;
    let mut shims = ShimSet::new();
    for _ in 0..count {
        let name_len = r.u32()? as usize;
        let name = std::str::from_utf8(r.take(name_len)?)
            .map_err(|_| invalid("a shim's name is not UTF-8"))?
            .to_owned();
        let normalize = r.take(1)?[0] != 0;
        let version_len = r.u32()? as usize;
        let version = std::str::from_utf8(r.take(version_len)?)
            .map_err(|_| invalid("a shim's version is not UTF-8"))?
            .to_owned();
        let len = usize::try_from(r.u64()?).map_err(|_| invalid("a shim larger than memory"))?;
        let bytes = r.take(len)?;
        let actual = version_of(bytes);
        if actual != version {
            return Err(ClusterError::ShimVersion {
                name,
                expected: version,
                actual,
            });
        }
        shims = shims.with_bytes(&name, bytes.to_vec(), normalize)?;
    }
    if !r.buf.is_empty() {
        return Err(invalid("bytes after the last shim"));
    }
    Ok(shims)
}

fn invalid(message: &str) -> ClusterError {
    ClusterError::Wire(message.to_owned())
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(invalid("the shims end early"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};
    use shimkit_trainer::{Direction, Shim, ShimMeta, artifact};

    use super::*;

    fn artifact_bytes(salt: f32) -> Vec<u8> {
        let weight = Array2::from_shape_fn((6, 4), |(i, j)| (i * 4 + j) as f32 * 0.1 + salt);
        let shim = Shim::new(
            weight,
            Array1::zeros(4),
            ShimMeta::new("ridge", Direction::OldToNew, 6, 4),
        );
        artifact::to_bytes(&shim).unwrap()
    }

    fn set() -> ShimSet {
        ShimSet::new()
            .with_bytes("a", artifact_bytes(0.0), true)
            .unwrap()
            .with_bytes("b", artifact_bytes(1.0), false)
            .unwrap()
    }

    #[test]
    fn shims_arrive_as_they_were_sent() {
        let mut buf = Vec::new();
        encode_shims(&set(), &mut buf);
        let back = decode_shims(&buf).unwrap();
        assert_eq!(back.names(), ["a", "b"]);
        for (x, y) in set().iter().zip(back.iter()) {
            assert_eq!(x.bytes, y.bytes);
            assert_eq!(x.version, y.version);
            assert_eq!(x.normalize, y.normalize);
        }
    }

    #[test]
    fn damaged_or_cut_shims_are_refused() {
        let mut buf = Vec::new();
        encode_shims(&set(), &mut buf);
        // A byte of the last artifact flipped: its hash no longer matches.
        let mut damaged = buf.clone();
        let last = damaged.len() - 10;
        damaged[last] ^= 0x40;
        let e = decode_shims(&damaged).unwrap_err().to_string();
        assert!(e.contains("\"b\"") && e.contains("damaged"), "{e}");
        for cut in [SHIMS_MAGIC.len() + 2, buf.len() / 2, buf.len() - 1] {
            let e = decode_shims(&buf[..cut]).unwrap_err().to_string();
            assert!(e.contains("end early"), "{cut}: {e}");
        }
        // A length larger than the buffer is refused before anything is allocated.
        let mut huge = SHIMS_MAGIC.to_vec();
        huge.extend_from_slice(&1u32.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_shims(&huge).is_err());
        let mut extra = buf.clone();
        extra.push(0);
        assert!(
            decode_shims(&extra)
                .unwrap_err()
                .to_string()
                .contains("after the last")
        );
    }
}
