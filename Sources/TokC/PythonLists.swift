import Glibc

/// Python lists of ids, made here rather than id by id in Python (and a
/// list's texts read here, ``tok_text_pointers``): the
/// slowest part of handing 25 million ids to Python is making an int object
/// for each. The Python package keeps one list of the ints `0 ..< n_vocab`
/// per vocabulary and passes it in; each list made here holds references to
/// those ints (ints are immutable, so no caller can tell), which costs a
/// reference count where a new int costs an allocation.
///
/// These calls use Python's C API, found in the process that loaded this
/// library (the interpreter exports it), so the package must call them with
/// the GIL held: through `ctypes.PyDLL`, never `ctypes.CDLL`.
private struct PythonAPI: @unchecked Sendable {  // used only with the GIL held
    typealias NewList = @convention(c) (Int) -> UnsafeMutableRawPointer?
    typealias GetItem = @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer?
    typealias SetItem = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Int32
    typealias Reference = @convention(c) (UnsafeMutableRawPointer?) -> Void
    typealias UTF8 = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> UnsafeRawPointer?
    typealias ClearError = @convention(c) () -> Void
    let newList: NewList, getItem: GetItem, setItem: SetItem, incRef: Reference, decRef: Reference
    let utf8: UTF8, clearError: ClearError

    /// The functions of the stable ABI these calls need; nil outside an interpreter.
    nonisolated(unsafe) static var shared: PythonAPI? = {
        func symbol<T>(_ name: String, _ type: T.Type) -> T? {
            dlsym(nil, name).map { unsafeBitCast($0, to: T.self) }
        }
        guard let newList = symbol("PyList_New", NewList.self), let getItem = symbol("PyList_GetItem", GetItem.self),
              let setItem = symbol("PyList_SetItem", SetItem.self), let incRef = symbol("Py_IncRef", Reference.self),
              let decRef = symbol("Py_DecRef", Reference.self),
              let utf8 = symbol("PyUnicode_AsUTF8AndSize", UTF8.self), let clearError = symbol("PyErr_Clear", ClearError.self)
        else { return nil }
        return PythonAPI(newList: newList, getItem: getItem, setItem: setItem, incRef: incRef, decRef: decRef,
                         utf8: utf8, clearError: clearError)
    }()

    /// Whether this interpreter lays out lists and reference counts as
    /// CPython's default builds do (a list's item array at byte 24, the count
    /// as an object's first word, an object made here not immortal), found
    /// by trying it once. Where it does, long lists are filled directly and
    /// each int's count raised once by its number of uses; elsewhere (a
    /// free-threaded build, another interpreter), through the calls alone.
    lazy var directLayout: Bool = {
        guard let probe = newList(1), let item = newList(0) else { return false }
        defer {
            decRef(probe)  // drops the probe's reference to the item
            decRef(item)
        }
        incRef(item)
        guard setItem(probe, 0, item) == 0 else { return false }
        let slots = probe.load(fromByteOffset: PythonAPI.listItems, as: UnsafeMutablePointer<UnsafeMutableRawPointer?>?.self)
        guard slots?[0] == item else { return false }
        let before = item.load(as: Int.self)
        incRef(item)
        let after = item.load(as: Int.self)
        decRef(item)
        return after == before + 1 && item.load(as: Int.self) == before
    }()

    static let listItems = 24, listSize = 16

    /// Lists of at least this many ids are filled directly (``directLayout``):
    /// below it, counting uses costs more than it saves.
    static let directMinimum = 4096

