#if canImport(Glibc)
import Glibc
#endif

/// Memory for the large tables the encoder reads at random (the piece cache,
/// the vocabulary's lookup and pair tables), in 2 MiB pages where the kernel
/// offers them (`madvise(MADV_HUGEPAGE)`; Linux's transparent huge pages in
/// `madvise` mode, the common default). With 4 KiB pages, a random read in a
/// 16 MiB table misses the TLB as well as the cache, and in a virtual machine
/// the page walk costs as much again as the read.
///
/// Tables of 2 MiB or more are mapped straight from the kernel, so they start
/// zeroed and a page costs nothing until first touched: a short run touches
/// a few pages of its piece cache instead of clearing all of it (measured
/// alone, within noise: `tok encode` of a 6-byte file, o200k, 43.8 -> 43.3 ms;
/// the copy of `tokenizer.bin` was the larger cost, see docs/performance.md).
package enum HugePages {
    package static let size = 2 << 20

    /// `bytes` bytes, zeroed, 2 MiB-aligned and advised for huge pages when at
    /// least 2 MiB, else 64-byte-aligned. Release with ``release(_:bytes:)``.
    package static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= size else {
            var memory: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&memory, 64, max(bytes, 8)) == 0, let memory else {
                fatalError("out of memory allocating \(bytes) bytes")
            }
            memset(memory, 0, max(bytes, 8))
            return memory
        }
        let rounded = (bytes + size - 1) / size * size
        // One huge page more than asked, to cut an aligned span out of it.
        guard let mapped = mmap(nil, rounded + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != MAP_FAILED else { fatalError("out of memory mapping \(rounded) bytes") }
        let start = (Int(bitPattern: mapped) + size - 1) / size * size
        let head = start - Int(bitPattern: mapped)
        if head > 0 { munmap(mapped, head) }
        if size - head > 0 { munmap(UnsafeMutableRawPointer(bitPattern: start + rounded), size - head) }
        let memory = UnsafeMutableRawPointer(bitPattern: start)!
        _ = madvise(memory, rounded, MADV_HUGEPAGE)
        return memory
    }

    /// Advises the whole 2 MiB pages inside `bytes` bytes at `memory` (memory
    /// someone else allocated, not yet touched) for huge pages: a large
    /// output array then costs a page fault per 2 MiB as it fills, not one
    /// per 4 KiB (the faults took a tenth of a 100 MB encode through Python).
    package static func advise(_ memory: UnsafeMutableRawPointer, bytes: Int) {
        let start = (Int(bitPattern: memory) + size - 1) / size * size
        let end = (Int(bitPattern: memory) + bytes) / size * size
        guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(aligned, end - start, MADV_HUGEPAGE)
    }

    /// Maps and clears the 4 KiB pages that `bytes` bytes at `memory` touch
    /// (memory someone else allocated, not yet written) in one call, instead
    /// of a fault per page as they are first written: ahead of a writer that
    /// fills a large fresh array, the kernel's per-fault work was a tenth of
    /// a 100 MB encode through Python. Pages already mapped are left as they
    /// are; does nothing before Linux 5.14 (no `MADV_POPULATE_WRITE`).
    package static func populate(_ memory: UnsafeMutableRawPointer, bytes: Int) {
        let page = 4096
        let start = Int(bitPattern: memory) / page * page
        let end = (Int(bitPattern: memory) + bytes + page - 1) / page * page
        guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(aligned, end - start, populateWrite)
    }

    /// `MADV_POPULATE_WRITE` (Linux 5.14) by its number: older C headers do not name it.
    static let populateWrite: Int32 = 23

    /// Gives back memory from ``allocate(bytes:)`` of the same `bytes`.
    package static func release(_ memory: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= size { munmap(memory, (bytes + size - 1) / size * size) } else { free(memory) }
    }
}
