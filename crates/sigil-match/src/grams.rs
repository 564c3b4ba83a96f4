//! [`GramSet`]: finds which of many literals occur in a haystack, sized to stay in cache.
//!
//! An Aho-Corasick DFA over thousands of literals is tens of megabytes (SigmaHQ's
//! `CommandLine` literals alone: 39 MB, `Hashes`: 120 MB), and a DFA scan is a chain of
//! dependent table loads: every byte waits for a cache (and TLB) miss. Here each literal
//! is *anchored* on one 4-byte window of its text (its *gram*), chosen to be shared by as
//! few other literals as possible. A bitmap of hashed grams (at most 32 KiB) rejects
//! almost every haystack position with one independent load; at a position whose gram
//! bit is set, a hash table lists the literals anchored on that gram and each is
//! compared in place. Every occurrence of a literal contains its gram at a fixed offset,
//! so every occurrence is found: the scan is exact, like the automaton it replaces.
//! Literals shorter than a gram are found the same way through a table of their first
//! two bytes (and one of single bytes). Where the CPU has AVX2, eight positions are
//! tested per step (one shuffle builds their grams, one multiply hashes them, one gather
//! fetches their bitmap words), the last ones from a window of the haystack's last
//! sixteen bytes; short literals are found through a byte-class filter, sixteen bytes per
//! step. Without AVX2 a scalar loop does the same, one position at a time.
//!
//! Haystacks and literals must both be case-folded by the caller: comparison is bytewise.

use crate::bytes::{low_word, same};

/// Bytes per gram.
const GRAM: usize = 4;

/// Bitmap bits per distinct gram (before rounding up to a power of two), and the limit.
const BITS_PER_GRAM: usize = 32;
const MAX_BITS_LOG: u32 = 18;
const MIN_BITS_LOG: u32 = 9;

pub(crate) struct GramSet {
    /// Bit `bit_index(g)` is set for every anchor gram `g`.
    bits: Vec<u32>,
    bits_log: u32,
    /// AVX2 is available: eight positions per step (see [`GramSet::scan_avx2`]).
    avx2: bool,
    /// Open addressing on `slot_index`, one slot per anchor gram.
    slots: Vec<Slot>,
    /// Literals a slot does not hold itself: `anchors[more[at].0..more[at].1]` for the
    /// slot at `at` when its `off` has [`MORE`] (read only then: most slots have none).
    anchors: Vec<Anchor>,
    more: Vec<(u32, u32)>,
    /// The bytes of the anchored literals.
    text: Vec<u8>,
    /// Literals shorter than a gram.
    short: Option<Box<Short>>,
    /// The empty literal occurs in every haystack.
    empty: Option<u32>,
}

/// Literals of one to three bytes.
struct Short {
    /// Bit per byte value that is a one-byte literal, and those literals (byte, id).
    single: [u32; 8],
    singles: Vec<(u8, u32)>,
    /// Bit per first two bytes (little-endian `u16`) of a two- or three-byte literal, and
    /// those literals (first two bytes, id, text) sorted by their first two bytes.
    pairs: Vec<u32>,
    by_pair: Vec<(u16, u32, Box<[u8]>)>,
    /// The bytes that start a short literal, as two nibble tables for the vector filter:
    /// byte `h << 4 | l` starts one when `rows[h >> 3][l]` has bit `h & 7`.
    rows: [[u8; 16]; 2],
}

impl Short {
    fn build(lits: &[(u32, &[u8])]) -> Short {
        let mut short = Short {
            single: [0; 8],
            singles: vec![],
            pairs: vec![0; 1 << 11],
            by_pair: vec![],
            rows: [[0; 16]; 2],
        };
        for &(id, b) in lits {
            short.rows[usize::from(b[0] >> 7)][usize::from(b[0] & 15)] |= 1 << ((b[0] >> 4) & 7);
            if let [x] = b {
                set_bit(&mut short.single, usize::from(*x));
                short.singles.push((*x, id));
            } else {
                let p = u16::from_le_bytes([b[0], b[1]]);
                set_bit(&mut short.pairs, usize::from(p));
                short.by_pair.push((p, id, b.into()));
            }
        }
        short.singles.sort_unstable();
        short.by_pair.sort_unstable();
        short
    }

