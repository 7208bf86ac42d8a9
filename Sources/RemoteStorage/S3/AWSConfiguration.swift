import Foundation

/// An AWS access key. Printing, interpolating, `dump`ing or debug-printing it shows only the access key id: the
/// secret and the session token never reach a message or a log through it.
public struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// Public: the id AWS shows in consoles and error messages.
    public let accessKeyID: String
    /// Internal to this module: only the signer reads it.
    let secretAccessKey: String
    let sessionToken: String?

    /// `sessionToken`: the temporary credentials of an assumed role or SSO session (`AWS_SESSION_TOKEN`).
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Whether requests carry `x-amz-security-token` (the token itself is not readable outside this module).
    public var hasSessionToken: Bool { sessionToken != nil }

    public var description: String {
        "access key id \(accessKeyID)\(sessionToken == nil ? "" : " (with a session token)")"
    }

    public var debugDescription: String { "Credentials(\(description))" }

    public var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": accessKeyID, "hasSessionToken": hasSessionToken])
    }
}

/// Credentials, region and endpoint for an S3 remote, found the way the AWS CLI finds them, from an environment
/// and a home directory that are passed in (so that tests never read the real ones).
///
/// **Credentials**, first found wins:
/// 1. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`); one without the other is an error;
/// 2. the profile `AWS_PROFILE` (else `default`) in the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`,
///    else `~/.aws/credentials`; section `[NAME]`), then in the config file (`AWS_CONFIG_FILE`, else
///    `~/.aws/config`; section `[profile NAME]`, or `[default]`): `aws_access_key_id`, `aws_secret_access_key`,
///    `aws_session_token`;
/// 3. none: requests go unsigned, which a public bucket accepts. A profile named by `AWS_PROFILE` that neither
///    file has is an error, as in the AWS CLI; a missing `default` profile is not.
///
/// **Endpoint and region: the remote's own settings first.** `endpoint:` and `region:` in `pipeline.yaml` say
/// where this team's bucket lives: they are committed facts about the remote, and a bucket exists on one server
/// and in one region only. The environment and the profile are one user's defaults for all of AWS (an
/// `AWS_REGION` set for other work, an `AWS_ENDPOINT_URL` pointing at a local test server): they apply to remotes
/// that do not say, never override one that does. So:
/// - endpoint: the remote's `endpoint`, then `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the profile's `s3 =`
///   nested `endpoint_url` (in the profile, or in the `[services NAME]` section its `services` key names), the
///   profile's `endpoint_url`, else AWS itself (`https://s3.REGION.amazonaws.com`).
///   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` (or `ignore_configured_endpoint_urls = true` in the profile)
///   drops the environment's and the profile's endpoints, as in the AWS CLI.
/// - region: the remote's `region`, then `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else
///   `us-east-1`.
public struct AWSConfiguration: Sendable, CustomStringConvertible {
    /// nil: anonymous (unsigned) requests.
    public var credentials: Credentials?
    /// The region requests are signed for, and whose AWS endpoint is used when `endpoint` is nil.
    public var region: String
    /// nil: AWS's own S3 endpoint for `region`.
    public var endpoint: URL?
    /// Where the credentials came from, for messages: `environment`, `profile 'dev' in /home/me/.aws/credentials`,
    /// `none (unsigned requests)`.
    public var credentialSource: String

    /// A configuration given outright (tests, or a caller with its own lookup); `resolve` is the AWS CLI's.
    public init(credentials: Credentials?, region: String, endpoint: URL?, credentialSource: String? = nil) {
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint
        self.credentialSource = credentialSource ?? (credentials == nil ? "none (unsigned requests)" : "given")
    }

    public var description: String {
        let server = endpoint?.absoluteString ?? "AWS"
        let who = credentials.map { "\($0) from \(credentialSource)" } ?? "unsigned requests"
        return "S3 at \(server), region \(region), \(who)"
    }

    /// Resolves everything for one remote. Throws `RemoteError.badConfiguration` for half-set credentials, a
    /// named profile that does not exist, or an endpoint that is not an http(s) URL (naming where it came from).
    public static func resolve(
        environment: [String: String], home: String, remoteEndpoint: String? = nil, remoteRegion: String? = nil
    ) throws -> AWSConfiguration {
        func env(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                return nil
            }
            return value
        }
        let explicitProfile = env("AWS_PROFILE")
        let profileName = explicitProfile ?? "default"
        let credentialsPath = expandHome(env("AWS_SHARED_CREDENTIALS_FILE") ?? "~/.aws/credentials", home: home)
        let configPath = expandHome(env("AWS_CONFIG_FILE") ?? "~/.aws/config", home: home)
        let credentialsFile = try INIFile.load(credentialsPath)
        let configFile = try INIFile.load(configPath)
        let fromCredentialsFile = credentialsFile?.sections[profileName]
        let fromConfigFile =
            configFile?.sections["profile \(profileName)"]
            ?? (profileName == "default" ? configFile?.sections["default"] : nil)
        if let explicitProfile, fromCredentialsFile == nil, fromConfigFile == nil {
            throw RemoteError.badConfiguration(
                "AWS_PROFILE names the profile '\(explicitProfile)', which neither \(credentialsPath) nor "
                    + "\(configPath) has")
        }

