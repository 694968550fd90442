//! Branch protection: per repository, rules naming which users alone may push to, force-push
//! or delete the branches a pattern matches, enforced as IAM policy.
//!
//! The rules of a repository are one `branch-protection` document keyed by its name, whose
//! body is `{ "rules": [ { "branch", "push", "forcePush", "delete" } ] }`; a list names the
//! only users allowed (their IAM user names), `null` lets anyone. Every rule matching a branch
//! must allow the action. Only `refs/heads/*` are protected. A pattern is matched as IAM's
//! `StringLike` matches: `*` is any run of characters (`/` included), `?` one character; a
//! `**` means the same as `*`.
//!
//! The rules are enforced by the one mechanism every permission has: every change of them
//! rewrites, in the same transaction, the account-level customer-managed policy
//! `iam::policies::BRANCH_PROTECTION_POLICY` (path `/slipway/`), which applies to every user
//! besides their own policies, so that its explicit denies beat any allow ([`statements`]: per
//! rule and list, a `Deny` of the actions that move or delete a branch, on the repository,
//! with AWS's conditions from "Limit pushes and merges to branches in AWS CodeCommit":
//! `StringLikeIfExists` `codecommit:References` the pattern's refs, `Null`
//! `codecommit:References` `false`, and `StringNotEquals` `aws:username` the users the list
//! allows). Policies apply to each API operation and to a push before git sees it.
//!
//! What a policy cannot say is what kind of update a git push makes: `codecommit:GitPush` is
//! the action of a fast-forward, a rewrite and a delete alike (AWS's `DeleteBranch` applies
//! to the API only). So the `forcePush` and `delete` lists of a git push are checked where
//! that is known: in the repository's `pre-receive` hook ([`HOOK`]), which runs after the
//! objects arrive and before any ref moves, and refuses the whole push by failing. The hook
//! knows nothing of rules: as soon as a push's commands have been read, the server writes
//! the verdicts for this user and these refs into a policy file (one
//! `ref<TAB>action<TAB>reason` line per refused ref and action) whose path receive-pack hands
//! down in `SLIPWAY_PUSH_POLICY`; the hook only works out which action each update is
//! (`git merge-base --is-ancestor` tells a fast-forward from a force push) and looks it up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use awsapi::ApiError;
use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Context;
use crate::refs::RefCommand;
use engine::kinds::{BRANCH_PROTECTION, INSTALLATION, POLICY, USER};
use iam::policies::BRANCH_PROTECTION_POLICY;

/// The environment variable naming a push's policy file for the hook.
pub const POLICY_ENV: &str = "SLIPWAY_PUSH_POLICY";

/// The `pre-receive` hook. It fails closed: a policy named but missing (the server could not
/// read the push's commands, or could not write the file) refuses the push.
pub(crate) const HOOK: &str = r#"#!/bin/sh
# Slipway branch protection (written by the server; changes are overwritten).
# SLIPWAY_PUSH_POLICY names a file of "ref<TAB>action<TAB>reason" lines: the refused
# combinations for this push ("*" matches any ref or action).
policy="${SLIPWAY_PUSH_POLICY:-}"
[ -n "$policy" ] || exit 0
if [ ! -f "$policy" ]; then
    echo "refused: the push could not be checked against the branch protection rules" >&2
    exit 1
fi
tab="$(printf '\t')"
refused=0
while read -r old new ref; do
    case "$new" in
    *[!0]*)
        case "$old" in
        *[!0]*)
            if git merge-base --is-ancestor "$old" "$new" 2>/dev/null; then
                action=push
            else
                action=force-push
            fi
            ;;
        *) action=push ;;
        esac
        ;;
    *) action=delete ;;
    esac
    while IFS="$tab" read -r rule_ref rule_action reason; do
        if { [ "$rule_ref" = "*" ] || [ "$rule_ref" = "$ref" ]; } &&
            { [ "$rule_action" = "*" ] || [ "$rule_action" = "$action" ]; }; then
            echo "refused: $reason" >&2
            refused=1
        fi
    done <"$policy"
done
exit $refused
"#;