    /// New lists of the runs of `ids` between consecutive `bounds`, each item
    /// the int of `ints` at that id; nil with Python's error set (no memory,
    /// an id past `ints`).
    mutating func lists(_ ids: UnsafeBufferPointer<UInt32>, bounds: some Collection<Int>, ints: UnsafeMutableRawPointer?)
        -> [UnsafeMutableRawPointer]?
    {
        var made: [UnsafeMutableRawPointer] = []
        func fail() -> [UnsafeMutableRawPointer]? {
            for list in made { decRef(list) }
            return nil
        }
        let runs = zip(bounds, bounds.dropFirst())
        if ids.count >= PythonAPI.directMinimum, let ints, directLayout {
            let known = ints.load(fromByteOffset: PythonAPI.listSize, as: Int.self)
            guard let table = ints.load(fromByteOffset: PythonAPI.listItems, as: UnsafeMutablePointer<UnsafeMutableRawPointer>?.self),
                  Int(ids.max() ?? 0) < known
            else {
                _ = getItem(ints, Int(ids.max() ?? 0))  // sets the IndexError of the id past the ints
                return nil
            }
            var uses = [Int](repeating: 0, count: known)
            for (start, end) in runs {
                guard let list = newList(end - start),
                      let slots = list.load(fromByteOffset: PythonAPI.listItems, as: UnsafeMutablePointer<UnsafeMutableRawPointer>?.self)
                        ?? (end == start ? UnsafeMutablePointer(bitPattern: 8) : nil)
                else { return fail() }
                made.append(list)
                for k in start ..< end {
                    // Every id is below `known`, the table's length (checked above); k - start < the list's length.
                    let id = Int(ids[k])
                    slots[k - start] = table[id]
                    uses[id] += 1
                }
            }
            for (id, n) in uses.enumerated() where n > 0 {
                let item = table[id]
                let count = item.load(as: Int.self)
                if count > 0 && count < 1 << 30 {
                    item.storeBytes(of: count + n, as: Int.self)
                } else {
                    // An immortal int (Python 3.12's small ints), or one near it: the interpreter's own call.
                    for _ in 0 ..< n { incRef(item) }
                }
            }
            return made
        }
        for (start, end) in runs {
            guard let list = newList(end - start) else { return fail() }
            made.append(list)
            for k in start ..< end {
                guard let item = getItem(ints, Int(ids[k])) else { return fail() }
                incRef(item)
                _ = setItem(list, k - start, item)  // k - start < the list's length: it cannot fail
            }
        }
        return made
    }
}

/// A new Python list of the result's ids, as ints from `ints`; NULL with a
/// Python error set. Call with the GIL held (ctypes.PyDLL).
@_cdecl("tok_result_list")
public func tok_result_list(_ result: UnsafeRawPointer, _ ints: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard PythonAPI.shared != nil else { return nil }
    let r = object(result, as: CallResult.self)
    return r.ids.withUnsafeBufferPointer { PythonAPI.shared!.lists($0, bounds: [0, $0.count], ints: ints)?.first }
}

/// A new Python list of lists, one per document of the result's offsets,
/// as `tok_result_list` makes them.
@_cdecl("tok_result_lists")
public func tok_result_lists(_ result: UnsafeRawPointer, _ ints: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard PythonAPI.shared != nil else { return nil }
    let r = object(result, as: CallResult.self)
    let documents = max(r.offsets.count - 1, 0)
    guard let outer = PythonAPI.shared!.newList(documents) else { return nil }
    // offsets are ascending from 0 to ids.count (EncodedBatch): every run is inside ids.
    guard let inner = r.ids.withUnsafeBufferPointer({ PythonAPI.shared!.lists($0, bounds: r.offsets, ints: ints) }) else {
        PythonAPI.shared!.decRef(outer)
        return nil
    }
    for (k, list) in inner.enumerated() { _ = PythonAPI.shared!.setItem(outer, k, list) }  // steals each new list's reference
    return outer
}

/// Writes the address and length of the UTF-8 of each of the first `count`
/// items of `list` (a Python list) that is a `str` with UTF-8, and returns
/// how many items it left alone (not a `str`, or a lone surrogate: their
/// address stays NULL, for the caller to fill), with no Python error left
/// set. CPython keeps a `str`'s UTF-8 with it (an ASCII one is its own), so
/// each address is valid while the list holds its item. A batch's texts
/// taken one call each from Python cost a microsecond a document, a tenth
/// of a two-thread batch of 10,000 documents. Call with the GIL held
/// (ctypes.PyDLL).
@_cdecl("tok_text_pointers")
public func tok_text_pointers(
    _ list: UnsafeMutableRawPointer?, _ count: Int, _ addresses: UnsafeMutablePointer<UnsafeRawPointer?>,
    _ lengths: UnsafeMutablePointer<Int>
) -> Int {
    guard let api = PythonAPI.shared else { return count }
    var left = 0
    for k in 0 ..< count {  // the caller's arrays hold count items
        var length = 0
        guard let item = api.getItem(list, k), let bytes = api.utf8(item, &length) else {
            api.clearError()
            addresses[k] = nil
            left += 1
            continue
        }
        addresses[k] = bytes
        lengths[k] = length
    }
    return left
}
