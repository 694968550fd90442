//! CodeCommit's reads of repository content beyond single files: GetBlob, GetFolder,
//! BatchGetCommits and GetDifferences, each answered by git plumbing on the bare repository.

use serde_json::{Value, json};

use super::{commit_json, error, existing, file_mode, git, is_object_id, resolve_commit, text};
use crate::Context;
use awsapi::ApiError;

/// The largest blob GetBlob returns, as CodeCommit limits it.
const MAX_BLOB: u64 = 6 * 1024 * 1024;
/// The most commits one BatchGetCommits asks for.
const MAX_COMMIT_IDS: usize = 100;
/// GetDifferences' page when the caller gives no `MaxResults`.
const DIFFERENCES_PAGE: usize = 100;
/// git's empty tree, which every repository knows without storing it: the "before" of a
/// comparison that has none.
pub(super) const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

pub(super) async fn get_blob(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let repository = existing(ctx, &input, "repositoryName").await?;
    let blob = input.get("blobId").and_then(Value::as_str).filter(|it| !it.is_empty()).ok_or_else(
        || error("BlobIdRequiredException", "A blob ID is required, but was not specified."),
    )?;
    if !is_object_id(blob) {
        return Err(error("InvalidBlobIdException", format!("The blob ID {blob} is not valid")));
    }
    let kind = git(ctx, &repository.key, &["cat-file", "-t", blob]).await?.map(text);
    if kind.as_deref() != Some("blob") {
        return Err(error("BlobIdDoesNotExistException", format!("Blob {blob} does not exist")));
    }
    let size: u64 = git(ctx, &repository.key, &["cat-file", "-s", blob])
        .await?
        .map(text)
        .and_then(|it| it.parse().ok())
        .unwrap_or_default();
    if size > MAX_BLOB {
        return Err(error("FileTooLargeException", format!("Blob {blob} is larger than 6 MB")));
    }
    let content = git(ctx, &repository.key, &["cat-file", "blob", blob]).await?;
    Ok(json!({ "content": awsapi::base64::encode(&content.unwrap_or_default()) }))
}

/// One entry of `git ls-tree -z`: `<mode> <type> <object>\t<name>`.
pub(super) struct TreeEntry {
    pub mode: String,
    pub kind: String,
    pub object: String,
    pub path: String,
}

/// Parses `git ls-tree -z` output.
pub(super) fn tree_entries(listed: &[u8]) -> Vec<TreeEntry> {
    listed
        .split(|b| *b == 0)
        .filter(|it| !it.is_empty())
        .filter_map(|record| {
            let record = String::from_utf8_lossy(record);
            let (meta, path) = record.split_once('\t')?;
            let mut fields = meta.split(' ');
            Some(TreeEntry {
                mode: fields.next()?.to_owned(),
                kind: fields.next()?.to_owned(),
                object: fields.next()?.to_owned(),
                path: path.to_owned(),
            })
        })
        .collect()
}

/// A `Path` member as a path inside the tree: no leading or trailing `/`, `""` for the root.
pub(super) fn tree_path(path: &str) -> String {
    path.trim_matches('/').to_owned()
}

pub(super) async fn get_folder(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let repository = existing(ctx, &input, "repositoryName").await?;
    let requested = input.get("folderPath").and_then(Value::as_str).ok_or_else(|| {
        error("PathRequiredException", "The folderPath for the location cannot be null.")
    })?;
    let specifier = input.get("commitSpecifier").and_then(Value::as_str);
    let commit = resolve_commit(ctx, &repository.key, specifier).await?;
    let folder = tree_path(requested);
    if folder.split('/').any(|it| it == "." || it == "..") {
        return Err(error("InvalidPathException", format!("The path {requested} is not valid")));
    }
    // `<commit>:<path>` takes everything after the colon as the path, so the object's type is
    // checked apart rather than with a `^{tree}` suffix.
    let object =
        git(ctx, &repository.key, &["rev-parse", "--verify", "-q", &format!("{commit}:{folder}")])
            .await?
            .map(text);
    let kind = match &object {
        Some(it) => git(ctx, &repository.key, &["cat-file", "-t", it]).await?.map(text),
        None => None,
    };
    let (Some(tree), Some("tree")) = (object, kind.as_deref()) else {
        return Err(error(
            "FolderDoesNotExistException",
            format!("The folder {requested} does not exist in commit {commit}"),
        ));
    };
    let listed = git(ctx, &repository.key, &["ls-tree", "-z", &tree]).await?.unwrap_or_default();
    let (mut folders, mut files, mut links, mut modules) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for entry in tree_entries(&listed) {
        let absolute =
            if folder.is_empty() { entry.path.clone() } else { format!("{folder}/{}", entry.path) };
        match (entry.kind.as_str(), entry.mode.as_str()) {
            ("tree", _) => folders.push(json!({
                "treeId": entry.object,
                "absolutePath": absolute,
                "relativePath": entry.path,
            })),
            ("commit", _) => modules.push(json!({
                "commitId": entry.object,
                "absolutePath": absolute,
                "relativePath": entry.path,
            })),
            (_, mode) => {
                let item = json!({
                    "blobId": entry.object,
                    "absolutePath": absolute,
                    "relativePath": entry.path,
                    "fileMode": file_mode(mode),
                });
                if mode == "120000" { links.push(item) } else { files.push(item) }
            }
        }
    }
    Ok(json!({
        "commitId": commit,
        "folderPath": requested,
        "treeId": tree,
        "subFolders": folders,
        "files": files,
        "symbolicLinks": links,
        "subModules": modules,
    }))
}

