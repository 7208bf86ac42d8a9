import CGit2
import Foundation

/// Reads one file's versions across a repository's history, for `pipe push --all-commits` and `pipe gc
/// --all-commits`: every commit reachable from a branch, a tag or HEAD.
public enum GitHistory {
    /// One distinct content of the file, with the first commit (in walk order, newest first) that holds it.
    public struct FileVersion: Sendable {
        public var commit: String
        public var data: Data
    }

    /// The distinct contents of `relativePath` (relative to `workspace`) over every commit reachable from any
    /// branch, tag or HEAD. Commits without the file are skipped. Throws `TrackingError.git` outside a
    /// repository or on a libgit2 failure.
    public static func versions(of relativePath: String, workspace: URL) throws -> [FileVersion] {
        LibGit2.ensureInitialized()
        let path = workspace.standardizedFileURL.path
        var repository: OpaquePointer?
        guard git_repository_open_ext(&repository, path, 0, nil) == 0, let repository else {
            throw TrackingError.git(path: path, reason: "not inside a git repository")
        }
        defer { git_repository_free(repository) }
        guard let workdirPointer = git_repository_workdir(repository) else {
            throw TrackingError.git(path: path, reason: "a bare repository has no workspace")
        }
        let workdir = URL(fileURLWithPath: String(cString: workdirPointer)).standardizedFileURL.path
        let inside = path == workdir ? "" : String(path.dropFirst(workdir.count + 1)) + "/"
        let repositoryPath = inside + relativePath

        var walk: OpaquePointer?
        guard git_revwalk_new(&walk, repository) == 0, let walk else {
            throw TrackingError.git(path: path, reason: LibGit2.lastErrorMessage(-1))
        }
        defer { git_revwalk_free(walk) }
        _ = git_revwalk_push_glob(walk, "refs/heads")
        _ = git_revwalk_push_glob(walk, "refs/tags")
        _ = git_revwalk_push_head(walk)  // fails only on an unborn HEAD: then there is nothing to read

        var seenBlobs = Set<String>()
        var versions: [FileVersion] = []
        var oid = git_oid()
        while git_revwalk_next(&oid, walk) == 0 {
            var commit: OpaquePointer?
            guard git_commit_lookup(&commit, repository, &oid) == 0, let commit else { continue }
            defer { git_commit_free(commit) }
            var tree: OpaquePointer?
            guard git_commit_tree(&tree, commit) == 0, let tree else { continue }
            defer { git_tree_free(tree) }
            var entry: OpaquePointer?
            guard git_tree_entry_bypath(&entry, tree, repositoryPath) == 0, let entry else { continue }
            defer { git_tree_entry_free(entry) }
            guard let blobID = git_tree_entry_id(entry) else { continue }
            let blobHex = LibGit2.hex(blobID.pointee)
            guard seenBlobs.insert(blobHex).inserted else { continue }
            var blob: OpaquePointer?
            guard git_blob_lookup(&blob, repository, blobID) == 0, let blob else { continue }
            defer { git_blob_free(blob) }
            let size = Int(git_blob_rawsize(blob))
            let data = git_blob_rawcontent(blob).map { Data(bytes: $0, count: size) } ?? Data()
            versions.append(FileVersion(commit: LibGit2.hex(oid), data: data))
        }
        return versions
    }
}
