import CEdgeSupport

/// The process's arguments. Embedded Swift has no CommandLine: the C support target captures
/// argv from glibc's constructor call.
public func commandLineArguments() -> [String] {
  guard let argv = edge_argv() else { return [] }
  var out: [String] = []
  for i in 0..<Int(edge_argc()) {
    if let a = argv[i] { out.append(String(cString: a)) }
  }
  return out
}