    #[inline]
    fn scan(&self, hay: &[u8], avx2: bool, f: &mut impl FnMut(usize)) {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `avx2` is set only where the CPU has AVX2.
            unsafe { self.scan_vector(hay, f) };
            return;
        }
        let _ = avx2;
        for i in 0..hay.len() {
            self.at(hay, i, f);
        }
    }

    /// The short literals starting at `hay[i]`.
    #[inline]
    fn at(&self, hay: &[u8], i: usize, f: &mut impl FnMut(usize)) {
        let b = hay[i];
        if bit(&self.single, usize::from(b)) {
            self.singles
                .iter()
                .filter(|s| s.0 == b)
                .for_each(|s| f(s.1 as usize));
        }
        let Some(&b2) = hay.get(i + 1) else { return };
        let p = u16::from_le_bytes([b, b2]);
        if bit(&self.pairs, usize::from(p)) {
            let from = self.by_pair.partition_point(|e| e.0 < p);
            for (_, id, text) in self.by_pair[from..].iter().take_while(|e| e.0 == p) {
                if hay.get(i..i + text.len()) == Some(text) {
                    f(*id as usize);
                }
            }
        }
    }

    /// Sixteen positions per step: a byte-class test (two nibble-table shuffles) finds
    /// the bytes that start a short literal; only those positions are checked. The last
    /// positions come from the window of the last sixteen bytes (or the zero-padded
    /// haystack when shorter).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn scan_vector(&self, hay: &[u8], f: &mut impl FnMut(usize)) {
        use std::arch::x86_64::*;
        // SAFETY: each table is sixteen bytes.
        let (rows_lo, rows_hi) = unsafe {
            (
                _mm_loadu_si128(self.rows[0].as_ptr().cast()),
                _mm_loadu_si128(self.rows[1].as_ptr().cast()),
            )
        };
        let bits = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
        let nibble = _mm_set1_epi8(15);
        let seven = _mm_set1_epi8(7);
        let zero = _mm_setzero_si128();
        // Bit `j` set: byte `j` of the window starts a short literal.
        let starts = |w: &[u8; 16]| -> u32 {
            // SAFETY: `w` is sixteen bytes.
            let v = unsafe { _mm_loadu_si128(w.as_ptr().cast()) };
            let lo = _mm_and_si128(v, nibble);
            let hi = _mm_and_si128(_mm_srli_epi16::<4>(v), nibble);
            let row = _mm_blendv_epi8(
                _mm_shuffle_epi8(rows_lo, lo),
                _mm_shuffle_epi8(rows_hi, lo),
                _mm_cmpgt_epi8(hi, seven),
            );
            let hit = _mm_and_si128(row, _mm_shuffle_epi8(bits, hi));
            !(_mm_movemask_epi8(_mm_cmpeq_epi8(hit, zero)) as u32) & 0xffff
        };
        let n = hay.len();
        let mut i = 0;
        while let Some(w) = hay[i..].first_chunk::<16>() {
            let mut m = starts(w);
            while m != 0 {
                self.at(hay, i + m.trailing_zeros() as usize, f);
                m &= m - 1;
            }
            i += 16;
        }
        if i == n {
            return;
        }
        let (window, base) = last_window(hay);
        // Positions i..n are bits (i - base)..(n - base) of the window.
        let mut m = starts(&window) & (u32::MAX << (i - base)) & (u32::MAX >> (32 - (n - base)));
        while m != 0 {
            self.at(hay, base + m.trailing_zeros() as usize, f);
            m &= m - 1;
        }
    }
}

/// A slot of the gram table, sixteen bytes and aligned: four per cache line, none
/// straddling two (a hit costs one line for the slot, one for the literal's text). Most
/// grams anchor one literal, which the slot holds itself; the others of a gram, and a
/// literal too long for the slot's 16-bit fields, are in [`GramSet::anchors`] at the
/// range [`GramSet::more`] holds for this slot's position.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(16))]
struct Slot {
    gram: u32,
    /// The first literal anchored on `gram`, or [`NO_LIT`] when all are in `anchors`.
    lit: u32,
    /// Its range in [`GramSet::text`] (`len == 0` marks an empty slot) and the gram's
    /// offset in it; [`MORE`] set in `off`: `more` has anchors for this slot.
    start: u32,
    off: u16,
    len: u16,
}

