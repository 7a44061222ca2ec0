import Foundation
import SkiffHTTP
import SkiffPOSIX

/// An asynchronous call as OpenFaaS queues it on `faas-request`: Go's field names, the body base64 (a Go
/// `[]byte`), the callback as a Go `url.URL` object. Skiff's gateway writes this shape, and any NATS client that
/// publishes one to `faas-request` gets it processed the same way.
public struct QueueRequest: Codable, Sendable, Equatable {
    /// The caller's headers (`X-Call-Id`, `X-Start-Time`, `X-Callback-Url` among them), as Go's `http.Header`.
    public var header: [String: [String]]
    public var host: String?
    public var body: Data?
    /// The caller's method; the function sees the call as the synchronous path would.
    public var method: String
    /// What followed `/async-function/NAME`: `""`, `"/"` or `"/a/b"`.
    public var path: String?
    public var queryString: String?
    /// As the caller named it: `NAME` or `NAME.NAMESPACE`.
    public var function: String
    public var queueName: String?
    public var annotations: [String: String]?
    public var callbackURL: GoURL?

    public init(
        function: String, method: String = "POST", header: [String: [String]] = [:], body: Data? = nil,
        path: String? = nil, queryString: String? = nil, host: String? = nil, callbackURL: GoURL? = nil
    ) {
        self.function = function
        self.method = method
        self.header = header
        self.body = body
        self.path = path
        self.queryString = queryString
        self.host = host
        self.callbackURL = callbackURL
    }

    enum CodingKeys: String, CodingKey {
        case header = "Header"
        case host = "Host"
        case body = "Body"
        case method = "Method"
        case path = "Path"
        case queryString = "QueryString"
        case function = "Function"
        case queueName = "QueueName"
        case annotations = "Annotations"
        case callbackURL = "CallbackUrl"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        header = try container.decodeIfPresent([String: [String]].self, forKey: .header) ?? [:]
        host = try container.decodeIfPresent(String.self, forKey: .host)
        body = try container.decodeIfPresent(Data.self, forKey: .body)
        method = try container.decodeIfPresent(String.self, forKey: .method) ?? "POST"
        if method.isEmpty { method = "POST" }
        path = try container.decodeIfPresent(String.self, forKey: .path)
        queryString = try container.decodeIfPresent(String.self, forKey: .queryString)
        function = try container.decode(String.self, forKey: .function)
        queueName = try container.decodeIfPresent(String.self, forKey: .queueName)
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
        callbackURL = try container.decodeIfPresent(GoURL.self, forKey: .callbackURL)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(header, forKey: .header)
        try container.encode(host ?? "", forKey: .host)
        try container.encode(body, forKey: .body)
        try container.encode(method, forKey: .method)
        try container.encode(path ?? "", forKey: .path)
        try container.encode(queryString ?? "", forKey: .queryString)
        try container.encode(function, forKey: .function)
        try container.encode(queueName ?? "", forKey: .queueName)
        try container.encodeIfPresent(annotations, forKey: .annotations)
        try container.encode(callbackURL, forKey: .callbackURL)
    }

