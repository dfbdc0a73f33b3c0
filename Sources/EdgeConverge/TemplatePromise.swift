import EdgeCore
import EdgeHost


/// `template`: a file whose content is its Mustache text rendered with the policy's vars and
/// the host's facts when the policy was accepted (Templates.swift), so that its checks are a
/// file's: a kept template costs one lstat and a stat cache lookup, as a kept file does.
enum TemplatePromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    // Rendered before any check (apply, the daemon's install): unrendered means a caller
    // skipped renderTemplates, and its text must not be written as the file.
    guard p.content != nil else { return .outcome(Outcome(.failed, "template not rendered (internal error)")) }
    return .outcome(try c.checkFile(p, pp, cachedStat: cachedStat, blob: blob))
  }

  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    FilePromise.keptInPlace(v, &f, root, cachedStat: cachedStat, previous: previous)
  }
}
