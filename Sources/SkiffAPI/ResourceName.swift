/// DNS-1123 labels: what OpenFaaS and Kubernetes accept as function, secret and namespace names. Also what
/// keeps a name safe as a file name under the state directory.
public enum ResourceName {
    /// Checked on every invocation (the function's name in the URL), so it reads the UTF-8 view without copying.
    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
        func alnum(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
        }
        return alnum(first) && alnum(last) && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }

    public static func validate(_ name: String, what: String) throws(FunctionRuntimeError) {
        guard isValid(name) else {
            throw .invalid(
                "\(what) '\(name)' must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
                    + "starting and ending with a letter or digit")
        }
    }
}