const NO_LIT: u32 = u32::MAX;
const MORE: u16 = 1 << 15;

impl Slot {
    /// The slot of `gram` holding `first`, or (when it does not fit the 16-bit fields)
    /// [`NO_LIT`]; [`GramSet::build`] sets [`MORE`] when it puts anchors in the list.
    fn new(gram: u32, first: Anchor) -> Slot {
        match (u16::try_from(first.off), u16::try_from(first.len)) {
            (Ok(off), Ok(len)) if off < MORE => Slot {
                gram,
                lit: first.lit,
                start: first.start,
                off,
                len,
            },
            _ => Slot {
                gram,
                lit: NO_LIT,
                start: 0,
                off: 0,
                len: 1,
            },
        }
    }
}

/// A literal anchored on a gram: everything needed to check it without another look-up.
#[derive(Clone, Copy, Debug, Default)]
struct Anchor {
    lit: u32,
    /// Offset of the gram in the literal.
    off: u32,
    /// The literal's range in [`GramSet::text`].
    start: u32,
    len: u32,
}

/// How often a gram is expected in event text, in literals' worth: four hexadecimal
/// digits occur at nearly every position of a hash, GUID or address (a `Hashes` value is
/// a hundred such positions), so a literal such as `sha256=2fb6...` is better anchored on
/// `=2fb` than on `2fb6` even when a few other literals share it.
const HEX_GRAM_COST: u32 = 16;

fn text_cost(g: u32) -> u32 {
    let hex = g.to_le_bytes().iter().all(u8::is_ascii_hexdigit);
    if hex {
        HEX_GRAM_COST
    } else {
        0
    }
}

/// Bit `i` of a bitmap of 32-bit words (the width the vector scan gathers).
#[inline]
fn bit(bits: &[u32], i: usize) -> bool {
    bits[i >> 5] & (1 << (i & 31)) != 0
}

#[inline]
fn set_bit(bits: &mut [u32], i: usize) {
    bits[i >> 5] |= 1 << (i & 31);
}

#[inline]
fn gram_at(hay: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([hay[i], hay[i + 1], hay[i + 2], hay[i + 3]])
}

/// Multiplicative hash of a gram to a bitmap bit (32-bit, so eight lanes of a vector
/// compute it at once).
const HASH_K: u32 = 0x9E37_79B1;

#[inline]
fn bit_index(g: u32, bits_log: u32) -> usize {
    (g.wrapping_mul(HASH_K) >> (32 - bits_log)) as usize
}

#[inline]
fn slot_index(g: u32) -> usize {
    let x = u64::from(g).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (x ^ (x >> 29)) as usize
}

