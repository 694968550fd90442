//! CodeCommit's reads of repository content beyond single files: GetBlob, GetFolder,
//! BatchGetCommits and GetDifferences, each answered by git plumbing on the bare repository.

use serde::{Deserialize, Serialize};

use super::{
    Commit, error, existing_named, file_mode, git, is_object_id, read_commit, resolve_commit, text,
};
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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetBlobInput {
    pub repository_name: Option<String>,
    pub blob_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GetBlobOutput {
    /// The blob, base64-encoded as the JSON protocol writes blobs.
    pub content: String,
}

pub async fn get_blob(ctx: &Context, input: GetBlobInput) -> Result<GetBlobOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let blob = input.blob_id.as_deref().filter(|it| !it.is_empty()).ok_or_else(|| {
        error("BlobIdRequiredException", "A blob ID is required, but was not specified.")
    })?;
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
    Ok(GetBlobOutput { content: awsapi::base64::encode(&content.unwrap_or_default()) })
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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFolderInput {
    pub repository_name: Option<String>,
    pub commit_specifier: Option<String>,
    pub folder_path: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFolderOutput {
    pub commit_id: String,
    pub folder_path: String,
    pub tree_id: String,
    pub sub_folders: Vec<Folder>,
    pub files: Vec<File>,
    pub symbolic_links: Vec<File>,
    pub sub_modules: Vec<SubModule>,
}

/// A folder in a folder (CodeCommit's `Folder`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    pub tree_id: String,
    pub absolute_path: String,
    pub relative_path: String,
}

/// A file or a symbolic link in a folder (CodeCommit's `File` and `SymbolicLink`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    pub blob_id: String,
    pub absolute_path: String,
    pub relative_path: String,
    pub file_mode: &'static str,
}

/// A submodule in a folder (CodeCommit's `SubModule`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubModule {
    pub commit_id: String,
    pub absolute_path: String,
    pub relative_path: String,
}

pub async fn get_folder(ctx: &Context, input: GetFolderInput) -> Result<GetFolderOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let requested = input.folder_path.as_deref().ok_or_else(|| {
        error("PathRequiredException", "The folderPath for the location cannot be null.")
    })?;
    let specifier = input.commit_specifier.as_deref();
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
            ("tree", _) => folders.push(Folder {
                tree_id: entry.object,
                absolute_path: absolute,
                relative_path: entry.path,
            }),
            ("commit", _) => modules.push(SubModule {
                commit_id: entry.object,
                absolute_path: absolute,
                relative_path: entry.path,
            }),
            (_, mode) => {
                let item = File {
                    blob_id: entry.object,
                    absolute_path: absolute,
                    relative_path: entry.path,
                    file_mode: file_mode(mode),
                };
                if mode == "120000" { links.push(item) } else { files.push(item) }
            }
        }
    }
    Ok(GetFolderOutput {
        commit_id: commit,
        folder_path: requested.to_owned(),
        tree_id: tree,
        sub_folders: folders,
        files,
        symbolic_links: links,
        sub_modules: modules,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetCommitsInput {
    pub commit_ids: Option<Vec<String>>,
    pub repository_name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BatchGetCommitsOutput {
    pub commits: Vec<Commit>,
    pub errors: Vec<BatchGetCommitsError>,
}

/// A commit a batch did not find (CodeCommit's `BatchGetCommitsError`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetCommitsError {
    pub commit_id: String,
    pub error_code: String,
    pub error_message: String,
}

pub async fn batch_get_commits(
    ctx: &Context,
    input: BatchGetCommitsInput,
) -> Result<BatchGetCommitsOutput, ApiError> {
    let ids = input.commit_ids.ok_or_else(|| {
        error("CommitIdsListRequiredException", "A list of commit IDs is required")
    })?;
    if ids.len() > MAX_COMMIT_IDS {
        return Err(error(
            "CommitIdsLimitExceededException",
            format!("At most {MAX_COMMIT_IDS} commit IDs may be given"),
        ));
    }
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let (mut commits, mut errors) = (Vec::new(), Vec::new());
    for id in ids {
        let found =
            if is_object_id(&id) { read_commit(ctx, &repository.key, &id).await? } else { None };
        match found {
            Some(commit) => commits.push(commit),
            None => errors.push(BatchGetCommitsError {
                error_code: "CommitDoesNotExistException".to_owned(),
                error_message: format!("Commit {id} does not exist"),
                commit_id: id,
            }),
        }
    }
    Ok(BatchGetCommitsOutput { commits, errors })
}

/// One side of a change (CodeCommit's `BlobMetadata`): the blob, its path and git's mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobMetadata {
    pub blob_id: String,
    pub path: String,
    pub mode: String,
}

/// One change between two commits (CodeCommit's `Difference`): `A`dded (no before),
/// `D`eleted (no after) or `M`odified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_blob: Option<BlobMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_blob: Option<BlobMetadata>,
    pub change_type: &'static str,
}

