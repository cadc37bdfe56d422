#if canImport(Glibc)
import Glibc
#endif

/// Memory for the large tables the encoder reads at random (the piece cache,
/// the vocabulary's lookup and pair tables), in 2 MiB pages where the kernel
/// offers them (`madvise(MADV_HUGEPAGE)`; Linux's transparent huge pages in
/// `madvise` mode, the common default). With 4 KiB pages, a random read in a
/// 16 MiB table misses the TLB as well as the cache, and in a virtual machine
/// the page walk costs as much again as the read.
enum HugePages {
    static let size = 2 << 20

    /// `bytes` bytes, 2 MiB-aligned and advised for huge pages when at least
    /// 2 MiB, else an ordinary allocation. Release with ``release(_:)``.
    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        var memory: UnsafeMutableRawPointer? = nil
        let alignment = bytes >= size ? size : 64
        let rounded = (max(bytes, 8) + alignment - 1) / alignment * alignment
        guard posix_memalign(&memory, alignment, rounded) == 0, let memory else {
            fatalError("out of memory allocating \(rounded) bytes")
        }
        if alignment == size { _ = madvise(memory, rounded, MADV_HUGEPAGE) }
        return memory
    }

    static func release(_ memory: UnsafeMutableRawPointer) { free(memory) }
}
