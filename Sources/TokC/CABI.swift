import Glibc
import TokEncoding
import TokRuntime

// The C ABI of tok's libraries, for the Python package (python/tok) and any
// other language with a C foreign-function interface. Every function that can
// fail returns a ``CallStatus`` and, on failure, sets `*error` to the
// library's one-line message (malloc'ed; freed with `tok_free_string`).
// Objects cross the boundary as opaque pointers: each `tok_*` that makes one
// has its `*_release`. Nothing here holds a lock across a call into Python.

/// What a call returns: 0 when it is done; else what kind of failure, which
/// the Python package raises as `tok.InputError` (a ValueError) or
/// `tok.FileError` (an OSError).
enum CallStatus: Int32 {
    case done = 0
    /// The input is wrong: a malformed file, an unknown name, an id out of range.
    case input = 1
    /// A file could not be read or written.
    case file = 2
    /// The text holds a surrogate code point (`tok_encode_code_points`): the
    /// caller gives its UTF-8 instead. No message.
    case surrogates = 3
}

public typealias ErrorOut = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?

/// Runs `body`, turning what it throws into a status and `*error`.
func call(_ error: ErrorOut, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return CallStatus.done.rawValue
    } catch let failure as FileError {
        error?.pointee = strdup(failure.description)
        return CallStatus.file.rawValue
    } catch let failure as any TokError {
        error?.pointee = strdup(failure.description)
        return CallStatus.input.rawValue
    } catch let failure {
        error?.pointee = strdup(String(describing: failure))
        return CallStatus.input.rawValue
    }
}

/// A failure of the call itself (not of a library), as one line.
struct CallError: TokError {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `count` bytes at `start` (no bytes when `start` is nil).
func bytes(_ start: UnsafePointer<UInt8>?, _ count: Int) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: count > 0 ? start : nil, count: max(count, 0))
}

func retained<T: AnyObject>(_ object: T) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(Unmanaged.passRetained(object).toOpaque())
}

func object<T: AnyObject>(_ pointer: UnsafeRawPointer, as type: T.Type) -> T {
    Unmanaged<T>.fromOpaque(pointer).takeUnretainedValue()
}

@_cdecl("tok_free_string")
public func tok_free_string(_ string: UnsafeMutablePointer<CChar>?) {
    free(string)
}
