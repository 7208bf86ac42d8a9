import ContentStore
import Foundation
import Transport

#if canImport(Glibc)
import Glibc
#endif

extension S3Remote {
    /// CreateMultipartUpload, one UploadPart per `partSize` bytes, CompleteMultipartUpload. S3 shows the object
    /// only once Complete succeeds; any failure before that aborts the upload, so that its parts neither show
    /// nor keep costing storage. (A process killed mid-upload cannot abort: a bucket lifecycle rule
    /// `AbortIncompleteMultipartUpload` cleans those up.)
    ///
    /// Each part is signed with its own SHA-256, computed by reading the part once before sending it, so that
    /// S3 checks every part's bytes as it checks a single PUT's.
    func putInParts(_ key: String, file path: String, size: Int64, onBytes: ((Int) -> Void)?) throws {
        let create = S3Call(
            method: "POST", url: try objectURL(key, query: [("uploads", nil)]),
            headers: [("Content-Type", "application/octet-stream")])
        let uploadID = try perform(create, key: key) { response -> String in
            let root = S3XMLNode.parse(try response.readAll(limit: 1 << 20))
            guard let id = root?.string("UploadId"), !id.isEmpty else {
                throw RemoteError.server(
                    remote: label, key: key, status: response.head.status, code: "",
                    message: "CreateMultipartUpload answered without an UploadId")
            }
            return id
        }
        do {
            let parts = try uploadParts(key, uploadID: uploadID, file: path, size: size, onBytes: onBytes)
            try completeUpload(key, uploadID: uploadID, parts: parts)
        } catch {
            abortUpload(key, uploadID: uploadID)
            throw error
        }
    }

    /// The part numbers and their ETags, in order.
    private func uploadParts(
        _ key: String, uploadID: String, file path: String, size: Int64, onBytes: ((Int) -> Void)?
    ) throws -> [(number: Int, etag: String)] {
        // Larger parts where the file would need more than S3's 10,000.
        let partSize = max(self.partSize, (size + Self.maximumPartCount - 1) / Self.maximumPartCount)
        var parts: [(number: Int, etag: String)] = []
        var offset: Int64 = 0
        while offset < size {
            let number = parts.count + 1
            let length = min(partSize, size - offset)
            let sha256 = try Self.sha256(of: path, offset: offset, length: length)
            let call = S3Call(
                method: "PUT",
                url: try objectURL(key, query: [("partNumber", String(number)), ("uploadId", uploadID)]),
                body: .file(path: path, offset: offset, length: length), payloadSHA256: sha256.hex)
            let etag = try perform(call, key: key, onBodyBytes: onBytes) { response -> String in
                guard let etag = response.head.header("etag"), !etag.isEmpty else {
                    throw RemoteError.server(
                        remote: label, key: key, status: response.head.status, code: "",
                        message: "UploadPart \(number) answered without an ETag")
                }
                try response.discardBody()
                return etag
            }
            parts.append((number, etag))
            offset += length
        }
        return parts
    }

    private func completeUpload(_ key: String, uploadID: String, parts: [(number: Int, etag: String)]) throws {
        let list = parts.map { "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(xmlEscaped($0.etag))</ETag></Part>" }
        let document =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            + "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\(list.joined())"
            + "</CompleteMultipartUpload>"
        let body = Array(document.utf8)
        let call = S3Call(
            method: "POST", url: try objectURL(key, query: [("uploadId", uploadID)]),
            headers: [("Content-Type", "application/xml")], body: .bytes(body), payloadSHA256: Digest.of(Data(body)).hex
        )
        do {
            try perform(call, key: key) { response in
                // S3 may answer 200 and then report a failure in the body (the status line goes out before the
                // parts are assembled).
                let answer = try response.readAll(limit: 1 << 20)
                if let root = S3XMLNode.parse(answer), root.name == "Error" {
                    throw S3ErrorResponse(
                        status: response.head.status, code: root.string("Code") ?? "",
                        message: root.string("Message") ?? "")
                }
            }
        } catch RemoteError.server(_, _, 404, "NoSuchUpload", let message) {
            // A retry after an attempt that completed the upload and only lost its answer. The key names the
            // content, so an object there is this one.
            guard try exists(key) else {
                throw RemoteError.server(remote: label, key: key, status: 404, code: "NoSuchUpload", message: message)
            }
        }
    }

    /// Best effort: the upload's failure is what the caller reports, not a failed abort.
    private func abortUpload(_ key: String, uploadID: String) {
        guard let url = try? objectURL(key, query: [("uploadId", uploadID)]) else { return }
        _ = try? perform(S3Call(method: "DELETE", url: url), key: key, accepting: [404]) { response in
            try response.discardBody()
        }
    }

    /// The SHA-256 of `length` bytes of the file at `path` from `offset`.
    static func sha256(of path: String, offset: Int64, length: Int64) throws -> Digest {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RemoteError.localFile(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let chunkSize = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        let hasher = SHA256Hasher()
        var done: Int64 = 0
        while done < length {
            let count = pread(fd, buffer.baseAddress, Int(min(Int64(chunkSize), length - done)), off_t(offset + done))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let reason = count < 0 ? String(cString: strerror(errno)) : "the file ended early"
                throw RemoteError.localFile(path: path, reason: "cannot read: \(reason)")
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            done += Int64(count)
        }
        return hasher.finish()
    }
}
