//! CodeCommit's writes without a work tree: PutFile and CreateCommit.
//!
//! Both build the new commit with git plumbing on the bare repository: the parent's files are
//! read into memory (`ls-tree -r`), the request changes them there, new content becomes blobs
//! (`hash-object -w`), and the result is written into a temporary index file
//! (`GIT_INDEX_FILE`, `update-index --index-info`) that `write-tree` turns into the tree that
//! `commit-tree` commits. The branch moves with `update-ref <branch> <new> <old>`, a
//! compare-and-swap: a push that moved the branch meanwhile makes the request fail with
//! `ParentCommitIdOutdatedException` instead of being overwritten. The move is recorded as a
//! `ref-event`, as a push's would be.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::read::{EMPTY_TREE, tree_entries};
use super::{
    branch_commit, default_branch, error, existing_named, file_mode, git, is_object_id, modify,
    required_branch, text,
};
use crate::Context;
use awsapi::ApiError;
use awsapi::Caller;

/// The largest file content one request may carry, as CodeCommit limits it.
const MAX_CONTENT: usize = 6 * 1024 * 1024;
/// The longest file path, in bytes, as CodeCommit limits it.
const MAX_PATH: usize = 4096;
/// The longest name of one file or folder in a path (file systems' limit).
const MAX_NAME: usize = 255;
/// The most file entries one CreateCommit may carry.
const MAX_ENTRIES: usize = 100;
/// The file CodeCommit leaves in a folder a commit empties, when asked to keep it.
const KEEP_FILE: &str = ".gitkeep";
const NORMAL: &str = "100644";
const SUBMODULE: &str = "160000";

/// A commit's files: path → (mode, object id).
pub(super) type Files = BTreeMap<String, (String, String)>;

/// What a new commit builds on: the branch's tip (none for a new branch) and its files.
struct Base {
    tip: Option<String>,
    files: Files,
}

/// A temporary index file in the repository's directory, removed when dropped.
struct ScratchIndex(PathBuf);

impl Drop for ScratchIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs git in a repository with extra environment and, optionally, standard input; its
/// standard output on success, `None` when git fails.
async fn run(
    ctx: &Context,
    repository: &str,
    envs: &[(&str, &str)],
    args: &[&str],
    input: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, ApiError> {
    let mut command = crate::process::git();
    command.arg("--git-dir").arg(ctx.repo_path(repository)).args(args).envs(envs.iter().copied());
    let output = crate::process::run_bounded(command, input, crate::process::API_LIMITS)
        .await
        .map_err(ApiError::internal)?;
    Ok(output.status.success().then_some(output.stdout))
}

/// Stores content as a blob; its id.
async fn hash(ctx: &Context, repository: &str, content: &[u8]) -> Result<String, ApiError> {
    run(ctx, repository, &[], &["hash-object", "-w", "--stdin"], Some(content))
        .await?
        .map(text)
        .ok_or_else(|| ApiError::internal("git hash-object failed"))
}

/// A `filePath`-like member as a path in the tree, checked as CodeCommit checks paths.
fn file_path(value: Option<&str>) -> Result<String, ApiError> {
    let raw = value.unwrap_or_default();
    let path = raw.trim_start_matches('/');
    if path.is_empty() {
        return Err(error("PathRequiredException", "A file path is required"));
    }
    // CodeCommit takes paths of at most 4,096 bytes; a name longer than a file system's
    // 255 bytes could never be checked out by a clone.
    let valid = path.len() <= MAX_PATH
        && !path.ends_with('/')
        && !path.contains('\0')
        && path.split('/').all(|it| {
            !it.is_empty()
                && it.len() <= MAX_NAME
                && it != "."
                && it != ".."
                && !it.eq_ignore_ascii_case(".git")
        });
    if valid {
        Ok(path.to_owned())
    } else {
        let shown: String = raw.chars().take(200).collect();
        let more = if shown.len() < raw.len() { "…" } else { "" };
        Err(error(
            "InvalidPathException",
            format!(
                "The path {shown}{more} is not valid: at most {MAX_PATH} bytes, each name at most {MAX_NAME}"
            ),
        ))
    }
}

/// A `FileModeTypeEnum` as a git mode; `None` when not given.
fn git_mode(value: Option<&str>) -> Result<Option<&'static str>, ApiError> {
    match value {
        None => Ok(None),
        Some("NORMAL") => Ok(Some(NORMAL)),
        Some("EXECUTABLE") => Ok(Some("100755")),
        Some("SYMLINK") => Ok(Some("120000")),
        Some(other) => {
            Err(error("InvalidFileModeException", format!("The file mode {other} is not valid")))
        }
    }
}