/// One rule: who alone may do what to the branches `branch` matches (`None`: anyone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BranchRule {
    /// A branch name (`main`) or a glob (`release/*`; `*` and `?` stay within one `/`
    /// component, `**` crosses them).
    pub branch: String,
    #[serde(default)]
    pub push: Option<Vec<String>>,
    #[serde(default)]
    pub force_push: Option<Vec<String>>,
    #[serde(default)]
    pub delete: Option<Vec<String>>,
}

/// What a git push's update does to a branch that policy cannot tell (a create or a
/// fast-forward is a plain `codecommit:GitPush`, which the policy decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// An update that is not a fast-forward.
    ForcePush,
    Delete,
}

impl Action {
    /// The word the hook and the messages use.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Action::ForcePush => "force-push",
            Action::Delete => "delete",
        }
    }
}

/// Whether `branch` (without `refs/heads/`) matches `pattern`, as IAM's `StringLike` matches
/// the pattern's ref ([`reference_pattern`]) against the ref: `*` any run of characters, `?`
/// any one.
pub(crate) fn glob_matches(pattern: &str, branch: &str) -> bool {
    fn go(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => (0..=text.len()).any(|skip| go(rest, &text[skip..])),
            Some((b'?', rest)) => !text.is_empty() && go(rest, &text[1..]),
            Some((literal, rest)) => text.first() == Some(literal) && go(rest, &text[1..]),
        }
    }
    let pattern = iam_pattern(pattern);
    go(pattern.as_bytes(), branch.as_bytes())
}

/// A rule's pattern as IAM's `StringLike` takes it: `**` is `*`.
fn iam_pattern(pattern: &str) -> String {
    let mut out = pattern.to_owned();
    while out.contains("**") {
        out = out.replace("**", "*");
    }
    out
}

/// The `codecommit:References` pattern of a rule's branch pattern: `refs/heads/release/*`. A
/// `$` (git allows it in branch names) is written `${$}`, so that the policy never reads a
/// branch name as a policy variable.
pub fn reference_pattern(branch: &str) -> String {
    format!("refs/heads/{}", iam_pattern(branch).replace('$', "${$}"))
}

/// The actions a rule's `push` list guards: every one that moves a branch (git's push, and
/// the API's operations that make a commit on it, create it or merge into it).
pub const PUSH_ACTIONS: &[&str] = &[
    "codecommit:GitPush",
    "codecommit:CreateBranch",
    "codecommit:CreateCommit",
    "codecommit:PutFile",
    "codecommit:DeleteFile",
    "codecommit:MergeBranchesBy*",
    "codecommit:MergePullRequestBy*",
];

/// The actions a rule's `delete` list guards: the API's. A git push that deletes a branch is
/// a `codecommit:GitPush` like any other, which the hook tells apart.
pub const DELETE_ACTIONS: &[&str] = &["codecommit:DeleteBranch"];

/// The Deny statements of every repository's rules (`all`, by repository name, in order):
/// for each rule, one for its `push` list and one for its `delete` list when they are set,
/// numbered across the account (`BranchProtection1Push`, …). A rule's `forcePush` list has
/// none: only the hook can tell a force push.
pub fn statements(
    region: &str,
    account: &str,
    all: &BTreeMap<String, Vec<BranchRule>>,
) -> Vec<Value> {
    let mut statements = Vec::new();
    let mut number = 0;
    for (repo, rules) in all {
        let resource = format!("arn:aws:codecommit:{region}:{account}:{repo}");
        for rule in rules {
            number += 1;
            let lists =
                [("Push", &rule.push, PUSH_ACTIONS), ("Delete", &rule.delete, DELETE_ACTIONS)];
            for (what, allowed, actions) in lists {
                let Some(allowed) = allowed else { continue };
                let mut condition = json!({
                    "StringLikeIfExists": {
                        "codecommit:References": [reference_pattern(&rule.branch)]
                    },
                    "Null": { "codecommit:References": "false" },
                });
                if !allowed.is_empty() {
                    condition["StringNotEquals"] = json!({ "aws:username": allowed });
                }
                statements.push(json!({
                    "Sid": format!("BranchProtection{number}{what}"),
                    "Effect": "Deny",
                    "Action": actions,
                    "Resource": resource,
                    "Condition": condition,
                }));
            }
        }
    }
    statements
}

