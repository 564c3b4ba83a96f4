//! Byte-string work on the per-event path, eight bytes at a time: equality for the short
//! slices of field paths, literals and needles (without the call to `memcmp` that slice
//! equality makes), and the word tests the JSON reader and the folding scan with.

/// A byte of 1 in every lane of a word, and the lanes' high bits.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `v` below `n` (`n <= 0x80`). Only the lowest flagged byte
/// is exact (a borrow can flag the byte above it): callers take `trailing_zeros` or test
/// for any.
#[inline]
pub(crate) fn below(v: u64, n: u8) -> u64 {
    v.wrapping_sub(ONES * u64::from(n)) & !v & HIGH
}

/// The high bit of each byte of `v` equal to `b` (lowest exact, as [`below`]).
#[inline]
pub(crate) fn equal(v: u64, b: u8) -> u64 {
    below(v ^ (ONES * u64::from(b)), 1)
}

/// `a == b` without a call to `memcmp` for the short slices literals and field paths
/// are: eight-byte words, the last one overlapping the one before; four-byte words or
/// single bytes below eight.
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let half = |s: &[u8], i: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[i..i + 4]);
        u32::from_le_bytes(w)
    };
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if word(a, i) != word(b, i) {
                return false;
            }
            i += 8;
        }
        word(a, n - 8) == word(b, n - 8)
    } else if n >= 4 {
        half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4)
    } else {
        a.iter().zip(b).all(|(x, y)| x == y)
    }
}

/// Up to seven bytes as a zero-padded little-endian word, from two overlapping loads
/// instead of a loop or a variable-length copy (four to seven bytes: the first four and the
/// last four, whose shared bytes agree; two or three: the first two and the last one).
#[inline]
pub(crate) fn low_word(b: &[u8]) -> u64 {
    let n = b.len();
    debug_assert!(n < 8);
    if let (Some(x), Some(y)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*x)) | u64::from(u32::from_le_bytes(*y)) << (8 * (n - 4))
    } else if let (Some(x), Some(&y)) = (b.first_chunk::<2>(), b.last()) {
        u64::from(u16::from_le_bytes(*x)) | u64::from(y) << (8 * (n - 1))
    } else {
        b.first().map_or(0, |&x| u64::from(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The lowest flagged byte of the word tests is the first byte a byte loop finds.
        #[test]
        fn word_tests_find_the_first_byte(w in proptest::array::uniform8(proptest::sample::select(vec![0u8, 1, b'.', b'"', 0x1f, 0x20, 0x7f, 0x80, 0xff])), n in 1u8..=0x80, b in proptest::sample::select(vec![0u8, b'.', b'"', 0xff])) {
            let v = u64::from_le_bytes(w);
            let first = |m: u64| (m != 0).then(|| (m.trailing_zeros() / 8) as usize);
            prop_assert_eq!(first(below(v, n)), w.iter().position(|&x| x < n));
            prop_assert_eq!(first(equal(v, b)), w.iter().position(|&x| x == b));
        }

        /// The two-load word is the bytes, zero-padded, little-endian.
        #[test]
        fn low_word_is_the_padded_bytes(b in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut w = [0u8; 8];
            w[..b.len()].copy_from_slice(&b);
            prop_assert_eq!(low_word(&b), u64::from_le_bytes(w));
        }

        /// The word-wise comparison is slice equality, at every length around the word
        /// sizes and with the difference anywhere.
        #[test]
        fn same_is_slice_equality(a in proptest::collection::vec(0u8..3, 0..40), b in proptest::collection::vec(0u8..3, 0..40)) {
            prop_assert_eq!(same(&a, &b), a == b);
            prop_assert!(same(&a, &a.clone()));
        }
    }
}