impl GramSet {
    /// Literal ids are positions in `list`.
    pub(crate) fn build(list: &[String]) -> GramSet {
        // How many literals contain each gram: the anchor is the literal's rarest gram,
        // so a position where a common literal fragment (`.exe`) occurs checks few
        // literals, and distinct literals rarely share a bucket.
        let mut df: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        let mut seen = vec![];
        for l in list {
            let b = l.as_bytes();
            seen.clear();
            for i in 0..b.len().saturating_sub(GRAM - 1) {
                seen.push(gram_at(b, i));
            }
            seen.sort_unstable();
            seen.dedup();
            for &g in &seen {
                *df.entry(g).or_insert(0) += 1;
            }
        }
        let mut text = vec![];
        let mut by_gram: Vec<(u32, Anchor)> = vec![];
        let mut short = vec![];
        let mut empty = None;
        for (id, l) in list.iter().enumerate() {
            let b = l.as_bytes();
            let id = id as u32;
            if b.is_empty() {
                empty = Some(id);
            } else if b.len() < GRAM {
                short.push((id, b));
            } else {
                let off = (0..=b.len() - GRAM)
                    .min_by_key(|&i| {
                        let g = gram_at(b, i);
                        df.get(&g).copied().unwrap_or(0) + text_cost(g)
                    })
                    .unwrap_or(0);
                let start = text.len() as u32;
                text.extend_from_slice(b);
                by_gram.push((
                    gram_at(b, off),
                    Anchor {
                        lit: id,
                        off: off as u32,
                        start,
                        len: b.len() as u32,
                    },
                ));
            }
        }
        by_gram.sort_unstable_by_key(|(g, a)| (*g, a.lit));
        let distinct = by_gram.windows(2).filter(|w| w[0].0 != w[1].0).count()
            + usize::from(!by_gram.is_empty());
        let bits_log = (distinct * BITS_PER_GRAM)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(MIN_BITS_LOG, MAX_BITS_LOG);
        let mut bits = vec![0u32; (1usize << bits_log) / 32];
        // At most two thirds of the slots are used (a third less memory than at most
        // half, for 0.1% more instructions). A look-up of an absent gram (a bitmap false
        // positive) stops at the first empty slot, so there must always be one (a table
        // sized `(d + d / 4).next_power_of_two()` is full at d = 2 and probes forever).
        let cap = (distinct + distinct / 2 + 1).next_power_of_two().max(2);
        debug_assert!(by_gram.is_empty() || cap > distinct);
        let mut slots = vec![Slot::default(); if by_gram.is_empty() { 0 } else { cap }];
        let mut anchors = Vec::with_capacity(by_gram.len());
        let mut more = vec![(0u32, 0u32); slots.len()];
        let mut i = 0;
        while i < by_gram.len() {
            let (g, first) = by_gram[i];
            let mut end = i + 1;
            while end < by_gram.len() && by_gram[end].0 == g {
                end += 1;
            }
            let h = bit_index(g, bits_log);
            set_bit(&mut bits, h);
            let mut at = slot_index(g) & (cap - 1);
            while slots[at].len != 0 {
                at = (at + 1) & (cap - 1);
            }
            let mut slot = Slot::new(g, first);
            let start = anchors.len() as u32;
            if slot.lit == NO_LIT {
                anchors.push(first);
            }
            anchors.extend(by_gram[i + 1..end].iter().map(|(_, a)| *a));
            if anchors.len() as u32 > start {
                slot.off |= MORE;
                more[at] = (start, anchors.len() as u32);
            }
            slots[at] = slot;
            i = end;
        }
        let short = (!short.is_empty()).then(|| Box::new(Short::build(&short)));
        GramSet {
            bits,
            bits_log,
            avx2: avx2_available(),
            slots,
            anchors,
            more,
            text,
            short,
            empty,
        }
    }

    /// Call `f` with the id of every literal occurring in `hay` (at least once per
    /// literal present; possibly more often).
    #[inline]
    pub(crate) fn scan(&self, hay: &[u8], f: &mut impl FnMut(usize)) {
        if let Some(e) = self.empty {
            f(e as usize);
        }
        if let Some(short) = &self.short {
            short.scan(hay, self.avx2, f);
        }
        if self.slots.is_empty() || hay.len() < GRAM {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only where the CPU has AVX2.
            unsafe { self.scan_avx2(hay, f) };
            return;
        }
        for i in 0..=hay.len() - GRAM {
            let g = gram_at(hay, i);
            let h = bit_index(g, self.bits_log);
            if bit(&self.bits, h) {
                self.verify(hay, i, g, f);
            }
        }
    }

