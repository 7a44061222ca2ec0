import SkiffStack
import Testing

@Suite("YAML subset")
struct YAMLParserTests {
    @Test func nestedMappingsSequencesAndScalars() throws {
        let value = try YAMLParser.parse(
            """
            ---
            # a comment
            version: 1.0
            provider:
              name: openfaas   # trailing comment
              gateway: http://127.0.0.1:8080
            functions:
              hello:
                secrets:
                - one
                - 'two # not a comment'
                labels: {team: blue, "com.openfaas.scale.max": "3"}
                list: [a, "b, c", 'd']
                empty:
                tilde: ~
                quoted: "tab\\there \\u00e9"
                single: 'it''s'
            """)
        #expect(value["version"] == .scalar("1.0"))
        #expect(value["provider"]?["gateway"] == .scalar("http://127.0.0.1:8080"))
        #expect(value["provider"]?["name"] == .scalar("openfaas"))
        let hello = value["functions"]?["hello"]
        #expect(hello?["secrets"] == .sequence([.scalar("one"), .scalar("two # not a comment")]))
        #expect(hello?["labels"] == .mapping([("team", .scalar("blue")), ("com.openfaas.scale.max", .scalar("3"))]))
        #expect(hello?["list"] == .sequence([.scalar("a"), .scalar("b, c"), .scalar("d")]))
        #expect(hello?["empty"] == .null)
        #expect(hello?["tilde"] == .null)
        #expect(hello?["quoted"] == .scalar("tab\there é"))
        #expect(hello?["single"] == .scalar("it's"))
    }

    @Test func sequencesOfMappingsLineUpUnderTheDash() throws {
        let value = try YAMLParser.parse(
            """
            auths:
            - gateway: http://a:8080
              auth: basic
            - gateway: http://b:8080
              token: xyz
            """)
        #expect(
            value["auths"]
                == .sequence([
                    .mapping([("gateway", .scalar("http://a:8080")), ("auth", .scalar("basic"))]),
                    .mapping([("gateway", .scalar("http://b:8080")), ("token", .scalar("xyz"))]),
                ]))
    }

    @Test(
        "everything outside the subset is refused with its line and column",
        arguments: [
            ("a:\n\tb: 1\n", 2, 1, "tabs"),
            ("a: &anchor 1\n", 1, 4, "anchors"),
            ("a: *alias\n", 1, 4, "anchors"),
            ("a: !!str 1\n", 1, 4, "tags"),
            ("a: |\n  text\n", 1, 4, "block scalars"),
            ("a: 1\na: 2\n", 2, 1, "appears twice"),
            ("a: 1\n---\nb: 2\n", 2, 1, "one YAML document"),
            ("a:\n  b: 1\n    c: 2\n", 3, 5, "indentation"),
            ("a: \"open\n", 1, 4, "not closed"),
            ("a: [1, 2\n", 1, 9, "not closed"),
            ("just text\n", 1, 1, "key: value"),
            ("a: 1\n- b\n", 2, 1, "list item"),
            ("a: \"\\q\"\n", 1, 5, "unknown escape"),
            ("a: 'x' y\n", 1, 8, "after the value"),
        ])
    func refusals(text: String, line: Int, column: Int, words: String) {
        do {
            _ = try YAMLParser.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.message.contains(words), "\(error)")
        }
    }

    @Test func substitutionUsesTheEnvironmentAndDefaults() throws {
        let environment = ["TAG": "v2", "EMPTY": ""]
        #expect(
            try EnvironmentSubstitution.apply(
                "image: fn:${TAG} a=${MISSING} b=${MISSING:-dflt} c=${EMPTY:-e} d=${TAG:-x} $$HOME $PLAIN",
                environment: environment) == "image: fn:v2 a= b=dflt c=e d=v2 $HOME $PLAIN")
        #expect(throws: EnvironmentSubstitution.Unterminated.self) {
            try EnvironmentSubstitution.apply("a: 1\nb: ${OPEN\n", environment: [:])
        }
    }
}