/// The account-level policy's document for `all`'s rules; `None` when there are no statements
/// (the policy is then removed).
pub fn policy_document(
    region: &str,
    account: &str,
    all: &BTreeMap<String, Vec<BranchRule>>,
) -> Option<String> {
    let statements = statements(region, account, all);
    if statements.is_empty() {
        return None;
    }
    let document = json!({ "Version": "2012-10-17", "Statement": statements });
    Some(serde_json::to_string_pretty(&document).unwrap_or_default())
}

/// Every repository's rules, by name.
async fn all_rules(ctx: &Context) -> Result<BTreeMap<String, Vec<BranchRule>>, StoreError> {
    let documents = ctx.store.list_all(BRANCH_PROTECTION, None).await?;
    Ok(documents.into_iter().map(|it| (it.key, rules_of(&it.body))).collect())
}

/// The write that brings the account-level policy in line with every repository's rules once
/// `edit` has changed them (a rule set, a repository removed or renamed); `None` when it
/// already is. Part of the transaction that changes the rules.
pub(crate) async fn policy_write(
    ctx: &Context,
    edit: impl FnOnce(&mut BTreeMap<String, Vec<BranchRule>>),
) -> Result<Option<Write>, ApiError> {
    // The policy before the rules: a change committed after this read fails the write's
    // version check, so no rule is ever left out of the policy.
    let existing = ctx.store.get(POLICY, BRANCH_PROTECTION_POLICY).await?;
    let mut all = all_rules(ctx).await?;
    edit(&mut all);
    all.retain(|_, rules| !rules.is_empty());
    let document = policy_document(&ctx.region, &ctx.account, &all);
    iam::policies::account_policy_write(
        &ctx.account,
        existing.as_ref(),
        document.as_deref(),
        engine::clock::now_ms(),
    )
}

/// The field of the installation document that says when the rules stored before branch
/// protection became policy were written as the policy.
pub const CONVERTED_MARKER: &str = "branchProtectionWrittenAsPolicy";

/// Once per installation (the marker [`CONVERTED_MARKER`] in the installation document
/// `installation_key`): writes the account-level policy from the rules that exist, in one
/// transaction with the marker. Whether a policy was written now (`false` when there were no
/// rules, when it was done before, or when there is no installation document).
pub async fn convert_rules_to_policy(
    ctx: &Context,
    installation_key: &str,
) -> Result<bool, ApiError> {
    let Some(mut marker) = ctx.store.get(INSTALLATION, installation_key).await? else {
        return Ok(false);
    };
    if !marker.body[CONVERTED_MARKER].is_null() {
        return Ok(false);
    }
    let mut writes: Vec<Write> = policy_write(ctx, |_| {}).await?.into_iter().collect();
    let written = !writes.is_empty();
    marker.body[CONVERTED_MARKER] = json!(engine::clock::now_ms());
    let version = marker.version;
    writes.push(Write::Update { document: marker, expected_version: version });
    ctx.store.apply(writes).await?;
    Ok(written)
}

/// The statements of the account-level policy, as stored, that protect `repo`'s branches
/// (`slipway branch-protection show`).
pub async fn shown_statements(ctx: &Context, repo: &str) -> Result<Vec<Value>, ApiError> {
    ensure_repository(ctx, repo).await?;
    let Some(document) = ctx.store.get(POLICY, BRANCH_PROTECTION_POLICY).await? else {
        return Ok(Vec::new());
    };
    let resource = format!("arn:aws:codecommit:{}:{}:{repo}", ctx.region, ctx.account);
    let record: iam::policies::PolicyRecord =
        serde_json::from_value(document.body).map_err(ApiError::internal)?;
    let text = record.default_document().unwrap_or("{}");
    let policy: Value = serde_json::from_str(text).map_err(ApiError::internal)?;
    let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    Ok(statements.into_iter().filter(|it| it["Resource"] == resource.as_str()).collect())
}