/// Base64 file content, decoded and size-checked.
fn content(encoded: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = awsapi::base64::decode(encoded)
        .ok_or_else(|| error("SerializationException", "File content is not valid base64"))?;
    if bytes.len() > MAX_CONTENT {
        return Err(error(
            "FileContentSizeLimitExceededException",
            "The file content is larger than 6 MB",
        ));
    }
    Ok(bytes)
}

/// The branch tip a new commit builds on, after CodeCommit's rules for `parentCommitId`: the
/// parent is required, and must be the tip, once the branch exists; a branch that does not
/// exist can only be made this way in an empty repository.
async fn base(
    ctx: &Context,
    repository: &str,
    branch: &str,
    parent: Option<&str>,
) -> Result<Base, ApiError> {
    let parent = parent.filter(|it| !it.is_empty());
    if let Some(parent) = parent {
        if !is_object_id(parent) {
            return Err(error(
                "InvalidParentCommitIdException",
                format!("The parent commit ID {parent} is not valid"),
            ));
        }
        if git(ctx, repository, &["cat-file", "-e", &format!("{parent}^{{commit}}")])
            .await?
            .is_none()
        {
            return Err(error(
                "ParentCommitDoesNotExistException",
                format!("The parent commit {parent} does not exist"),
            ));
        }
    }
    let tip = branch_commit(ctx, repository, branch).await?;
    match (&tip, parent) {
        (Some(_), None) => {
            return Err(error(
                "ParentCommitIdRequiredException",
                format!("A parent commit ID is required: branch {branch} already exists"),
            ));
        }
        (Some(tip), Some(parent)) if !tip.eq_ignore_ascii_case(parent) => {
            return Err(error(
                "ParentCommitIdOutdatedException",
                format!("The parent commit ID {parent} is not the tip of branch {branch} ({tip})"),
            ));
        }
        (Some(_), Some(_)) => {}
        (None, _) => {
            let any = git(ctx, repository, &["for-each-ref", "--count=1", "refs/heads"])
                .await?
                .map(text)
                .unwrap_or_default();
            if !any.is_empty() {
                return Err(error(
                    "BranchDoesNotExistException",
                    format!("Branch {branch} does not exist"),
                ));
            }
        }
    }
    let mut files = Files::new();
    if let Some(tip) = &tip {
        let listed = git(ctx, repository, &["ls-tree", "-r", "-z", "--full-tree", tip])
            .await?
            .ok_or_else(|| ApiError::internal(format!("git ls-tree {tip} failed")))?;
        for entry in tree_entries(&listed) {
            files.insert(entry.path, (entry.mode, entry.object));
        }
    }
    Ok(Base { tip, files })
}

/// Puts a file at `path`, refusing what would turn a file into a folder or the reverse.
pub(super) fn place(files: &mut Files, path: &str, mode: &str, blob: &str) -> Result<(), ApiError> {
    if files.get(path).is_some_and(|(mode, _)| mode == SUBMODULE) {
        return Err(error(
            "FilePathConflictsWithSubmodulePathException",
            format!("The path {path} is a submodule"),
        ));
    }
    let folder = format!("{path}/");
    if files.range(folder.clone()..).next().is_some_and(|(it, _)| it.starts_with(&folder)) {
        return Err(error(
            "FileNameConflictsWithDirectoryNameException",
            format!("The file {path} has the name of an existing folder"),
        ));
    }
    for (at, _) in path.match_indices('/') {
        let above = &path[..at];
        if let Some((mode, _)) = files.get(above) {
            let code = if mode == SUBMODULE {
                "FilePathConflictsWithSubmodulePathException"
            } else {
                "DirectoryNameConflictsWithFileNameException"
            };
            return Err(error(code, format!("The folder {above} of {path} is a file")));
        }
    }
    files.insert(path.to_owned(), (mode.to_owned(), blob.to_owned()));
    Ok(())
}

