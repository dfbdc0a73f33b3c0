import CEdge

/// An errno value. Named statics exist only for the codes edgeagent branches on; `description`
/// is strerror's text. libuv's negative statuses become an `Errno` once, in EdgeLoop.
public struct Errno: RawRepresentable, Hashable, Error, Sendable, CustomStringConvertible {
  public var rawValue: CInt
  public init(rawValue: CInt) { self.rawValue = rawValue }

  /// The calling thread's errno now.
  public static var current: Errno { Errno(rawValue: edge_errno()) }

  public static let noEntry = Errno(rawValue: ENOENT)            // C: ENOENT
  public static let exists = Errno(rawValue: EEXIST)              // C: EEXIST
  public static let interrupted = Errno(rawValue: EINTR)          // C: EINTR
  public static let wouldBlock = Errno(rawValue: EAGAIN)          // C: EAGAIN
  public static let notDirectory = Errno(rawValue: ENOTDIR)       // C: ENOTDIR
  public static let isDirectory = Errno(rawValue: EISDIR)         // C: EISDIR
  public static let notEmpty = Errno(rawValue: ENOTEMPTY)         // C: ENOTEMPTY
  public static let tooManyLinks = Errno(rawValue: ELOOP)         // C: ELOOP (O_NOFOLLOW hit a symlink)
  public static let noSpace = Errno(rawValue: ENOSPC)             // C: ENOSPC
  public static let tooLarge = Errno(rawValue: EFBIG)             // C: EFBIG (past readWholeFile's limit)
  public static let noSys = Errno(rawValue: ENOSYS)               // C: ENOSYS
  public static let crossDevice = Errno(rawValue: EXDEV)          // C: EXDEV
  public static let badFile = Errno(rawValue: EBADF)              // C: EBADF
  public static let fault = Errno(rawValue: EFAULT)               // C: EFAULT
  public static let noChild = Errno(rawValue: ECHILD)             // C: ECHILD
  public static let noProcess = Errno(rawValue: ESRCH)            // C: ESRCH
  public static let access = Errno(rawValue: EACCES)              // C: EACCES
  public static let permission = Errno(rawValue: EPERM)           // C: EPERM
  public static let invalid = Errno(rawValue: EINVAL)             // C: EINVAL

  public var description: String { String(cString: strerror(rawValue)) }
}
