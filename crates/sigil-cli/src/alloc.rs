//! The global allocator: mimalloc, asked for alignment only when it matters.
//!
//! The `mimalloc` crate hands every request to `mi_malloc_aligned`, even for the 1-, 2-,
//! 4- and 8-byte alignments of nearly every Rust allocation. mimalloc v3 serves that
//! from the current page only while the page's free list is non-empty and aligned;
//! otherwise it falls back to over-allocating `size + align - 1` from a larger size
//! class, without the page maintenance (collecting freed blocks, fresh pages) that its
//! plain `mi_malloc` slow path does. Blocks freed in a size class whose page has run dry
//! are then never reused: a corpus check kept touching fresh memory (page faults in
//! `mi_page_free_list_extend`, a third of the run's faults) and allocation took ~15% of
//! its CPU. Every mimalloc block is aligned to at least 8 bytes (block sizes are
//! multiples of the word size, pages are aligned), so requests up to that alignment go
//! to the plain entry points, larger ones to the aligned ones (as `std`'s `System` does).

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The largest alignment every mimalloc block has.
const BLOCK_ALIGN: usize = 8;

pub struct Mimalloc;

// SAFETY: each method forwards to the mimalloc function of the same contract (memory of
// at least `size` bytes, or null on failure; `mi_free` takes any mimalloc pointer); plain
// entry points are used only for alignments every block already has.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi::mi_realloc(ptr.cast(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every alignment and a spread of sizes come back aligned, usable and reallocated
    /// with their contents.
    #[test]
    fn alignments_hold() {
        let a = Mimalloc;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1usize, 3, 8, 24, 40, 100, 1000, 5000, 70_000] {
                let Ok(layout) = Layout::from_size_align(size.max(align), align) else {
                    continue;
                };
                // SAFETY: non-zero size; the pointer is checked, written within bounds and
                // freed with the layout it was made with.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    p.write_bytes(0xa5, layout.size());
                    let q = a.realloc(p, layout, layout.size() * 3);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0);
                    assert_eq!(*q.add(layout.size() - 1), 0xa5);
                    a.dealloc(
                        q,
                        Layout::from_size_align(layout.size() * 3, align).unwrap(),
                    );
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!(std::slice::from_raw_parts(z, layout.size())
                        .iter()
                        .all(|b| *b == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