/// Why `user` may not do `action` to the ref `ref_name` under `rules`; `None` when every
/// matching rule allows it (and for anything but a branch).
pub(crate) fn refusal(
    rules: &[BranchRule],
    user: &str,
    ref_name: &str,
    action: Action,
) -> Option<String> {
    let branch = ref_name.strip_prefix("refs/heads/")?;
    rules.iter().filter(|rule| glob_matches(&rule.branch, branch)).find_map(|rule| {
        let allowed = match action {
            Action::ForcePush => &rule.force_push,
            Action::Delete => &rule.delete,
        };
        let allowed = allowed.as_ref()?;
        if allowed.iter().any(|it| it == user) {
            return None;
        }
        let who = if allowed.is_empty() {
            "nobody".to_owned()
        } else {
            format!("only {}", allowed.join(", "))
        };
        Some(format!(
            "{user} may not {} branch {branch}: {who} may (protection rule {})",
            action.word(),
            rule.branch
        ))
    })
}

/// The policy file's lines for `user`'s push of `commands`: the force pushes and deletes the
/// rules refuse (`None`: the commands could not be read, so everything is refused).
pub(crate) fn policy_lines(
    rules: &[BranchRule],
    user: &str,
    commands: Option<&[RefCommand]>,
) -> String {
    let Some(commands) = commands else {
        return "*\t*\tthe push's ref updates could not be read\n".to_owned();
    };
    let mut lines = String::new();
    for command in commands {
        // A create is a plain push, which the policy decided; an update may be a force
        // push, depending on ancestry, which only the hook can tell.
        let actions: &[Action] = match command.event() {
            "created" => &[],
            "deleted" => &[Action::Delete],
            _ => &[Action::ForcePush],
        };
        for action in actions {
            if let Some(reason) = refusal(rules, user, &command.name, *action) {
                // Tabs and newlines would break the line format; ref names have neither.
                let reason = reason.replace(['\t', '\n'], " ");
                let line = format!("{}\t{}\t{reason}\n", command.name, action.word());
                // A ref named twice (created, then updated) needs its verdict once.
                if !lines.contains(&line) {
                    lines.push_str(&line);
                }
            }
        }
    }
    lines
}

/// The rules of `repo` (none when it has no document).
pub async fn rules(ctx: &Context, repo: &str) -> Result<Vec<BranchRule>, StoreError> {
    Ok(match ctx.store.get(BRANCH_PROTECTION, repo).await? {
        Some(document) => rules_of(&document.body),
        None => Vec::new(),
    })
}

/// The rules of a document body; a malformed body protects nothing but is logged.
fn rules_of(body: &serde_json::Value) -> Vec<BranchRule> {
    match serde_json::from_value(body["rules"].clone()) {
        Ok(rules) => rules,
        Err(err) => {
            tracing::error!(%err, "a branch-protection document is malformed");
            Vec::new()
        }
    }
}

/// Why a rule change failed: the store, or the account-level policy (IAM's error).
#[derive(Debug, thiserror::Error)]
pub enum ProtectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the branch protection policy: {}: {}", .0.code, .0.message)]
    Policy(ApiError),
}

/// How often a rule change retries when another change got there first.
const ATTEMPTS: usize = 5;

/// Adds `rule` to `repo`'s rules, replacing the rule for the same `branch` pattern. The
/// repository must exist, and so must every user the rule names (a typo would lock out
/// everyone, the admin included).
pub async fn set_rule(
    ctx: &Context,
    repo: &str,
    rule: BranchRule,
) -> Result<Vec<BranchRule>, ProtectionError> {
    let named = [&rule.push, &rule.force_push, &rule.delete];
    for user in named.into_iter().flatten().flatten() {
        if ctx.store.get(USER, user).await?.is_none() {
            let (kind, key) = (USER.to_owned(), user.to_owned());
            return Err(StoreError::NotFound { kind, key }.into());
        }
    }
    change(ctx, repo, |rules| {
        match rules.iter_mut().find(|it| it.branch == rule.branch) {
            Some(existing) => *existing = rule.clone(),
            None => rules.push(rule.clone()),
        }
        true
    })
    .await
    .map(|(rules, _)| rules)
}

/// Removes the rule for the `branch` pattern; `false` when there was none.
pub async fn remove_rule(ctx: &Context, repo: &str, branch: &str) -> Result<bool, ProtectionError> {
    change(ctx, repo, |rules| {
        let before = rules.len();
        rules.retain(|it| it.branch != branch);
        rules.len() != before
    })
    .await
    .map(|(_, changed)| changed)
}

/// The rules of an existing repository.
pub async fn list_rules(ctx: &Context, repo: &str) -> Result<Vec<BranchRule>, StoreError> {
    ensure_repository(ctx, repo).await?;
    rules(ctx, repo).await
}