pub(super) async fn batch_get_commits(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let ids: Vec<&str> = input
        .get("commitIds")
        .and_then(Value::as_array)
        .ok_or_else(|| error("CommitIdsListRequiredException", "A list of commit IDs is required"))?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if ids.len() > MAX_COMMIT_IDS {
        return Err(error(
            "CommitIdsLimitExceededException",
            format!("At most {MAX_COMMIT_IDS} commit IDs may be given"),
        ));
    }
    let repository = existing(ctx, &input, "repositoryName").await?;
    let (mut commits, mut errors) = (Vec::new(), Vec::new());
    for id in ids {
        let found =
            if is_object_id(id) { commit_json(ctx, &repository.key, id).await? } else { None };
        match found {
            Some(commit) => commits.push(commit),
            None => errors.push(json!({
                "commitId": id,
                "errorCode": "CommitDoesNotExistException",
                "errorMessage": format!("Commit {id} does not exist"),
            })),
        }
    }
    Ok(json!({ "commits": commits, "errors": errors }))
}

/// One change between two trees: `git diff-tree --raw -z` gives
/// `:<old mode> <new mode> <old blob> <new blob> <status>\0<path>\0` per change.
pub(super) fn parse_raw_diff(raw: &[u8]) -> Vec<Value> {
    let mut differences = Vec::new();
    let mut fields = raw.split(|b| *b == 0).filter(|it| !it.is_empty());
    while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
        let meta = String::from_utf8_lossy(meta);
        let path = String::from_utf8_lossy(path).into_owned();
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let [old_mode, new_mode, old_blob, new_blob, status] = parts[..] else { continue };
        let blob = |id: &str, mode: &str| json!({ "blobId": id, "path": path, "mode": mode });
        let difference = match status.chars().next() {
            Some('A') => json!({ "afterBlob": blob(new_blob, new_mode), "changeType": "A" }),
            Some('D') => json!({ "beforeBlob": blob(old_blob, old_mode), "changeType": "D" }),
            // A type change (file to symlink, say) is a modification of the path to CodeCommit.
            _ => json!({
                "beforeBlob": blob(old_blob, old_mode),
                "afterBlob": blob(new_blob, new_mode),
                "changeType": "M",
            }),
        };
        differences.push(difference);
    }
    differences
}

pub(super) async fn get_differences(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let repository = existing(ctx, &input, "repositoryName").await?;
    let after = input
        .get("afterCommitSpecifier")
        .and_then(Value::as_str)
        .filter(|it| !it.is_empty())
        .ok_or_else(|| error("CommitRequiredException", "A commit specifier is required"))?;
    let after = resolve_commit(ctx, &repository.key, Some(after)).await?;
    let before = match input.get("beforeCommitSpecifier").and_then(Value::as_str) {
        Some(it) if !it.is_empty() => resolve_commit(ctx, &repository.key, Some(it)).await?,
        _ => EMPTY_TREE.to_owned(),
    };
    let limit = match input.get("MaxResults") {
        None | Some(Value::Null) => DIFFERENCES_PAGE,
        Some(value) => value
            .as_u64()
            .filter(|it| *it > 0)
            .and_then(|it| usize::try_from(it).ok())
            .ok_or_else(|| error("InvalidMaxResultsException", "MaxResults is not valid"))?,
    };
    let start = match input.get("NextToken").and_then(Value::as_str) {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| error("InvalidContinuationTokenException", "Invalid NextToken"))?,
        None => 0,
    };
    // Each side's path must exist on its side; both restrict what is compared.
    let mut paths = Vec::new();
    for (field, commit) in [("beforePath", &before), ("afterPath", &after)] {
        let Some(path) = input.get(field).and_then(Value::as_str) else { continue };
        let path = tree_path(path);
        if path.is_empty() {
            continue;
        }
        if path.split('/').any(|it| it == "." || it == "..") {
            return Err(error("InvalidPathException", format!("The path {path} is not valid")));
        }
        let exists = commit != EMPTY_TREE
            && git(ctx, &repository.key, &["cat-file", "-e", &format!("{commit}:{path}")])
                .await?
                .is_some();
        if !exists {
            return Err(error(
                "PathDoesNotExistException",
                format!("The path {path} does not exist in commit {commit}"),
            ));
        }
        paths.push(format!(":(literal){path}"));
    }
    let mut args = vec!["diff-tree", "-r", "--no-renames", "--raw", "-z", &before, &after, "--"];
    args.extend(paths.iter().map(String::as_str));
    let raw = git(ctx, &repository.key, &args)
        .await?
        .ok_or_else(|| ApiError::internal(format!("git diff-tree {before} {after} failed")))?;
    let differences = parse_raw_diff(&raw);
    let page: Vec<&Value> = differences.iter().skip(start).take(limit).collect();
    let mut output = json!({ "differences": page });
    if start.saturating_add(limit) < differences.len() {
        output["NextToken"] = json!((start + limit).to_string());
    }
    Ok(output)
}
