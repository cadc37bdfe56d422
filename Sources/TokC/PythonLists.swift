import Glibc

/// Python lists of ids, made here rather than id by id in Python: the
/// slowest part of handing 25 million ids to Python is making an int object
/// for each. The Python package keeps one list of the ints `0 ..< n_vocab`
/// per vocabulary and passes it in; each list made here holds references to
/// those ints (ints are immutable, so no caller can tell), which costs a
/// reference count where a new int costs an allocation.
///
/// These calls use Python's C API, found in the process that loaded this
/// library (the interpreter exports it), so the package must call them with
/// the GIL held: through `ctypes.PyDLL`, never `ctypes.CDLL`.
private struct PythonAPI {
    typealias NewList = @convention(c) (Int) -> UnsafeMutableRawPointer?
    typealias GetItem = @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer?
    typealias SetItem = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Int32
    typealias Reference = @convention(c) (UnsafeMutableRawPointer?) -> Void
    let newList: NewList, getItem: GetItem, setItem: SetItem, incRef: Reference, decRef: Reference

    /// The functions of the stable ABI these calls need; nil outside an interpreter.
    static let shared: PythonAPI? = {
        func symbol<T>(_ name: String, _ type: T.Type) -> T? {
            dlsym(nil, name).map { unsafeBitCast($0, to: T.self) }
        }
        guard let newList = symbol("PyList_New", NewList.self), let getItem = symbol("PyList_GetItem", GetItem.self),
              let setItem = symbol("PyList_SetItem", SetItem.self), let incRef = symbol("Py_IncRef", Reference.self),
              let decRef = symbol("Py_DecRef", Reference.self)
        else { return nil }
        return PythonAPI(newList: newList, getItem: getItem, setItem: setItem, incRef: incRef, decRef: decRef)
    }()

    /// A new list of `ids`, each item the int of `ints` at that id; nil with
    /// Python's error set (no memory, an id past `ints`).
    func list(_ ids: UnsafeBufferPointer<UInt32>, ints: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        guard let list = newList(ids.count) else { return nil }
        for (k, id) in ids.enumerated() {
            guard let item = getItem(ints, Int(id)) else {
                decRef(list)
                return nil
            }
            incRef(item)
            _ = setItem(list, k, item)  // k < ids.count, the list's length: it cannot fail
        }
        return list
    }
}

/// A new Python list of the result's ids, as ints from `ints`; NULL with a
/// Python error set. Call with the GIL held (ctypes.PyDLL).
@_cdecl("tok_result_list")
public func tok_result_list(_ result: UnsafeRawPointer, _ ints: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let api = PythonAPI.shared else { return nil }
    let r = object(result, as: CallResult.self)
    return r.ids.withUnsafeBufferPointer { api.list($0, ints: ints) }
}

/// A new Python list of lists, one per document of the result's offsets,
/// as `tok_result_list` makes them.
@_cdecl("tok_result_lists")
public func tok_result_lists(_ result: UnsafeRawPointer, _ ints: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let api = PythonAPI.shared else { return nil }
    let r = object(result, as: CallResult.self)
    let documents = max(r.offsets.count - 1, 0)
    guard let outer = api.newList(documents) else { return nil }
    return r.ids.withUnsafeBufferPointer { ids in
        for k in 0 ..< documents {
            // offsets are ascending and end at ids.count (EncodedBatch), so the slice is inside ids.
            guard let inner = api.list(UnsafeBufferPointer(rebasing: ids[r.offsets[k] ..< r.offsets[k + 1]]), ints: ints)
            else {
                api.decRef(outer)
                return nil
            }
            _ = api.setItem(outer, k, inner)  // steals the new list's reference
        }
        return outer
    }
}