/// One change between two trees: `git diff-tree --raw -z` gives
/// `:<old mode> <new mode> <old blob> <new blob> <status>\0<path>\0` per change.
pub(super) fn parse_raw_diff(raw: &[u8]) -> Vec<Difference> {
    let mut differences = Vec::new();
    let mut fields = raw.split(|b| *b == 0).filter(|it| !it.is_empty());
    while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
        let meta = String::from_utf8_lossy(meta);
        let path = String::from_utf8_lossy(path).into_owned();
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let [old_mode, new_mode, old_blob, new_blob, status] = parts[..] else { continue };
        let blob = |id: &str, mode: &str| BlobMetadata {
            blob_id: id.to_owned(),
            path: path.clone(),
            mode: mode.to_owned(),
        };
        let difference = match status.chars().next() {
            Some('A') => Difference {
                before_blob: None,
                after_blob: Some(blob(new_blob, new_mode)),
                change_type: "A",
            },
            Some('D') => Difference {
                before_blob: Some(blob(old_blob, old_mode)),
                after_blob: None,
                change_type: "D",
            },
            // A type change (file to symlink, say) is a modification of the path to CodeCommit.
            _ => Difference {
                before_blob: Some(blob(old_blob, old_mode)),
                after_blob: Some(blob(new_blob, new_mode)),
                change_type: "M",
            },
        };
        differences.push(difference);
    }
    differences
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetDifferencesInput {
    pub repository_name: Option<String>,
    pub before_commit_specifier: Option<String>,
    pub after_commit_specifier: Option<String>,
    pub before_path: Option<String>,
    pub after_path: Option<String>,
    /// Any JSON number, so that a negative or fractional one is CodeCommit's own error.
    #[serde(rename = "MaxResults")]
    pub max_results: Option<serde_json::Number>,
    #[serde(rename = "NextToken")]
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GetDifferencesOutput {
    pub differences: Vec<Difference>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub async fn get_differences(
    ctx: &Context,
    input: GetDifferencesInput,
) -> Result<GetDifferencesOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let after = input
        .after_commit_specifier
        .as_deref()
        .filter(|it| !it.is_empty())
        .ok_or_else(|| error("CommitRequiredException", "A commit specifier is required"))?;
    let after = resolve_commit(ctx, &repository.key, Some(after)).await?;
    let before = match input.before_commit_specifier.as_deref() {
        Some(it) if !it.is_empty() => resolve_commit(ctx, &repository.key, Some(it)).await?,
        _ => EMPTY_TREE.to_owned(),
    };
    let limit = match &input.max_results {
        None => DIFFERENCES_PAGE,
        Some(value) => value
            .as_u64()
            .filter(|it| *it > 0)
            .and_then(|it| usize::try_from(it).ok())
            .ok_or_else(|| error("InvalidMaxResultsException", "MaxResults is not valid"))?,
    };
    let start = match input.next_token.as_deref() {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| error("InvalidContinuationTokenException", "Invalid NextToken"))?,
        None => 0,
    };
    // Each side's path must exist on its side; both restrict what is compared.
    let mut paths = Vec::new();
    for (path, commit) in [(&input.before_path, &before), (&input.after_path, &after)] {
        let Some(path) = path.as_deref() else { continue };
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
    let next_token =
        (start.saturating_add(limit) < differences.len()).then(|| (start + limit).to_string());
    Ok(GetDifferencesOutput {
        differences: differences.into_iter().skip(start).take(limit).collect(),
        next_token,
    })
}