    /// The JSON `encode(to:)` gives (the same object, its keys in the same order), written by hand: a queued call
    /// is encoded on every `/async-function` request, where `JSONEncoder` cost a quarter of the daemon's CPU.
    public func json() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + (body?.count ?? 0) * 4 / 3)
        out.append(contentsOf: #"{"Header":{"#.utf8)
        for (index, (name, values)) in header.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendQuoted(name, to: &out)
            out.append(contentsOf: ":[".utf8)
            for (position, value) in values.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendQuoted(value, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: #"},"Host":"#.utf8)
        JSONText.appendQuoted(host ?? "", to: &out)
        out.append(contentsOf: #","Body":"#.utf8)
        if let body {
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: body.base64EncodedData())
            out.append(UInt8(ascii: "\""))
        } else {
            out.append(contentsOf: "null".utf8)
        }
        for (key, value) in [
            ("Method", method), ("Path", path ?? ""), ("QueryString", queryString ?? ""), ("Function", function),
            ("QueueName", queueName ?? ""),
        ] {
            out.append(contentsOf: ",\"\(key)\":".utf8)
            JSONText.appendQuoted(value, to: &out)
        }
        if let annotations {
            out.append(contentsOf: #","Annotations":{"#.utf8)
            for (index, (name, value)) in annotations.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendQuoted(name, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONText.appendQuoted(value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #","CallbackUrl":"#.utf8)
        if let url = callbackURL {
            out.append(contentsOf: #"{"Scheme":"#.utf8)
            JSONText.appendQuoted(url.scheme, to: &out)
            out.append(contentsOf: #","Opaque":"#.utf8)
            JSONText.appendQuoted(url.opaque, to: &out)
            out.append(contentsOf: #","User":null,"Host":"#.utf8)
            JSONText.appendQuoted(url.host, to: &out)
            out.append(contentsOf: #","Path":"#.utf8)
            JSONText.appendQuoted(url.path, to: &out)
            out.append(contentsOf: #","RawPath":"#.utf8)
            JSONText.appendQuoted(url.rawPath, to: &out)
            out.append(contentsOf: ",\"OmitHost\":\(url.omitHost),\"ForceQuery\":\(url.forceQuery),\"RawQuery\":".utf8)
            JSONText.appendQuoted(url.rawQuery, to: &out)
            out.append(contentsOf: #","Fragment":"#.utf8)
            JSONText.appendQuoted(url.fragment, to: &out)
            out.append(contentsOf: #","RawFragment":"#.utf8)
            JSONText.appendQuoted(url.rawFragment, to: &out)
            out.append(UInt8(ascii: "}"))
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The first value of a header, matched without regard to case (Go canonicalises the names it writes).
    public func headerValue(_ name: String) -> String? {
        header[name]?.first ?? header.first { HTTPTokens.equalsIgnoringCase($0.key.utf8, name) }?.value.first
    }
}

/// Go's `url.URL` as `encoding/json` writes it: every field, `User` null or an (opaque) object.
public struct GoURL: Codable, Sendable, Equatable {
    public var scheme = ""
    public var opaque = ""
    public var user: [String: String]?
    public var host = ""
    public var path = ""
    public var rawPath = ""
    public var omitHost = false
    public var forceQuery = false
    public var rawQuery = ""
    public var fragment = ""
    public var rawFragment = ""

    enum CodingKeys: String, CodingKey {
        case scheme = "Scheme"
        case opaque = "Opaque"
        case user = "User"
        case host = "Host"
        case path = "Path"
        case rawPath = "RawPath"
        case omitHost = "OmitHost"
        case forceQuery = "ForceQuery"
        case rawQuery = "RawQuery"
        case fragment = "Fragment"
        case rawFragment = "RawFragment"
    }

    /// `scheme://host[:port][/path][?query][#fragment]`; nil for anything else (Skiff calls back over HTTP only).
    public init?(_ text: String) {
        guard let schemeEnd = text.range(of: "://") else { return nil }
        scheme = String(text[..<schemeEnd.lowerBound]).lowercased()
        var rest = Substring(text[schemeEnd.upperBound...])
        if let hash = rest.firstIndex(of: "#") {
            fragment = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            rawQuery = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        host = String(rest[..<slash])
        path = String(rest[slash...])
        guard scheme == "http", !host.isEmpty, !host.contains("@"),
            !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F })
        else { return nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func text(_ key: CodingKeys) throws -> String { try container.decodeIfPresent(String.self, forKey: key) ?? "" }
        scheme = try text(.scheme)
        opaque = try text(.opaque)
        host = try text(.host)
        path = try text(.path)
        rawPath = try text(.rawPath)
        rawQuery = try text(.rawQuery)
        fragment = try text(.fragment)
        rawFragment = try text(.rawFragment)
        omitHost = try container.decodeIfPresent(Bool.self, forKey: .omitHost) ?? false
        forceQuery = try container.decodeIfPresent(Bool.self, forKey: .forceQuery) ?? false
        user = nil
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(scheme, forKey: .scheme)
        try container.encode(opaque, forKey: .opaque)
        try container.encode(user, forKey: .user)
        try container.encode(host, forKey: .host)
        try container.encode(path, forKey: .path)
        try container.encode(rawPath, forKey: .rawPath)
        try container.encode(omitHost, forKey: .omitHost)
        try container.encode(forceQuery, forKey: .forceQuery)
        try container.encode(rawQuery, forKey: .rawQuery)
        try container.encode(fragment, forKey: .fragment)
        try container.encode(rawFragment, forKey: .rawFragment)
    }

    /// The URL as text (what `url.URL.String()` gives for the URLs Skiff accepts).
    public var text: String {
        var text = "\(scheme)://\(host)\(rawPath.isEmpty ? path : rawPath)"
        if !rawQuery.isEmpty || forceQuery { text += "?\(rawQuery)" }
        if !fragment.isEmpty { text += "#\(fragment)" }
        return text
    }
}
