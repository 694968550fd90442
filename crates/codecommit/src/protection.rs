//! Branch protection: per repository, rules naming which users alone may push to, force-push
//! or delete the branches a pattern matches.
//!
//! The rules of a repository are one `branch-protection` document keyed by its name, whose
//! body is `{ "rules": [ { "branch", "push", "forcePush", "delete" } ] }`; a list names the
//! only users allowed (as `auth` authenticates them), `null` lets anyone. Every rule matching
//! a branch must allow the action. Only `refs/heads/*` are protected.
//!
//! Whether an update is a fast-forward can only be known once git has received the pack, so
//! the check happens in the repository's `pre-receive` hook ([`HOOK`]), which runs after the
//! objects arrive and before any ref moves, and refuses the whole push by failing. The hook
//! knows nothing of rules: as soon as a push's commands have been read, the server writes
//! the verdicts for this user and these refs into a policy file (one
//! `ref<TAB>action<TAB>reason` line per refused ref and action) whose path receive-pack hands
//! down in `SLIPWAY_PUSH_POLICY`; the hook only works out which action each update is
//! (`git merge-base --is-ancestor` tells a fast-forward from a force push) and looks it up.

use std::path::{Path, PathBuf};

use engine::store::{Document, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Context;
use crate::refs::RefCommand;
use engine::kinds::{BRANCH_PROTECTION, USER};

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

/// What a ref update does to a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// A create or a fast-forward.
    Push,
    /// An update that is not a fast-forward.
    ForcePush,
    Delete,
}

impl Action {
    /// The word the hook and the messages use.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Action::Push => "push",
            Action::ForcePush => "force-push",
            Action::Delete => "delete",
        }
    }
}

/// Whether `branch` (without `refs/heads/`) matches `pattern`.
pub(crate) fn glob_matches(pattern: &str, branch: &str) -> bool {
    fn go(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) if rest.first() == Some(&b'*') => {
                let rest = &rest[1..];
                (0..=text.len()).any(|skip| go(rest, &text[skip..]))
            }
            Some((b'*', rest)) => {
                let segment = text.iter().position(|b| *b == b'/').unwrap_or(text.len());
                (0..=segment).any(|skip| go(rest, &text[skip..]))
            }
            Some((b'?', rest)) => text.first().is_some_and(|b| *b != b'/') && go(rest, &text[1..]),
            Some((literal, rest)) => text.first() == Some(literal) && go(rest, &text[1..]),
        }
    }
    go(pattern.as_bytes(), branch.as_bytes())
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
            Action::Push => &rule.push,
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

/// The one check of a ref move made by an API operation (PutFile, CreateCommit, a merge,
/// CreateBranch, DeleteBranch): `refusal` decides, as it does for a push's policy; a refusal
/// is CodeCommit's `AccessDeniedException`, what AWS answers when an IAM deny on
/// `codecommit:References` refuses the operation, with the rule in its message. Call it
/// before anything moves.
pub(crate) async fn check_api_move(
    ctx: &Context,
    caller_user: &str,
    operation: &str,
    repo: &str,
    ref_name: &str,
    action: Action,
) -> Result<(), awsapi::ApiError> {
    let rules = rules(ctx, repo).await?;
    match refusal(&rules, caller_user, ref_name, action) {
        None => Ok(()),
        Some(reason) => Err(awsapi::ApiError::client(
            "AccessDeniedException",
            format!(
                "User: arn:aws:iam::{account}:user/{caller_user} is not authorized to perform: codecommit:{operation} on resource: arn:aws:codecommit:{region}:{account}:{repo} with an explicit deny: {reason}",
                account = ctx.account,
                region = ctx.region,
            ),
        )),
    }
}

/// The policy file's lines for `user`'s push of `commands` (`None`: they could not be read,
/// so everything is refused).
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
        // A create or delete is one action; an update is either, depending on ancestry,
        // which only the hook can tell.
        let actions: &[Action] = match command.event() {
            "created" => &[Action::Push],
            "deleted" => &[Action::Delete],
            _ => &[Action::Push, Action::ForcePush],
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

/// How often a rule change retries when another change got there first.
const ATTEMPTS: usize = 5;

/// Adds `rule` to `repo`'s rules, replacing the rule for the same `branch` pattern. The
/// repository must exist, and so must every user the rule names (a typo would lock out
/// everyone, the admin included).
pub async fn set_rule(
    ctx: &Context,
    repo: &str,
    rule: BranchRule,
) -> Result<Vec<BranchRule>, StoreError> {
    let named = [&rule.push, &rule.force_push, &rule.delete];
    for user in named.into_iter().flatten().flatten() {
        if ctx.store.get(USER, user).await?.is_none() {
            return Err(StoreError::NotFound { kind: USER.to_owned(), key: user.to_owned() });
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
pub async fn remove_rule(ctx: &Context, repo: &str, branch: &str) -> Result<bool, StoreError> {
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

/// Read, `edit`, write with the version read, again if someone else wrote in between. An
/// empty rule list removes the document.
async fn change(
    ctx: &Context,
    repo: &str,
    mut edit: impl FnMut(&mut Vec<BranchRule>) -> bool,
) -> Result<(Vec<BranchRule>, bool), StoreError> {
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
        match ctx.store.apply(vec![write]).await {
            Ok(()) => return Ok((rules, true)),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. })
                if attempt < ATTEMPTS => {}
            Err(err) => return Err(err),
        }
    }
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