    /// The scan of eight positions per step: their grams shuffled out of one 16-byte
    /// load, hashed with one multiply, their bitmap words fetched by one gather; only set
    /// bits leave the vector. The last (up to twelve) positions come from one window of
    /// the haystack's last sixteen bytes (or of the whole haystack, zero-padded, when it
    /// is shorter), so no position is left to a byte-by-byte loop.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn scan_avx2(&self, hay: &[u8], f: &mut impl FnMut(usize)) {
        use std::arch::x86_64::*;
        // Lane j (0..8) takes bytes j..j+4 (`head`) or 5+j..9+j (`tail`) of the window;
        // each 128-bit half shuffles its own copy.
        let head = _mm256_setr_epi8(
            0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6, 4, 5, 6, 7, 5, 6, 7, 8, 6, 7, 8, 9, 7,
            8, 9, 10,
        );
        let tail = _mm256_setr_epi8(
            5, 6, 7, 8, 6, 7, 8, 9, 7, 8, 9, 10, 8, 9, 10, 11, 9, 10, 11, 12, 10, 11, 12, 13, 11,
            12, 13, 14, 12, 13, 14, 15,
        );
        let k = _mm256_set1_epi32(HASH_K as i32);
        let shift = _mm_cvtsi32_si128((32 - self.bits_log) as i32);
        let low5 = _mm256_set1_epi32(31);
        let one = _mm256_set1_epi32(1);
        // Bit `j` set: the bitmap holds the gram the shuffle puts in lane `j`.
        let step = |at: &[u8; 16], lanes: __m256i| -> u32 {
            // SAFETY: `at` is sixteen bytes.
            let v = unsafe { _mm_loadu_si128(at.as_ptr().cast()) };
            let g = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(v), lanes);
            let idx = _mm256_srl_epi32(_mm256_mullo_epi32(g, k), shift);
            let words = _mm256_srli_epi32::<5>(idx);
            // SAFETY: `idx < 2^bits_log`, so every word index is below
            // `bits.len() = 2^(bits_log - 5)`.
            let w = unsafe { _mm256_i32gather_epi32::<4>(self.bits.as_ptr().cast(), words) };
            let hit = _mm256_and_si256(_mm256_srlv_epi32(w, _mm256_and_si256(idx, low5)), one);
            _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(hit, one))) as u32
        };
        let n = hay.len();
        let mut i = 0;
        while let Some(at) = hay[i..].first_chunk::<16>() {
            let mut m = step(at, head);
            while m != 0 {
                let j = i + m.trailing_zeros() as usize;
                self.verify(hay, j, gram_at(hay, j), f);
                m &= m - 1;
            }
            i += 8;
        }
        // Positions i..=n-4 remain, as bits (i - base)..=(n - 4 - base) of the window at
        // `base`: `head` gives bits 0..8, `tail` bits 5..13.
        let (window, base) = last_window(hay);
        let (lo, hi) = (i - base, n - GRAM - base);
        let mut m = 0;
        if lo < 8 {
            m |= step(&window, head);
        }
        if hi >= 5 {
            m |= step(&window, tail) << 5;
        }
        m &= (u32::MAX << lo) & (u32::MAX >> (31 - hi));
        while m != 0 {
            let j = base + m.trailing_zeros() as usize;
            self.verify(hay, j, gram_at(hay, j), f);
            m &= m - 1;
        }
    }

    /// The literals anchored on gram `g`, found at `hay[i..]`.
    #[inline(never)]
    fn verify(&self, hay: &[u8], i: usize, g: u32, f: &mut impl FnMut(usize)) {
        let mask = self.slots.len() - 1;
        let mut at = slot_index(g) & mask;
        loop {
            let slot = &self.slots[at];
            if slot.len == 0 {
                return;
            }
            if slot.gram == g {
                let mut check = |lit: u32, off: usize, start: u32, len: u32| {
                    let Some(from) = i.checked_sub(off) else {
                        return;
                    };
                    let text = &self.text[start as usize..(start + len) as usize];
                    if hay
                        .get(from..from + text.len())
                        .is_some_and(|h| same(h, text))
                    {
                        f(lit as usize);
                    }
                };
                if slot.lit != NO_LIT {
                    check(
                        slot.lit,
                        usize::from(slot.off & !MORE),
                        slot.start,
                        u32::from(slot.len),
                    );
                }
                if slot.off & MORE != 0 {
                    let (start, end) = self.more[at];
                    for a in &self.anchors[start as usize..end as usize] {
                        check(a.lit, a.off as usize, a.start, a.len);
                    }
                }
                return;
            }
            at = (at + 1) & mask;
        }
    }
}

/// The haystack's last sixteen bytes and their position (the whole haystack, zero-padded,
/// when it is shorter): where the vector scans take their last positions from.
#[inline]
fn last_window(hay: &[u8]) -> ([u8; 16], usize) {
    match hay.last_chunk::<16>() {
        Some(w) => (*w, hay.len() - 16),
        None => (padded(hay), 0),
    }
}