/// Who a commit is by: the given name and email, or the caller's.
fn author<'a>(
    caller: &'a Caller,
    name: Option<&'a str>,
    email: Option<&'a str>,
) -> (String, String) {
    let name = name.filter(|it| !it.trim().is_empty()).unwrap_or(&caller.user);
    let email = match email.filter(|it| !it.trim().is_empty()) {
        Some(it) => it.to_owned(),
        None => format!("{}@slipway", caller.user),
    };
    (name.to_owned(), email)
}

/// A commit to make: what it builds on, its files, who made it and why.
struct NewCommit<'a> {
    repository: &'a str,
    branch: &'a str,
    base: &'a Base,
    files: &'a Files,
    name: &'a str,
    email: &'a str,
    message: &'a str,
    /// When the commit is made (ms).
    now: i64,
}

/// Commits the files and moves the branch; `None` when the tree would not change.
async fn commit(
    ctx: &Context,
    caller: &Caller,
    new: NewCommit<'_>,
) -> Result<Option<(String, String)>, ApiError> {
    let repository = new.repository;
    if new.name.len() > 1024 {
        return Err(error("NameLengthExceededException", "The name is longer than 1024 bytes"));
    }
    if new.email.contains(['<', '>', '\n']) {
        return Err(error(
            "InvalidEmailException",
            format!("The email {} is not valid", new.email),
        ));
    }
    if new.message.len() > 100 * 1024 {
        return Err(error(
            "CommitMessageLengthExceededException",
            "The commit message is longer than 100 KB",
        ));
    }
    let index = ScratchIndex(
        ctx.repo_path(repository).join(format!("slipway-index-{}", uuid::Uuid::new_v4())),
    );
    let index_file = index.0.to_string_lossy().into_owned();
    let env = [("GIT_INDEX_FILE", index_file.as_str())];
    let mut records = Vec::new();
    for (path, (mode, object)) in new.files {
        records.extend_from_slice(format!("{mode} {object}\t{path}\0").as_bytes());
    }
    run(ctx, repository, &env, &["update-index", "-z", "--index-info"], Some(&records))
        .await?
        .ok_or_else(|| ApiError::internal("git update-index failed"))?;
    let tree = run(ctx, repository, &env, &["write-tree"], None)
        .await?
        .map(text)
        .ok_or_else(|| ApiError::internal("git write-tree failed"))?;
    drop(index);
    let old_tree = match &new.base.tip {
        Some(tip) => {
            git(ctx, repository, &["rev-parse", &format!("{tip}^{{tree}}")]).await?.map(text)
        }
        None => Some(EMPTY_TREE.to_owned()),
    };
    if old_tree.as_deref() == Some(tree.as_str()) {
        return Ok(None);
    }
    let date = format!("@{} +0000", new.now.div_euclid(1000));
    let identity = [
        ("GIT_AUTHOR_NAME", new.name),
        ("GIT_AUTHOR_EMAIL", new.email),
        ("GIT_AUTHOR_DATE", date.as_str()),
        ("GIT_COMMITTER_NAME", new.name),
        ("GIT_COMMITTER_EMAIL", new.email),
        ("GIT_COMMITTER_DATE", date.as_str()),
    ];
    let mut args = vec!["commit-tree", tree.as_str()];
    if let Some(tip) = &new.base.tip {
        args.extend(["-p", tip.as_str()]);
    }
    // The message goes on standard input, verbatim: `-m` would be re-wrapped by git.
    let made = run(ctx, repository, &identity, &args, Some(new.message.as_bytes()))
        .await?
        .map(text)
        .ok_or_else(|| ApiError::internal("git commit-tree failed"))?;
    let reference = format!("refs/heads/{}", new.branch);
    let old = new.base.tip.clone().unwrap_or_else(|| "0".repeat(40));
    if git(ctx, repository, &["update-ref", &reference, &made, &old]).await?.is_none() {
        return Err(error(
            "ParentCommitIdOutdatedException",
            format!("Branch {} moved while the commit was being made", new.branch),
        ));
    }
    if new.base.tip.is_none() {
        // The first branch of an empty repository becomes its default, as in CodeCommit.
        let default = default_branch(ctx, repository).await?;
        let has_default = match &default {
            Some(it) => branch_commit(ctx, repository, it).await?.is_some(),
            None => false,
        };
        if !has_default {
            git(ctx, repository, &["symbolic-ref", "HEAD", &reference]).await?;
            let branch = new.branch.to_owned();
            modify(ctx, repository, new.now, move |body| {
                body["defaultBranch"] = serde_json::json!(branch);
                Ok(())
            })
            .await?;
        }
    }
    // The commit is made and the branch moved: a failure to record the event must not make
    // the client retry what already happened.
    if let Err(err) =
        crate::refs::record_ref_update(ctx, repository, &caller.user, &reference, &old, &made).await
    {
        tracing::error!(repository, %err, "recording the ref event of a commit");
    }
    Ok(Some((made, tree)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutFileInput {
    pub repository_name: Option<String>,
    pub branch_name: Option<String>,
    /// Base64, as the JSON protocol writes blobs.
    pub file_content: Option<String>,
    pub file_path: Option<String>,
    pub file_mode: Option<String>,
    pub parent_commit_id: Option<String>,
    pub commit_message: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutFileOutput {
    pub commit_id: String,
    pub blob_id: String,
    pub tree_id: String,
}

pub async fn put_file(
    ctx: &Context,
    caller: &Caller,
    input: PutFileInput,
    now: i64,
) -> Result<PutFileOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let branch = required_branch(input.branch_name.as_deref())?;
    let bytes = match input.file_content.as_deref() {
        None => {
            return Err(error("FileContentRequiredException", "File content is required"));
        }
        Some(value) => content(value)?,
    };
    let path = file_path(input.file_path.as_deref())?;
    let mode = git_mode(input.file_mode.as_deref())?;
    let base = base(ctx, &repository.key, branch, input.parent_commit_id.as_deref()).await?;
    let blob = hash(ctx, &repository.key, &bytes).await?;
    let existing_mode = base.files.get(&path).map(|(mode, _)| mode.as_str());
    let mode = mode.or(existing_mode.filter(|it| *it != SUBMODULE)).unwrap_or(NORMAL).to_owned();
    let same = || {
        error(
            "SameFileContentException",
            format!("The file {path} already has this content and mode"),
        )
    };
    if base.files.get(&path) == Some(&(mode.clone(), blob.clone())) {
        return Err(same());
    }
    let mut files = base.files.clone();
    place(&mut files, &path, &mode, &blob)?;
    let (name, email) = author(caller, input.name.as_deref(), input.email.as_deref());
    let new = NewCommit {
        repository: &repository.key,
        branch,
        base: &base,
        files: &files,
        name: &name,
        email: &email,
        message: input.commit_message.as_deref().unwrap_or_default(),
        now,
    };
    let Some((commit, tree)) = commit(ctx, caller, new).await? else { return Err(same()) };
    Ok(PutFileOutput { commit_id: commit, blob_id: blob, tree_id: tree })
}

/// A file's path, object and mode in a commit (CodeCommit's `FileMetadata`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMetadata {
    pub absolute_path: String,
    pub blob_id: String,
    pub file_mode: &'static str,
}

/// The `FileMetadata` of each path whose entry is in `files` but not `other`, or differs.
fn metadata_where(
    files: &Files,
    keep: impl Fn(&str, &(String, String)) -> bool,
) -> Vec<FileMetadata> {
    files
        .iter()
        .filter(|(path, entry)| keep(path, entry))
        .map(|(path, (mode, blob))| FileMetadata {
            absolute_path: path.clone(),
            blob_id: blob.clone(),
            file_mode: file_mode(mode),
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCommitInput {
    pub repository_name: Option<String>,
    pub branch_name: Option<String>,
    pub parent_commit_id: Option<String>,
    pub author_name: Option<String>,
    pub email: Option<String>,
    pub commit_message: Option<String>,
    pub keep_empty_folders: Option<bool>,
    pub put_files: Option<Vec<PutFileEntry>>,
    pub delete_files: Option<Vec<DeleteFileEntry>>,
    pub set_file_modes: Option<Vec<SetFileModeEntry>>,
}

/// A file CreateCommit writes: its content (base64) or another file of the parent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutFileEntry {
    pub file_path: Option<String>,
    pub file_mode: Option<String>,
    pub file_content: Option<String>,
    pub source_file: Option<SourceFileSpecifier>,
}

/// The file of the parent a `PutFileEntry` copies or moves.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceFileSpecifier {
    pub file_path: Option<String>,
    pub is_move: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteFileEntry {
    pub file_path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetFileModeEntry {
    pub file_path: Option<String>,
    pub file_mode: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCommitOutput {
    pub commit_id: String,
    pub tree_id: String,
    pub files_added: Vec<FileMetadata>,
    pub files_updated: Vec<FileMetadata>,
    pub files_deleted: Vec<FileMetadata>,
}

pub async fn create_commit(
    ctx: &Context,
    caller: &Caller,
    input: CreateCommitInput,
    now: i64,
) -> Result<CreateCommitOutput, ApiError> {
    let repository = existing_named(ctx, input.repository_name.as_deref()).await?;
    let branch = required_branch(input.branch_name.as_deref())?;
    let (puts, deletes, modes) = (
        input.put_files.as_deref().unwrap_or_default(),
        input.delete_files.as_deref().unwrap_or_default(),
        input.set_file_modes.as_deref().unwrap_or_default(),
    );
    let count = puts.len() + deletes.len() + modes.len();
    if count == 0 {
        return Err(error("FileEntryRequiredException", "At least one file change is required"));
    }
    if count > MAX_ENTRIES {
        return Err(error(
            "MaximumFileEntriesExceededException",
            format!("At most {MAX_ENTRIES} file changes may be made in one commit"),
        ));
    }
    // Every path is changed by one entry at most (a move changes its source too).
    let mut seen = BTreeSet::new();
    let mut claim = |path: &str| {
        if seen.insert(path.to_owned()) {
            Ok(())
        } else {
            Err(error(
                "SamePathRequestException",
                format!("The path {path} is changed more than once"),
            ))
        }
    };
    let mut deleted = Vec::new();
    for entry in deletes {
        let path = file_path(entry.file_path.as_deref())?;
        claim(&path)?;
        deleted.push(path);
    }
    // (path, mode if given, content or (source, is move))
    let mut writes = Vec::new();
    for entry in puts {
        let path = file_path(entry.file_path.as_deref())?;
        claim(&path)?;
        let mode = git_mode(entry.file_mode.as_deref())?;
        let given = entry.file_content.as_deref();
        let source = entry.source_file.as_ref();
        let what = match (given, source) {
            (Some(_), Some(_)) => {
                return Err(error(
                    "FileContentAndSourceFileSpecifiedException",
                    format!("Give either content or a source file for {path}, not both"),
                ));
            }
            (None, None) => {
                return Err(error(
                    "SourceFileOrContentRequiredException",
                    format!("Content or a source file is required for {path}"),
                ));
            }
            (Some(value), None) => Ok(content(value)?),
            (None, Some(source)) => {
                let from = file_path(source.file_path.as_deref())?;
                let is_move = source.is_move.unwrap_or(false);
                if is_move {
                    claim(&from)?;
                }
                Err((from, is_move))
            }
        };
        writes.push((path, mode, what));
    }
    let mut changed_modes = Vec::new();
    for entry in modes {
        let path = file_path(entry.file_path.as_deref())?;
        claim(&path)?;
        let mode = git_mode(entry.file_mode.as_deref())?.ok_or_else(|| {
            error("FileModeRequiredException", format!("A file mode is required for {path}"))
        })?;
        changed_modes.push((path, mode));
    }
    let keep_empty = input.keep_empty_folders.unwrap_or(false);

    let base = base(ctx, &repository.key, branch, input.parent_commit_id.as_deref()).await?;
    let missing =
        |path: &str| error("FileDoesNotExistException", format!("The file {path} does not exist"));
    let mut files = base.files.clone();
    let mut removed = Vec::new();
    for path in deleted {
        files.remove(&path).ok_or_else(|| missing(&path))?;
        removed.push(path);
    }
    let mut placed = Vec::new();
    for (path, mode, what) in writes {
        let (mode, blob) = match what {
            Ok(bytes) => {
                let existing_mode = base.files.get(&path).map(|(mode, _)| mode.as_str());
                let mode = mode.or(existing_mode.filter(|it| *it != SUBMODULE)).unwrap_or(NORMAL);
                (mode.to_owned(), hash(ctx, &repository.key, &bytes).await?)
            }
            Err((from, is_move)) => {
                let (source_mode, blob) = base
                    .files
                    .get(&from)
                    .filter(|(mode, _)| mode != SUBMODULE)
                    .cloned()
                    .ok_or_else(|| missing(&from))?;
                if is_move {
                    files.remove(&from);
                    removed.push(from);
                }
                (mode.map_or(source_mode, str::to_owned), blob)
            }
        };
        placed.push((path, mode, blob));
    }
    for (path, mode, blob) in &placed {
        place(&mut files, path, mode, blob)?;
    }
    for (path, mode) in changed_modes {
        let entry = files
            .get_mut(&path)
            .filter(|(mode, _)| mode != SUBMODULE)
            .ok_or_else(|| missing(&path))?;
        entry.0 = mode.to_owned();
    }
    if keep_empty {
        // git has no empty folders: the deepest folder a commit empties keeps a placeholder
        // file (which keeps the folders above it too).
        let mut candidates: Vec<String> = removed
            .iter()
            .flat_map(|path| path.match_indices('/').map(|(at, _)| format!("{}/", &path[..at])))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        candidates.sort_by_key(|it| std::cmp::Reverse(it.len()));
        let mut empty = None;
        for folder in candidates {
            let still =
                files.range(folder.clone()..).next().is_some_and(|(it, _)| it.starts_with(&folder));
            if still {
                continue;
            }
            let blob = match &empty {
                Some(it) => String::clone(it),
                None => hash(ctx, &repository.key, b"").await?,
            };
            empty = Some(blob.clone());
            files.insert(format!("{folder}{KEEP_FILE}"), (NORMAL.to_owned(), blob));
        }
    }

    let (name, email) = author(caller, input.author_name.as_deref(), input.email.as_deref());
    let new = NewCommit {
        repository: &repository.key,
        branch,
        base: &base,
        files: &files,
        name: &name,
        email: &email,
        message: input.commit_message.as_deref().unwrap_or_default(),
        now,
    };
    let Some((commit, tree)) = commit(ctx, caller, new).await? else {
        return Err(error("NoChangeException", "The commit would not change any file"));
    };
    let before = &base.files;
    Ok(CreateCommitOutput {
        commit_id: commit,
        tree_id: tree,
        files_added: metadata_where(&files, |path, _| !before.contains_key(path)),
        files_updated: metadata_where(&files, |path, entry| {
            before.get(path).is_some_and(|old| old != entry)
        }),
        files_deleted: metadata_where(before, |path, _| !files.contains_key(path)),
    })
}
