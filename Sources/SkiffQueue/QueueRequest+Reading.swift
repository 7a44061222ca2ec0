import Foundation
import SkiffPOSIX

extension QueueRequest {
    /// A queued call read from its JSON. Read by hand (the worker reads every call it delivers, where
    /// `JSONDecoder` cost a sixth of the daemon's time); anything the hand reading does not take, `JSONDecoder`
    /// reads instead, so what is accepted and every error are exactly `init(from:)`'s.
    public init(json: [UInt8]) throws {
        do {
            self = try Self.scan(json)
        } catch is JSONScanner.Malformed {
            self = try JSONDecoder().decode(QueueRequest.self, from: Data(json))
        }
    }

    /// The fields `init(from:)` reads, with the same defaults (a null is as good as a missing key); it throws
    /// `Malformed` for anything it is not sure of (a key twice, a value of another type, a missing function).
    static func scan(_ json: [UInt8]) throws -> QueueRequest {
        var scanner = JSONScanner(json)
        var request = QueueRequest(function: "")
        var function: String?
        var seen: Set<String> = []
        try scanner.readObject { scanner, key in
            guard seen.insert(key).inserted else { throw JSONScanner.Malformed(offset: 0, expected: "keys once") }
            switch key {
            case "Header":
                request.header = try scanner.readNull() ? [:] : try scanner.readStringLists()
            case "Host": request.host = try scanner.readOptionalString()
            case "Body":
                if let text = try scanner.readOptionalString() {
                    guard let body = Data(base64Encoded: text) else {
                        throw JSONScanner.Malformed(offset: 0, expected: "base64")
                    }
                    request.body = body
                }
            case "Method":
                let method = try scanner.readOptionalString() ?? ""
                request.method = method.isEmpty ? "POST" : method
            case "Path": request.path = try scanner.readOptionalString()
            case "QueryString": request.queryString = try scanner.readOptionalString()
            case "Function": function = try scanner.readString()
            case "QueueName": request.queueName = try scanner.readOptionalString()
            case "Annotations":
                request.annotations = try scanner.readNull() ? nil : try scanner.readStringMap()
            case "CallbackUrl":
                request.callbackURL = try scanner.readNull() ? nil : try GoURL.scan(&scanner)
            default:
                try scanner.skipValue()
            }
        }
        try scanner.finish()
        guard let function else { throw JSONScanner.Malformed(offset: 0, expected: "a function") }
        request.function = function
        return request
    }
}

extension GoURL {
    /// Every field empty, as Go's zero `url.URL`.
    fileprivate init() {}

    /// As `init(from:)` reads it: every text field defaults to "", the flags to false, `User` is not kept.
    fileprivate static func scan(_ scanner: inout JSONScanner) throws -> GoURL {
        var url = GoURL()
        var seen: Set<String> = []
        try scanner.readObject { scanner, key in
            guard seen.insert(key).inserted else { throw JSONScanner.Malformed(offset: 0, expected: "keys once") }
            switch key {
            case "Scheme": url.scheme = try scanner.readOptionalString() ?? ""
            case "Opaque": url.opaque = try scanner.readOptionalString() ?? ""
            case "Host": url.host = try scanner.readOptionalString() ?? ""
            case "Path": url.path = try scanner.readOptionalString() ?? ""
            case "RawPath": url.rawPath = try scanner.readOptionalString() ?? ""
            case "RawQuery": url.rawQuery = try scanner.readOptionalString() ?? ""
            case "Fragment": url.fragment = try scanner.readOptionalString() ?? ""
            case "RawFragment": url.rawFragment = try scanner.readOptionalString() ?? ""
            case "OmitHost": url.omitHost = try scanner.readNull() ? false : try scanner.readBool()
            case "ForceQuery": url.forceQuery = try scanner.readNull() ? false : try scanner.readBool()
            default: try scanner.skipValue()
            }
        }
        return url
    }
}

extension JSONScanner {
    fileprivate mutating func readOptionalString() throws -> String? {
        try readNull() ? nil : try readString()
    }

    /// `{"name": "value", …}`, a key twice refused (as `Malformed`, for the caller's fallback to decide).
    fileprivate mutating func readStringMap() throws -> [String: String] {
        var map: [String: String] = [:]
        try readObject { scanner, key in
            guard map.updateValue(try scanner.readString(), forKey: key) == nil else {
                throw Malformed(offset: 0, expected: "keys once")
            }
        }
        return map
    }

    /// Go's `http.Header`: `{"Name": ["value", …], …}`.
    fileprivate mutating func readStringLists() throws -> [String: [String]] {
        var map: [String: [String]] = [:]
        try readObject { scanner, key in
            var values: [String] = []
            try scanner.readArray { values.append(try $0.readString()) }
            guard map.updateValue(values, forKey: key) == nil else { throw Malformed(offset: 0, expected: "keys once") }
        }
        return map
    }
}
