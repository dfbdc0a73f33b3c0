// requires: DNSMessage.swift
// The resolver's DNS response reader (issue 5) on arbitrary bytes: it must return or refuse,
// never trap or loop, and never give more addresses than its cap. The first two bytes of the
// input double as the expected ID, so the fuzzer reaches past the ID check; the name asked for
// is fixed, so a mutated question is exercised as a mismatch.
@testable import EdgeCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDNSResponse(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size >= 2 else { return 0 }
  let packet = Array(UnsafeBufferPointer(start: data, count: size))
  let id = UInt16(packet[0]) << 8 | UInt16(packet[1])
  guard let a = try? DNSMessage.parseResponse(packet, id: id, name: "origin.example") else { return 0 }
  if a.addresses.count > DNSMessage.maxAddresses { fatalError("\(a.addresses.count) addresses past the cap") }
  for s in a.addresses where !isIPv4Literal(s) { fatalError("not a dotted quad: \(s)") }
  return 0
}
