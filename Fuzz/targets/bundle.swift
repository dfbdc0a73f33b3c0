// requires: PolicyBundle.swift
// bundle.json decoding (issue 5): a PolicyBundle or a BundleFormatError, never a trap.
@testable import EdgeCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBundle(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  _ = try? PolicyBundle.decode(bytes)
  return 0
}
