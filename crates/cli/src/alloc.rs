//! Allocator tuning for the MPC workload.
//!
//! Protocols allocate and free many vectors of megabytes each. glibc serves such large
//! blocks with fresh `mmap`s and unmaps them on free, so every use pays page faults and
//! zeroing by the kernel; measured on the engine benchmark, that was nearly half the time of
//! `exp` on a million elements. Keeping large blocks on the heap lets them be reused.

/// Tells glibc's allocator to keep large blocks on the heap and not to return freed memory
/// to the system eagerly. Call once, at the start of `main`, before any other thread exists.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; both options are documented
    // glibc parameters taking an int, the values are in range, and it is called before any
    // other thread is started, so no allocation can run concurrently with the change.
    unsafe {
        // Never serve a block by mmap (glibc caps the mmap threshold at 32 MiB, below the
        // size of many vectors here), and never trim the heap back to the system.
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        // One arena for all threads: per-thread arenas are mmap'd heaps that glibc shrinks
        // (and so faults in again) on its own; the network threads free what the protocol
        // thread allocated and the other way round anyway.
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