        // Credentials.
        var credentials: Credentials?
        var source = "none (unsigned requests)"
        switch (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        case (let id?, let secret?):
            credentials = Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: env("AWS_SESSION_TOKEN"))
            source = "environment"
        case (.some, nil):
            throw RemoteError.badConfiguration("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        case (nil, .some):
            throw RemoteError.badConfiguration("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        case (nil, nil):
            for (section, path) in [(fromCredentialsFile, credentialsPath), (fromConfigFile, configPath)] {
                guard let section else { continue }
                let id = section.value("aws_access_key_id")
                let secret = section.value("aws_secret_access_key")
                if let id, let secret {
                    credentials = Credentials(
                        accessKeyID: id, secretAccessKey: secret, sessionToken: section.value("aws_session_token"))
                    source = "profile '\(profileName)' in \(path)"
                    break
                }
                if id != nil || secret != nil {
                    throw RemoteError.badConfiguration(
                        "\(path): the profile '\(profileName)' has "
                            + (id == nil
                                ? "aws_secret_access_key without aws_access_key_id"
                                : "aws_access_key_id without aws_secret_access_key"))
                }
            }
        }

        // Region.
        let region =
            nonEmpty(remoteRegion) ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION")
            ?? fromConfigFile?.value("region") ?? "us-east-1"

        // Endpoint.
        let ignoreConfigured =
            env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?.lowercased() == "true"
            || fromConfigFile?.value("ignore_configured_endpoint_urls")?.lowercased() == "true"
        var endpointCandidates: [(String?, String)] = [(nonEmpty(remoteEndpoint), "the remote's endpoint")]
        if !ignoreConfigured {
            let servicesSection = fromConfigFile?.value("services").flatMap { configFile?.sections["services \($0)"] }
            endpointCandidates += [
                (env("AWS_ENDPOINT_URL_S3"), "AWS_ENDPOINT_URL_S3"),
                (env("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"),
                (
                    fromConfigFile?.nested("s3", "endpoint_url"),
                    "\(configPath): profile '\(profileName)', s3 endpoint_url"
                ),
                (servicesSection?.nested("s3", "endpoint_url"), "\(configPath): services section, s3 endpoint_url"),
                (fromConfigFile?.value("endpoint_url"), "\(configPath): profile '\(profileName)', endpoint_url"),
            ]
        }
        var endpoint: URL?
        if let (text, origin) = endpointCandidates.first(where: { $0.0 != nil }), let text {
            endpoint = try parseEndpoint(text, origin: origin)
        }
        return AWSConfiguration(credentials: credentials, region: region, endpoint: endpoint, credentialSource: source)
    }

    /// An http(s) URL with a host; a trailing slash is dropped.
    static func parseEndpoint(_ text: String, origin: String) throws -> URL {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty,
            url.query == nil
        else {
            throw RemoteError.badConfiguration(
                "\(origin): '\(text)' is not an endpoint URL (expected http://HOST[:PORT] or https://HOST[:PORT])")
        }
        return url
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let value = text?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    private static func expandHome(_ path: String, home: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return (home as NSString).appendingPathComponent(String(path.dropFirst(2))) }
        return path
    }
}

/// The AWS CLI's INI dialect: `[section]`, `key = value`, `#` and `;` comment lines, and nested blocks (a key
/// with no value, followed by indented `key = value` lines, as in `s3 =\n  endpoint_url = …`).
struct INIFile {
    struct Section {
        var values: [String: String] = [:]
        var nestedValues: [String: [String: String]] = [:]

        func value(_ key: String) -> String? {
            guard let value = values[key], !value.isEmpty else { return nil }
            return value
        }

        func nested(_ block: String, _ key: String) -> String? {
            guard let value = nestedValues[block]?[key], !value.isEmpty else { return nil }
            return value
        }
    }

    var sections: [String: Section] = [:]

    /// nil when there is no file; an unreadable file is an error (it exists but cannot be used).
    static func load(_ path: String) throws -> INIFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RemoteError.badConfiguration("\(path): cannot read the file")
        }
        return INIFile(parsing: String(decoding: data, as: UTF8.self))
    }

    init(parsing text: String) {
        var current: String?
        var block: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
                    .joined(separator: " ")
                current = name
                block = nil
                if sections[name] == nil { sections[name] = Section() }
                continue
            }
            guard let name = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            let isIndented = rawLine.first.map { $0 == " " || $0 == "\t" } ?? false
            if isIndented, let block {
                sections[name, default: Section()].nestedValues[block, default: [:]][key] = value
            } else if value.isEmpty {
                block = key
            } else {
                block = nil
                sections[name, default: Section()].values[key] = value
            }
        }
    }
}