async fn ensure_repository(ctx: &Context, repo: &str) -> Result<(), StoreError> {
    match ctx.store.get(engine::kinds::REPOSITORY, repo).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound {
            kind: engine::kinds::REPOSITORY.to_owned(),
            key: repo.to_owned(),
        }),
    }
}

/// Read, `edit`, write with the versions read (the rules and the account-level policy, in one
/// transaction), again if someone else wrote in between. An empty rule list removes the
/// document.
async fn change(
    ctx: &Context,
    repo: &str,
    mut edit: impl FnMut(&mut Vec<BranchRule>) -> bool,
) -> Result<(Vec<BranchRule>, bool), ProtectionError> {
    ensure_repository(ctx, repo).await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let existing = ctx.store.get(BRANCH_PROTECTION, repo).await?;
        let mut rules = existing.as_ref().map(|it| rules_of(&it.body)).unwrap_or_default();
        if !edit(&mut rules) {
            return Ok((rules, false));
        }
        let document = Document {
            kind: BRANCH_PROTECTION.to_owned(),
            key: repo.to_owned(),
            parent: None,
            sort: 0,
            version: 0,
            body: json!({ "rules": rules }),
        };
        let write = match (&existing, rules.is_empty()) {
            (Some(_), true) => {
                Write::Delete { kind: BRANCH_PROTECTION.to_owned(), key: repo.to_owned() }
            }
            (Some(found), false) => Write::Update { document, expected_version: found.version },
            (None, _) => Write::Insert(document),
        };
        let policy = policy_write(ctx, |all| {
            all.insert(repo.to_owned(), rules.clone());
        })
        .await
        .map_err(ProtectionError::Policy)?;
        let writes = std::iter::once(write).chain(policy).collect();
        match ctx.store.apply(writes).await {
            Ok(()) => return Ok((rules, true)),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. })
                if attempt < ATTEMPTS => {}
            Err(err) => return Err(err.into()),
        }
    }
}

/// Whether a push to a repository with `rules` needs the hook: some rule limits force pushes
/// or deletes (everything else is policy's).
pub fn needs_hook(rules: &[BranchRule]) -> bool {
    rules.iter().any(|it| it.force_push.is_some() || it.delete.is_some())
}

/// Writes the hook into the bare repository `dir` unless it is there already: through a
/// temporary file and a rename, so that a push running it never sees half a script.
pub async fn install_hook(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let hooks = dir.join("hooks");
    let path = hooks.join("pre-receive");
    if tokio::fs::read(&path).await.is_ok_and(|it| it == HOOK.as_bytes()) {
        return Ok(());
    }
    tokio::fs::create_dir_all(&hooks).await?;
    let temporary = hooks.join(format!("pre-receive.{}.tmp", random_id()));
    tokio::fs::write(&temporary, HOOK).await?;
    tokio::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755)).await?;
    if let Err(err) = tokio::fs::rename(&temporary, &path).await {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(err);
    }
    Ok(())
}

fn random_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    hex::encode(bytes)
}

/// One push's policy: where its file goes, and what it is decided from.
#[derive(Debug)]
pub struct PushPolicy {
    pub path: PathBuf,
    rules: Vec<BranchRule>,
    user: String,
}

impl PushPolicy {
    /// A policy for `user`'s push to the repository at `dir` (made absolute: the hook runs
    /// in the repository, not in the server's directory).
    pub fn new(dir: &Path, rules: Vec<BranchRule>, user: &str) -> std::io::Result<Self> {
        let dir = std::path::absolute(dir)?;
        let path = dir.join(format!("slipway-push-{}.policy", random_id()));
        Ok(PushPolicy { path, rules, user: user.to_owned() })
    }

    /// Writes the verdicts for `commands`. On failure the file is missing, and the hook
    /// refuses the push.
    pub async fn write(&self, commands: Option<&[RefCommand]>) {
        let lines = policy_lines(&self.rules, &self.user, commands);
        if let Err(err) = tokio::fs::write(&self.path, lines).await {
            tracing::error!(%err, path = %self.path.display(), "writing a push's policy");
        }
    }
}

#[cfg(test)]
mod tests;