/// A haystack of up to fifteen bytes, zero-padded to sixteen: overlapping word loads
/// instead of a variable-length copy.
fn padded(hay: &[u8]) -> [u8; 16] {
    let n = hay.len();
    let mut w = [0u8; 16];
    if let (Some(a), Some(b)) = (hay.first_chunk::<8>(), hay.last_chunk::<8>()) {
        // Bytes 8..n are the last n - 8 bytes of `b`.
        let b = u64::from_le_bytes(*b)
            .checked_shr(8 * (16 - n) as u32)
            .unwrap_or(0);
        w[..8].copy_from_slice(a);
        w[8..].copy_from_slice(&b.to_le_bytes());
    } else {
        w[..8].copy_from_slice(&low_word(hay).to_le_bytes());
    }
    w
}

fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn found(set: &GramSet, hay: &str) -> Vec<usize> {
        let mut out = vec![];
        set.scan(hay.as_bytes(), &mut |k| out.push(k));
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The literals sorted and deduplicated (ids are positions), and their set.
    fn set_of(mut list: Vec<String>) -> (Vec<String>, GramSet) {
        list.sort();
        list.dedup();
        let set = GramSet::build(&list);
        (list, set)
    }

    fn naive(list: &[String], hay: &str) -> Vec<usize> {
        (0..list.len())
            .filter(|&i| hay.contains(list[i].as_str()))
            .collect()
    }

    #[test]
    fn finds_every_literal_kind() {
        let list: Vec<String> = ["", "ab", "\\rundll32.exe", ".exe", "é:", "xxxx", "xxxxx"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let set = GramSet::build(&list);
        assert_eq!(found(&set, ""), [0]);
        assert_eq!(found(&set, "c:\\windows\\rundll32.exe x"), [0, 2, 3]);
        assert_eq!(found(&set, "tab"), [0, 1]);
        assert_eq!(found(&set, "café: xxxxx"), [0, 4, 5, 6]);
        assert_eq!(found(&set, "xxx"), [0]);
    }

    /// A literal beyond a slot's 16-bit offset and length is checked from the anchor list:
    /// 70,000 bytes anchored where its run of hex digits ends (offset 39,997), beside a
    /// short literal the slot holds itself.
    #[test]
    fn literals_too_long_for_a_slot() {
        let long = format!("{}qzjk{}", "a".repeat(40_000), "b".repeat(29_996));
        let list = vec![long.clone(), "qzjkx".to_string()];
        let set = GramSet::build(&list);
        assert!(set.slots.iter().any(|s| s.len != 0 && s.lit == NO_LIT));
        assert!(set.slots.iter().any(|s| s.lit == 1));
        assert_eq!(found(&set, &format!("xx{long}xx")), [0]);
        assert_eq!(found(&set, &format!("{long}qzjkx")), [0, 1]);
        assert_eq!(found(&set, &long[1..]), Vec::<usize>::new());
        assert_eq!(found(&set, "qzjkx"), [1]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Exactly the literals a substring search finds, on a small alphabet where
        /// grams collide and literals overlap.
        #[test]
        fn agrees_with_substring_search(
            list in proptest::collection::vec("[abé.]{1,7}", 1..40),
            hay in "[abé.x]{0,120}",
        ) {
            let (list, mut set) = set_of(list);
            prop_assert_eq!(found(&set, &hay), naive(&list, &hay));
            // The scalar loop alone (what a CPU without AVX2 runs) finds the same.
            set.avx2 = false;
            prop_assert_eq!(found(&set, &hay), naive(&list, &hay));
        }

        /// The vector and scalar scans report the same positions, hit for hit, on long
        /// haystacks with many literals (a bitmap with many bits set).
        #[test]
        fn vector_scan_reports_what_scalar_does(
            list in proptest::collection::vec("[a-f]{4,9}", 1..200),
            hay in "[a-fxyz]{0,300}",
        ) {
            let (_, mut set) = set_of(list);
            let hits = |set: &GramSet| {
                let mut out = vec![];
                set.scan(hay.as_bytes(), &mut |k| out.push(k));
                out.sort_unstable();
                out
            };
            let vector = hits(&set);
            set.avx2 = false;
            prop_assert_eq!(vector, hits(&set));
        }

        /// The short-haystack window holds the haystack, then zeros.
        #[test]
        fn padded_window_is_the_haystack_then_zeros(hay in proptest::collection::vec(1u8.., 0..16)) {
            let w = padded(&hay);
            prop_assert_eq!(&w[..hay.len()], &hay[..]);
            prop_assert!(w[hay.len()..].iter().all(|&b| b == 0));
        }
    }
}
