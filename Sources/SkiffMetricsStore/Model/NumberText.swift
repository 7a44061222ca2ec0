import Foundation

/// Numbers written as Prometheus 2.42 writes them (Go's `strconv`), in labels and in the HTTP API's JSON.
enum NumberText {
    /// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that read back, never an exponent
    /// (`count_values`' label, scalars in the API).
    static func plain(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        // Below 2^53 an integer's shortest digits are its exact digits; above, Go writes the shortest digits and
        // zeros (2^60 is 1152921504606847000), as the exponent form below expands to.
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 { return String(Int64(value)) }
        let shortest = "\(value)"
        guard shortest.utf8.contains(UInt8(ascii: "e")) else { return shortest }
        // Swift writes exponents for very small and large values; Go's 'f' never does.
        return Decimal(string: shortest).map { "\($0)" } ?? shortest
    }

    /// A sample's value in the API's vectors and matrices: 'e' form (`1e-07`, `1e+21`) below 1e-6 and from 1e21,
    /// plain otherwise.
    static func sample(_ value: Double) -> String {
        let magnitude = abs(value)
        guard value.isFinite, magnitude != 0, magnitude < 1e-6 || magnitude >= 1e21 else { return plain(value) }
        // Swift's shortest form is Go's 'e' with -1 precision here: a mantissa, `e`, a sign and two digits or more.
        let shortest = "\(value)"
        return shortest.utf8.contains(UInt8(ascii: "e")) ? shortest : plain(value)
    }

    /// A sample's time in the API: whole seconds, then `.` and three digits when there are milliseconds.
    static func timestamp(_ milliseconds: Int64) -> String {
        let sign = milliseconds < 0 ? "-" : ""
        let magnitude = milliseconds.magnitude
        let fraction = magnitude % 1_000
        guard fraction != 0 else { return sign + String(magnitude / 1_000) }
        let digits = String(fraction)
        return sign + String(magnitude / 1_000) + "." + String(repeating: "0", count: 3 - digits.count) + digits
    }

    /// A scalar's or string's time in the API: Go's JSON for `float64(t) / 1000`.
    static func scalarTimestamp(_ milliseconds: Int64) -> String { plain(Double(milliseconds) / 1_000) }
}
