#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization

/// The paths a run is writing and must not leave behind: temporary files beside
/// their outputs, staging folders, work folders of count files and spilled runs.
///
/// Every such path is registered while it exists. SIGINT, SIGTERM and SIGHUP
/// (once ``removeOnSignals()`` is called) remove them all and end the process
/// by the same signal. A run killed outright (SIGKILL, power loss) cannot clean
/// up, so every name carries the writer's process id, and the next run removes
/// the names whose process no longer lives (``removeStale(besides:)``,
/// ``removeStale(in:prefixes:)``).
package enum TemporaryPaths {
    private static let registered = Mutex<Set<String>>([])
    private static let counter = Atomic<Int>(0)
    private static let stopping = Atomic<Bool>(false)

    /// True once a stopping signal is being handled: the process is about to
    /// end by it, and must not end otherwise first (``waitIfStopping()``).
    package static var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Blocks forever while a stopping signal is being handled, so that the
    /// process ends by the signal and not by an exit status.
    package static func waitIfStopping() {
        while isStopping { pause() }
    }

    /// A new temporary name beside `path`: `PATH.tmp-PID-N`.
    package static func name(besides path: String) -> String {
        "\(path).tmp-\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)"
    }

    /// A new work folder name: `DIRECTORY/tok-KIND-PID-N`.
    package static func workFolder(_ kind: String, in directory: String = temporaryDirectory) -> String {
        "\(directory)/tok-\(kind)-\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)"
    }

    /// The prefixes of the work folders tok makes; a run removes those whose process is gone.
    package static let workFolderPrefixes = ["tok-count-", "tok-build-", "tok-train-", "tok-extend-"]

    /// Runs `body` with a new, empty work folder `DIRECTORY/tok-KIND-PID-N`,
    /// removed when `body` returns or throws, or on a stopping signal. First
    /// removes the work folders that runs killed outright left behind.
    package static func withWorkFolder<T>(_ kind: String, in directory: String = temporaryDirectory,
                                         _ body: (String) throws -> T) throws -> T {
        removeStale(in: directory, prefixes: workFolderPrefixes)
        let work = workFolder(kind, in: directory)
        register(work)
        defer {
            try? FileManager.default.removeItem(atPath: work)
            unregister(work)
        }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        return try body(work)
    }

    /// `$TMPDIR`, or `/tmp`.
    package static var temporaryDirectory: String {
        let dir = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return dir.hasSuffix("/") && dir.count > 1 ? String(dir.dropLast()) : dir
    }

    package static func register(_ path: String) { registered.withLock { _ = $0.insert(path) } }
    package static func unregister(_ path: String) { registered.withLock { _ = $0.remove(path) } }

    /// Folders a run created above its outputs (``createMissingFolders(above:)``),
    /// in the order made: a stopping signal removes those still empty, and never their contents.
    private static let createdFolders = Mutex<[String]>([])
    package static func registerCreatedFolders(_ folders: [String]) { createdFolders.withLock { $0 += folders } }
    package static func unregisterCreatedFolders(_ folders: [String]) {
        createdFolders.withLock { list in list.removeAll { folders.contains($0) } }
    }

    /// Removes every registered path (files and folders), then the created folders left empty.
    package static func removeAll() {
        let paths = registered.withLock { set in defer { set.removeAll() }; return set }
        for path in paths { try? FileManager.default.removeItem(atPath: path) }
        let folders = createdFolders.withLock { list in defer { list.removeAll() }; return list }
        for folder in folders.reversed() { rmdir(folder) }
    }

    nonisolated(unsafe) private static var signalSources: [DispatchSourceSignal] = []

    /// From now on SIGINT, SIGTERM and SIGHUP remove the registered paths, then
    /// end the process by the same signal. Call once, at start-up.
    package static func removeOnSignals() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                stopping.store(true, ordering: .releasing)
                removeAll()
                signal(sig, SIG_DFL)
                // To the process, not this thread: dispatch's threads block signals,
                // and the main thread (waiting in `waitIfStopping`) takes it.
                kill(getpid(), sig)
            }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Removes `PATH.tmp-PID...` entries beside `path` whose process is gone.
    @discardableResult
    package static func removeStale(besides path: String) -> [String] {
        let url = URL(fileURLWithPath: path)
        return removeStale(in: url.deletingLastPathComponent().path, prefixes: [url.lastPathComponent + ".tmp-"])
    }

    /// Removes entries of `directory` named `PREFIX` + pid + anything, for one
    /// of `prefixes`, whose process no longer lives. Returns what it removed.
    ///
    /// A folder is listed once per process: every output file's open comes
    /// here, and a dataset writes its shards into one folder, so listing it
    /// each time cost O(shards) a shard (the kernel's `getdents`: about 1 ms
    /// for 2,300 entries). The names that may be temporaries (holding `.tmp-`,
    /// or starting with `tok-`) are kept, and each later call looks only at
    /// those; a temporary left by a process that dies after the listing waits
    /// for the next run. Names are read with `readdir` and compared as bytes.
    @discardableResult
    package static func removeStale(in directory: String, prefixes: [String]) -> [String] {
        guard let names = candidates(in: directory) else { return [] }
        let me = getpid()
        var stale: [String] = []
        for name in names {
            guard let prefix = prefixes.first(where: { name.utf8.starts(with: $0.utf8) }) else { continue }
            var pid: Int32 = 0
            for byte in name.utf8.dropFirst(prefix.utf8.count) {
                guard byte >= 0x30 && byte <= 0x39 else { break }
                // A number past Int32 names no process: such a name is kept.
                guard pid <= (Int32.max - 9) / 10 else { pid = 0; break }
                pid = pid * 10 + Int32(byte - 0x30)
            }
            guard pid > 0, pid != me, kill(pid, 0) != 0, errno == ESRCH else { continue }
            stale.append(name)
        }
        let removed = stale.filter { (try? FileManager.default.removeItem(atPath: directory + "/" + $0)) != nil }
        if !removed.isEmpty {
            listed.withLock { $0[directory]?.removeAll { removed.contains($0) } }
        }
        return removed.map { directory + "/" + $0 }
    }

    /// The names of `directory` that may be temporaries, listed on first use.
    private static func candidates(in directory: String) -> [String]? {
        if let names = listed.withLock({ $0[directory] }) { return names }
        guard let folder = opendir(directory) else { return nil }
        var names: [String] = []
        while let entry = readdir(folder) {
            // `d_name` is NUL-terminated; C's string search, since the generic
            // `firstRange(of:)` on its bytes took 2 µs a name (5 ms for /tmp
            // of 2,700 entries, a third of a short run).
            withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) { name in
                    guard strncmp(name, "tok-", 4) == 0 || strstr(name, ".tmp-") != nil else { return }
                    names.append(String(cString: name))
                }
            }
        }
        closedir(folder)
        listed.withLock { $0[directory] = names }
        return names
    }

    /// The folders listed so far, with their names that may be temporaries.
    private static let listed = Mutex<[String: [String]]>([:])
}

/// A fresh path in the temporary directory, unique within this process, for tests and tools.
package func uniqueTemporaryPath(_ name: String) -> String {
    let unique = TemporaryPaths.name(besides: "")  // ".tmp-PID-N": unique in this process
    return TemporaryPaths.temporaryDirectory + "/tok-test" + unique.dropFirst(4) + "-" + name
}
