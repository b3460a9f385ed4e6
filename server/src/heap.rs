//! glibc's heap, tuned for a service whose requests allocate and free large buffers.
//!
//! A batch request allocates and frees buffers of several MiB. glibc gives freed memory at
//! the top of its heap back to the kernel once it passes the trim threshold (by default
//! twice the largest buffer freed so far), so each batch of 1,024 vectors paid page faults
//! on ~20 MiB of fresh pages (BENCHMARKS.md). [`keep_freed`] keeps up to 128 MiB of freed
//! heap for the next request instead. Each thread's arena keeps its own, though, so after
//! a burst of large batches on several threads the process held its peak: when the last
//! large request finishes, [`release_freed`] returns what is free beyond that 128 MiB.

/// Freed heap kept for the next large batch.
pub const KEEP: usize = 128 << 20;

/// Sets the heap's thresholds; call before other threads start.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed() {
    // Setting either parameter turns off glibc's own adjustment of both, so both are set:
    // buffers up to 32 MiB (glibc's ceiling for this one) come from the heap, not mmap.
    // SAFETY: mallopt only changes allocator parameters, and runs before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP as libc::c_int);
    }
}

/// Returns free heap to the kernel, in every arena, keeping [`KEEP`] at the top.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_freed() {
    // SAFETY: malloc_trim only releases memory glibc holds as free.
    unsafe {
        libc::malloc_trim(KEEP);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed() {}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() {}
