//! The web console: server-rendered pages at `/console/` over the same state as the API.
//!
//! People sign in with a user name and console password (`slipway user set-password`); the
//! session is a cookie (see [`session`]). Pages are askama templates in
//! `crates/server/templates/console/`, compiled into the binary and escaped by default. Every
//! form that changes something is a POST carrying the session's anti-forgery token, and
//! answers with a redirect (post/redirect/get), except the one that shows new git
//! credentials: their password is shown once, in the response to the POST, never stored.
//! The sign-in form, before any session, carries the token of a pre-session cookie
//! (`slipway_sign_in`), so another site cannot sign a browser in as someone else.
//!
//! Today the console lists the repositories and shows each one's branches, files and commits,
//! lists builds and shows each one's phases and log (read through the CodeCommit and CodeBuild
//! operations, as the signed-in user), and manages the signed-in user's HTTPS git credentials
//! and console password; pipelines and deployments come with their issues.
//!
//! A page shows only what the signed-in user may see and offers only what they may do, by the
//! same decision the API makes (`aws::authorize`, [`may`]): the menu links to the pages they
//! may open, the lists hold the repositories and builds they may read (each authorized on its
//! own ARN), and a form for an action they may not perform is not rendered. Hiding is not
//! the protection: a form posted anyway is refused by the operation's authorization.

mod audit;
pub(crate) mod session;
mod throttle;

pub(crate) use throttle::Throttle;

use askama::Template;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, LOCATION, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form};
use engine::store::StoreError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use self::session::Session;
use crate::AppState;
use crate::auth::{Principal, SignIn};
use codecommit::api as cc;

/// `GET /`: browsers go to the console (the AWS API is `POST /`).
pub(crate) async fn home() -> Response {
    redirect("/console/")
}

/// The console's routes.
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/console", get(|| async { redirect("/console/") }))
        .route("/console/", get(repositories))
        .route("/console/repositories/{name}", get(repository))
        .route("/console/repositories/{name}/file", get(repository_file))
        .route("/console/builds", get(builds))
        .route("/console/builds/{id}", get(build))
        .route("/console/builds/{id}/log", get(build_log))
        .route("/console/builds/{id}/artifacts/{index}", get(build_artifact))
        .route("/console/audit", get(audit::page))
        .route("/console/console.css", get(stylesheet))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/security", get(security))
        .route("/console/security/password", post(change_password))
        .route("/console/security/git-credentials", post(create_git_credentials))
        .route("/console/security/git-credentials/{name}/revoke", post(revoke_git_credentials))
}

/// What every page's frame shows: who is signed in, the token its forms carry, and the
/// pages of the menu they may see.
struct Frame {
    user: String,
    csrf: String,
    nav: Nav,
}

/// Which pages the menu links to: those whose first call the signed-in user may make.
struct Nav {
    /// `codecommit:ListRepositories`.
    repositories: bool,
    /// `codebuild:ListBuilds`.
    builds: bool,
    /// `cloudtrail:LookupEvents`.
    audit: bool,
    /// `iam:ListServiceSpecificCredentials` on their own user.
    security: bool,
}

/// The frame of a page for `session`: the menu shows only the pages the user may open (the
/// same decision as the pages' own, [`may`] and [`may_own`]).
async fn frame(state: &AppState, session: &Session) -> Frame {
    let empty = json!({});
    let nav = Nav {
        repositories: may(state, session, "codecommit", "ListRepositories", &empty).await,
        builds: may(state, session, "codebuild", "ListBuilds", &empty).await,
        audit: may(state, session, "cloudtrail", "LookupEvents", &empty).await,
        security: may_own(state, session, "ListServiceSpecificCredentials").await,
    };
    Frame { user: session.user.clone(), csrf: session.csrf.clone(), nav }
}

/// Whether the signed-in user may call the AWS operation `operation` with `input`: the
/// decision the API and the page would make (nothing is recorded: nothing is called). What
/// the console does not show, it does not offer; a call made anyway is still refused by the
/// operation's own authorization.
async fn may(
    state: &AppState,
    session: &Session,
    service: &str,
    operation: &str,
    input: &Value,
) -> bool {
    let principal = principal(session);
    crate::aws::authorize(state, &principal, service, operation, input, arrival(session))
        .await
        .is_ok()
}

/// Whether the signed-in user may perform the IAM operation `operation` on their own user
/// ([`authorize_own`]'s decision).
async fn may_own(state: &AppState, session: &Session, operation: &str) -> bool {
    authorize_own(state, session, operation).await.is_ok()
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    frame: Option<Frame>,
    user: String,
    next: String,
    error: Option<String>,
    /// The form's anti-forgery token (also in the pre-session cookie).
    csrf: String,
}

#[derive(Template)]
#[template(path = "console/repositories.html")]
struct RepositoriesPage {
    frame: Option<Frame>,
    repositories: Vec<RepositoryRow>,
    host: String,
}

struct RepositoryRow {
    name: String,
    description: String,
    clone_url: String,
    last_modified: String,
}

#[derive(Template)]
#[template(path = "console/repository.html")]
struct RepositoryPage {
    frame: Option<Frame>,
    name: String,
    description: String,
    clone_url: String,
    /// The branch shown, `None` for an empty repository.
    branch: Option<String>,
    branches: Vec<String>,
    /// The folders down to the one shown.
    crumbs: Vec<Crumb>,
    entries: Vec<Entry>,
    commits: Vec<CommitRow>,
}

/// A step of the path above the folder or file shown.
struct Crumb {
    name: String,
    path: String,
}

/// A folder, file, link or submodule of the folder shown.
struct Entry {
    name: String,
    path: String,
    folder: bool,
    /// Files open in the file view; links and submodules are only named.
    viewable: bool,
}

struct CommitRow {
    id: String,
    short: String,
    title: String,
    author: String,
    date: String,
}

#[derive(Template)]
#[template(path = "console/file.html")]
struct FilePage {
    frame: Option<Frame>,
    name: String,
    branch: String,
    path: String,
    crumbs: Vec<Crumb>,
    size: u64,
    /// The text, or `None` for a file that is not UTF-8 text.
    text: Option<String>,
}

#[derive(Template)]
#[template(path = "console/builds.html")]
struct BuildsPage {
    frame: Option<Frame>,
    builds: Vec<BuildRow>,
}

struct BuildRow {
    id: String,
    project: String,
    number: String,
    status: String,
    source_version: String,
    started: String,
    duration: String,
}

#[derive(Template)]
#[template(path = "console/build.html")]
struct BuildPage {
    frame: Option<Frame>,
    build: BuildRow,
    complete: bool,
    phases: Vec<PhaseRow>,
    artifacts: Vec<ArtifactRow>,
    reports: Vec<ReportRow>,
    log: String,
    log_truncated: bool,
}

/// One artifact of a build: the primary or a secondary (by its identifier), and where it is;
/// the page links `/console/builds/<id>/artifacts/<index>` to download it.
struct ArtifactRow {
    label: String,
    location: String,
}

/// One test report of a build, with its totals.
struct ReportRow {
    name: String,
    status: String,
    total: i64,
    passed: i64,
    failed: i64,
}

struct PhaseRow {
    name: String,
    status: String,
    duration: String,
    context: String,
}

#[derive(Template)]
#[template(path = "console/security.html")]
struct SecurityPage {
    frame: Option<Frame>,
    credentials: Vec<CredentialRow>,
    notice: Option<String>,
    error: Option<String>,
    /// Whether the user may generate git credentials (`CreateServiceSpecificCredential`),
    /// revoke them (`UpdateServiceSpecificCredential`) and change their password
    /// (`ChangePassword`): the forms they may not use are not shown.
    may_create: bool,
    may_revoke: bool,
    may_change_password: bool,
}

struct CredentialRow {
    name: String,
    created: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "console/git_credentials_created.html")]
struct CreatedPage {
    frame: Option<Frame>,
    git_user: String,
    password: String,
    clone_example: String,
}

/// A console failure: a page saying what went wrong.
struct ConsoleError(StatusCode, String);

impl From<StoreError> for ConsoleError {
    fn from(err: StoreError) -> ConsoleError {
        tracing::error!(%err, "console: the store failed");
        ConsoleError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server could not read its state.".to_owned(),
        )
    }
}

impl From<crate::error::ApiError> for ConsoleError {
    fn from(err: crate::error::ApiError) -> ConsoleError {
        let status = if err.code.contains("DoesNotExist") || err.code.contains("NotFound") {
            StatusCode::NOT_FOUND
        } else {
            crate::error::status(err.kind)
        };
        if status.is_server_error() {
            tracing::error!(code = %err.code, message = %err.message, "console: a call failed");
        }
        ConsoleError(status, err.message)
    }
}

impl From<crate::IdentityError> for ConsoleError {
    fn from(err: crate::IdentityError) -> ConsoleError {
        match err {
            crate::IdentityError::Store(err) => err.into(),
            other => ConsoleError(StatusCode::BAD_REQUEST, other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    frame: Option<Frame>,
    title: &'static str,
    message: String,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let ConsoleError(status, message) = self;
        let title = status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage { frame: None, title, message: message.clone() };
        let mut response = match page.render() {
            Ok(html) => {
                let mut response = (status, html).into_response();
                let content_type = HeaderValue::from_static("text/html; charset=utf-8");
                response.headers_mut().insert(CONTENT_TYPE, content_type);
                response
            }
            Err(_) => (status, message).into_response(),
        };
        secure(response.headers_mut());
        response
    }
}

type Page = Result<Response, ConsoleError>;

/// The signed-in user's session, as an extractor: a page that needs one gets it; a browser
/// without one is sent to sign in, and comes back to the page it asked for afterwards.
struct SignedIn(Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<SignedIn, Response> {
        let request = crate::auth::RequestParts::headers(&parts.headers);
        match crate::auth::authenticate(state, crate::auth::Route::Console, &request).await {
            Ok(principal) => {
                let mut session = signed_in(principal);
                session.source_ip = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(address)| address.ip().to_string())
                    .unwrap_or_default();
                Ok(SignedIn(session))
            }
            Err(crate::auth::AuthError::Internal(err)) => {
                tracing::error!(%err, "console: the store failed");
                Err(ConsoleError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The server could not read its state.".to_owned(),
                )
                .into_response())
            }
            Err(_) => {
                // After signing in the browser GETs `next` (query included): a form's URL is
                // no page.
                let back = match parts.uri.path_and_query() {
                    Some(target) if parts.method == Method::GET => target.as_str(),
                    _ => "/console/",
                };
                Err(redirect(&format!("/console/login?next={}", percent_encode(back))))
            }
        }
    }
}

/// The session of a principal the console route authenticated (always a user with a session).
fn signed_in(principal: Principal) -> Session {
    match principal {
        Principal::User { name, via: SignIn::ConsoleSession { csrf }, .. } => {
            Session { user: name, csrf, source_ip: String::new() }
        }
        other => {
            Session { user: other.acting_user(), csrf: String::new(), source_ip: String::new() }
        }
    }
}

/// The one authorization call of a console operation on the signed-in user's own IAM
/// identity: the IAM operation (`CreateServiceSpecificCredential`, `ChangePassword`, …) on
/// the user's ARN.
async fn authorize_own(
    state: &AppState,
    session: &Session,
    operation: &str,
) -> Result<(), ConsoleError> {
    let place = crate::auth::place(state);
    let facts = crate::auth::facts::own_user_request(place, operation, &session.user)
        .map_err(|err| ConsoleError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?;
    crate::auth::authorize(state, &principal(session), &facts.arrived(arrival(session)))
        .await
        .map_err(|denied| ConsoleError(StatusCode::FORBIDDEN, denied.message))
}

/// How a signed-in request arrived, for its condition keys (`aws:SourceIp`,
/// `aws:SecureTransport`): from the session's address, over plain HTTP (the console is
/// served as the API is, `audit::Origin::arrival`).
fn arrival(session: &Session) -> crate::auth::facts::Arrival<'_> {
    crate::auth::facts::Arrival { source_ip: &session.source_ip, secure_transport: false }
}

/// The principal behind a session, for [`crate::auth::authorize`].
fn principal(session: &Session) -> Principal {
    Principal::User {
        name: session.user.clone(),
        // Authorization reads the user's policies by name; the id is the audit trail's.
        user_id: "".into(),
        via: SignIn::ConsoleSession { csrf: session.csrf.clone() },
    }
}

/// A form that carries the anti-forgery token of the session it was served to.
trait CarriesToken {
    fn csrf(&self) -> &str;
}

/// A form posted by the signed-in user from a console page, as an extractor: refused (403)
/// when its token is not the session's, as a form another site makes the browser post is.
struct Posted<T>(Session, T);

impl<T: DeserializeOwned + CarriesToken + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Posted<T>, Response> {
        let (mut parts, body) = request.into_parts();
        let SignedIn(session) = SignedIn::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !session.accepts(form.csrf()) {
            return Err(ConsoleError(
                StatusCode::FORBIDDEN,
                "This form is stale or was not sent by the console. Reload the page and try \
                 again."
                    .to_owned(),
            )
            .into_response());
        }
        Ok(Posted(session, form))
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Page {
    let next = safe_next(query.next.as_deref());
    let request = crate::auth::RequestParts::headers(&headers);
    if crate::auth::authenticate(&state, crate::auth::Route::Console, &request).await.is_ok() {
        return Ok(redirect(&next));
    }
    sign_in_page(&headers, StatusCode::OK, String::new(), next, None)
}

/// The sign-in form with its anti-forgery token, setting the pre-session cookie that holds
/// the token when the browser has none yet.
fn sign_in_page(
    headers: &HeaderMap,
    status: StatusCode,
    user: String,
    next: String,
    error: Option<String>,
) -> Page {
    let (csrf, new) = session::sign_in_token(headers);
    let mut response =
        render(status, &LoginPage { frame: None, user, next, error, csrf: csrf.clone() })?;
    if new {
        response
            .headers_mut()
            .insert(SET_COOKIE, header_value(&session::set_sign_in_cookie(&csrf)));
    }
    Ok(response)
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Page {
    let next = safe_next(form.next.as_deref());
    // A sign-in form another site makes the browser post does not carry the token of the
    // pre-session cookie: it could sign the browser in as someone else.
    if !session::sign_in_accepts(&headers, &form.csrf) {
        let error = Some(
            "This sign-in form is stale or was not sent by the console. Try again.".to_owned(),
        );
        return sign_in_page(&headers, StatusCode::FORBIDDEN, form.user, next, error);
    }
    // Repeated failures from one address for a name slow its next attempts from there down
    // (see `throttle`). Without a peer address (in-process tests) all count as one place.
    let from = peer
        .as_ref()
        .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |Extension(ConnectInfo(it))| it.ip());
    let attempt = state.sign_ins.attempt(from, &form.user, engine::clock::now_ms()).await;
    let origin = crate::audit::Origin::of(&headers, &peer);
    let signed_in = state.identity.check_password(&form.user, &form.password).await?;
    crate::audit::record_sign_in(&state, &origin, &form.user, signed_in).await;
    if !signed_in {
        attempt.failed(engine::clock::now_ms());
        tracing::info!(user = %form.user, %from, "console: a sign-in was refused");
        let error = Some("The user name or password is not correct.".to_owned());
        return sign_in_page(&headers, StatusCode::UNAUTHORIZED, form.user, next, error);
    }
    drop(attempt);
    state.sign_ins.succeeded(from, &form.user);
    let (_, token) = session::create(&state.store, &form.user, engine::clock::now_ms()).await?;
    let mut response = redirect(&next);
    response.headers_mut().insert(SET_COOKIE, header_value(&session::set_cookie(&token)));
    Ok(response)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

impl CarriesToken for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted(_, CsrfForm { .. }): Posted<CsrfForm>,
) -> Page {
    session::delete(&state.store, &headers).await?;
    let mut response = redirect("/console/login");
    response.headers_mut().insert(SET_COOKIE, header_value(&session::clear_cookie()));
    Ok(response)
}

async fn repositories(api: Api) -> Page {
    let principal = principal(&api.session);
    let (state, input) = (&api.state, json!({}));
    let arrival = arrival(&api.session);
    crate::aws::authorize(state, &principal, "codecommit", "ListRepositories", &input, arrival)
        .await?;
    let mut readable = Vec::new();
    // Only the repositories the user may open (GetRepository on each).
    for metadata in codecommit::api::all_metadata(api.state.codecommit(), &api.caller).await? {
        let input = json!({ "repositoryName": text(&metadata, "repositoryName") });
        if api.may("codecommit", "GetRepository", &input).await {
            readable.push(metadata);
        }
    }
    let mut repositories: Vec<RepositoryRow> = readable
        .iter()
        .map(|metadata| RepositoryRow {
            name: text(metadata, "repositoryName"),
            description: text(metadata, "repositoryDescription"),
            clone_url: text(metadata, "cloneUrlHttp"),
            last_modified: metadata["lastModifiedDate"]
                .as_f64()
                .map(|seconds| display_time((seconds * 1000.0) as i64))
                .unwrap_or_default(),
        })
        .collect();
    repositories.sort_by(|a, b| a.name.cmp(&b.name));
    let host = api.caller.host.clone();
    let page = RepositoriesPage { frame: api.frame().await, repositories, host };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct BrowseQuery {
    #[serde(rename = "ref")]
    branch: Option<String>,
    path: Option<String>,
}

/// How many commits of the branch the repository page lists.
const COMMITS_SHOWN: usize = 20;

/// How many pages of ListBranches the repository page reads at most (its branch menu).
const MAX_BRANCH_PAGES: usize = 10;

/// A repository: its branches, the files of a folder on one of them, its latest commits. The
/// page reads through the CodeCommit operations, as the signed-in user, so it shows what the
/// API would.
async fn repository(api: Api, Path(name): Path<String>, Query(query): Query<BrowseQuery>) -> Page {
    let repository_name = Some(name.clone());
    let ctx = api.codecommit("GetRepository", &name).await?;
    let input = cc::GetRepositoryInput { repository_name: repository_name.clone() };
    let metadata = cc::get_repository(&ctx, &api.caller, input).await?.repository_metadata;
    let metadata = &metadata;
    let mut branches: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    // Every page of ListBranches, within reason.
    let ctx = api.codecommit("ListBranches", &name).await?;
    for _ in 0..MAX_BRANCH_PAGES {
        let input = cc::ListBranchesInput {
            repository_name: repository_name.clone(),
            next_token: token.take(),
        };
        let listed = cc::list_branches(&ctx, input).await?;
        branches.extend(listed.branches);
        token = listed.next_token;
        if token.is_none() {
            break;
        }
    }
    branches.sort();
    let default = metadata["defaultBranch"].as_str().map(str::to_owned);
    let branch = query
        .branch
        .filter(|it| branches.contains(it))
        .or(default)
        .or_else(|| branches.first().cloned());
    let path = query.path.unwrap_or_default().trim_matches('/').to_owned();
    let (mut entries, mut commits) = (Vec::new(), Vec::new());
    if let Some(branch) = &branch {
        let input = cc::GetFolderInput {
            repository_name: repository_name.clone(),
            commit_specifier: Some(branch.clone()),
            folder_path: Some(format!("/{path}")),
        };
        let folder = cc::get_folder(&api.codecommit("GetFolder", &name).await?, input).await?;
        let entry = |name: String, path: String, folder: bool, viewable: bool| Entry {
            name,
            path,
            folder,
            viewable,
        };
        for it in folder.sub_folders {
            entries.push(entry(it.relative_path, it.absolute_path, true, false));
        }
        for it in folder.files {
            entries.push(entry(it.relative_path, it.absolute_path, false, true));
        }
        for it in folder.symbolic_links {
            entries.push(entry(it.relative_path, it.absolute_path, false, false));
        }
        for it in folder.sub_modules {
            entries.push(entry(it.relative_path, it.absolute_path, false, false));
        }
        let input = cc::GetBranchInput {
            repository_name: repository_name.clone(),
            branch_name: Some(branch.clone()),
        };
        let head = cc::get_branch(&api.codecommit("GetBranch", &name).await?, input).await?;
        let mut next = Some(head.branch.commit_id);
        let ctx = api.codecommit("GetCommit", &name).await?;
        while let Some(id) = next.take() {
            if commits.len() == COMMITS_SHOWN {
                break;
            }
            let input = cc::GetCommitInput {
                repository_name: repository_name.clone(),
                commit_id: Some(id.clone()),
            };
            let found = cc::get_commit(&ctx, input).await?;
            let commit = &found.commit;
            next = commit.parents.first().cloned();
            commits.push(CommitRow {
                short: id.chars().take(8).collect(),
                title: commit.message.lines().next().unwrap_or_default().to_owned(),
                author: commit.author.name.clone().unwrap_or_default(),
                date: git_date(commit.author.date.as_deref().unwrap_or_default()),
                id,
            });
        }
    }
    let page = RepositoryPage {
        frame: api.frame().await,
        description: text(metadata, "repositoryDescription"),
        clone_url: text(metadata, "cloneUrlHttp"),
        crumbs: crumbs(&path),
        name,
        branch,
        branches,
        entries,
        commits,
    };
    render(StatusCode::OK, &page)
}

/// One file of a repository, on a branch.
async fn repository_file(
    api: Api,
    Path(name): Path<String>,
    Query(query): Query<BrowseQuery>,
) -> Page {
    let (Some(branch), Some(path)) = (query.branch, query.path) else {
        return Err(ConsoleError(StatusCode::BAD_REQUEST, "Which branch and file?".to_owned()));
    };
    let input = cc::GetFileInput {
        repository_name: Some(name.clone()),
        commit_specifier: Some(branch.clone()),
        file_path: Some(path.clone()),
    };
    let file = cc::get_file(&api.codecommit("GetFile", &name).await?, input).await?;
    let content = crate::base64_codec::decode(&file.file_content).unwrap_or_default();
    let path = path.trim_matches('/').to_owned();
    let page = FilePage {
        frame: api.frame().await,
        size: file.file_size,
        text: String::from_utf8(content).ok(),
        crumbs: crumbs(&path),
        name,
        branch,
        path,
    };
    render(StatusCode::OK, &page)
}

/// The signed-in user's view of the API, as an extractor: the session (for the page's frame)
/// and the CodeCommit and CodeBuild operations, called as that user. A browser without a
/// session is sent to sign in, as with [`SignedIn`].
struct Api {
    state: AppState,
    session: Session,
    caller: crate::aws::Caller,
}

impl FromRequestParts<AppState> for Api {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Api, Response> {
        let SignedIn(session) = SignedIn::from_request_parts(parts, state).await?;
        let caller = crate::aws::Caller {
            user: session.user.clone(),
            access_key_id: String::new(),
            host: request_host(&parts.headers),
        };
        Ok(Api { state: state.clone(), session, caller })
    }
}

impl Api {
    async fn frame(&self) -> Option<Frame> {
        Some(frame(&self.state, &self.session).await)
    }

    /// Whether the user may call `operation` with `input` ([`may`]).
    async fn may(&self, service: &str, operation: &str, input: &Value) -> bool {
        may(&self.state, &self.session, service, operation, input).await
    }

    /// The context of the CodeCommit `operation` on `repository`, once it is authorized as
    /// the API authorizes it; the page then calls the operation's typed function.
    async fn codecommit(
        &self,
        operation: &str,
        repository: &str,
    ) -> Result<codecommit::Context, ConsoleError> {
        let principal = principal(&self.session);
        let input = json!({ "repositoryName": repository });
        let arrival = arrival(&self.session);
        crate::aws::authorize(&self.state, &principal, "codecommit", operation, &input, arrival)
            .await?;
        Ok(self.state.codecommit().clone())
    }

    /// ListBuilds, newest first, authorized as the API authorizes it.
    async fn list_builds(&self) -> Result<codebuild::builds::ListBuildsOutput, ConsoleError> {
        let input = json!({ "sortOrder": "DESCENDING" });
        let principal = principal(&self.session);
        let arrival = arrival(&self.session);
        crate::aws::authorize(&self.state, &principal, "codebuild", "ListBuilds", &input, arrival)
            .await?;
        let input = codebuild::builds::ListBuildsInput {
            sort_order: Some("DESCENDING".to_owned()),
            next_token: None,
        };
        Ok(codebuild::builds::list_builds(self.state.codebuild(), input).await?)
    }

    /// BatchGetBuilds, authorized as the API authorizes it: the builds found, as JSON.
    async fn batch_get_builds(&self, ids: Vec<String>) -> Result<Vec<Value>, ConsoleError> {
        let principal = principal(&self.session);
        let input = json!({ "ids": ids });
        let (state, service) = (&self.state, "codebuild");
        let arrival = arrival(&self.session);
        crate::aws::authorize(state, &principal, service, "BatchGetBuilds", &input, arrival)
            .await?;
        let input = codebuild::builds::BatchGetBuildsInput { ids: Some(ids) };
        let now = engine::clock::now_ms();
        let found = codebuild::builds::batch_get_builds(self.state.codebuild(), input, now).await?;
        found
            .builds
            .iter()
            .map(|build| serde_json::from_str(build.get()))
            .collect::<Result<_, _>>()
            .map_err(|err| ConsoleError::from(crate::error::ApiError::internal(err)))
    }
}

/// The folders above `path` and `path` itself, each with its own path, for links.
fn crumbs(path: &str) -> Vec<Crumb> {
    let mut crumbs = Vec::new();
    let mut so_far = String::new();
    for part in path.split('/').filter(|it| !it.is_empty()) {
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(part);
        crumbs.push(Crumb { name: part.to_owned(), path: so_far.clone() });
    }
    crumbs
}

/// A git date as CodeCommit gives it (`1795376400 +0000`), for people.
fn git_date(date: &str) -> String {
    date.split_whitespace()
        .next()
        .and_then(|seconds| seconds.parse::<i64>().ok())
        .map(|seconds| display_time(seconds * 1000))
        .unwrap_or_else(|| date.to_owned())
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

/// How many builds the builds page lists (the newest).
const BUILDS_SHOWN: usize = 50;

/// How much of a build's log its page shows; the whole log is a link away.
const LOG_SHOWN: usize = 1 << 20;

/// The newest builds of the projects whose builds the user may read: each build listed is
/// asked for alone (`codebuild:BatchGetBuilds` on its project), so one project the user may
/// not read hides its builds instead of failing the page.
async fn builds(api: Api) -> Page {
    let listed = api.list_builds().await?;
    let mut ids = Vec::new();
    for id in listed.ids {
        if ids.len() == BUILDS_SHOWN {
            break;
        }
        if api.may("codebuild", "BatchGetBuilds", &json!({ "ids": [&id] })).await {
            ids.push(id);
        }
    }
    let builds = if ids.is_empty() {
        Vec::new()
    } else {
        api.batch_get_builds(ids).await?.iter().map(build_row).collect()
    };
    render(StatusCode::OK, &BuildsPage { frame: api.frame().await, builds })
}

/// One build: its phases and its log, refreshed every few seconds while it runs.
async fn build(api: Api, Path(id): Path<String>) -> Page {
    let found = api.batch_get_builds(vec![id.clone()]).await?;
    let Some(build) = found.first() else {
        return Err(ConsoleError(StatusCode::NOT_FOUND, format!("There is no build {id}.")));
    };
    let phases = build["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|phase| PhaseRow {
            name: text(phase, "phaseType"),
            status: text(phase, "phaseStatus"),
            duration: phase["durationInSeconds"]
                .as_i64()
                .map(|it| format!("{it} s"))
                .unwrap_or_default(),
            context: phase["contexts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|it| text(it, "message"))
                .filter(|it| !it.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    let (log, log_truncated) = crate::logs::log_head(&api.state, &id, LOG_SHOWN).await?;
    let artifacts = build_artifacts(build)
        .into_iter()
        .map(|(label, location)| ArtifactRow { label, location })
        .collect();
    let reports = build_reports(&api, build).await?;
    let page = BuildPage {
        frame: api.frame().await,
        complete: build["buildComplete"] == true,
        build: build_row(build),
        phases,
        artifacts,
        reports,
        log: String::from_utf8_lossy(&log).into_owned(),
        log_truncated,
    };
    render(StatusCode::OK, &page)
}

/// A build's artifacts that were uploaded (a location), in the console's order: the primary,
/// then the secondaries; each with its label (`primary`, or its identifier) and location.
fn build_artifacts(build: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let primary = text(&build["artifacts"], "location");
    if !primary.is_empty() {
        found.push(("primary".to_owned(), primary));
    }
    for secondary in build["secondaryArtifacts"].as_array().into_iter().flatten() {
        let location = text(secondary, "location");
        if !location.is_empty() {
            found.push((text(secondary, "artifactIdentifier"), location));
        }
    }
    found
}

/// The totals of a build's test reports the user may read (`codebuild:BatchGetReports`).
async fn build_reports(api: &Api, build: &Value) -> Result<Vec<ReportRow>, ConsoleError> {
    let arns: Vec<String> = build["reportArns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|it| it.as_str().map(str::to_owned))
        .collect();
    if arns.is_empty()
        || !api.may("codebuild", "BatchGetReports", &json!({ "reportArns": arns })).await
    {
        return Ok(Vec::new());
    }
    let input = codebuild::reports::BatchGetReportsInput { report_arns: Some(arns) };
    let found = codebuild::reports::batch_get_reports(api.state.codebuild(), input).await?;
    Ok(found
        .reports
        .iter()
        .map(|report| {
            let summary = &report["testSummary"];
            let count = |status: &str| summary["statusCounts"][status].as_i64().unwrap_or(0);
            let arn = text(report, "arn");
            ReportRow {
                name: arn.rsplit_once(":report/").map_or(arn.as_str(), |(_, name)| name).to_owned(),
                status: text(report, "status"),
                total: summary["total"].as_i64().unwrap_or(0),
                passed: count("SUCCEEDED"),
                failed: count("FAILED") + count("ERROR"),
            }
        })
        .collect())
}

/// How long a download link the console hands out stays valid.
const ARTIFACT_LINK_SECONDS: i64 = 300;

/// A build's artifact `index` (in [`build_artifacts`]' order). One in an S3 bucket (its
/// location `arn:aws:s3:::bucket/key`) is authorized as `s3:GetObject` on it, then the browser
/// is sent to a URL presigned for 5 minutes with a 15-minute session of the user's own (so
/// the S3 API checks the same policies again); one kept with the build in the blob store is
/// streamed from there to whoever may read the build.
async fn build_artifact(
    api: Api,
    headers: axum::http::HeaderMap,
    Path((id, index)): Path<(String, usize)>,
) -> Page {
    let found = api.batch_get_builds(vec![id.clone()]).await?;
    let not_found =
        || ConsoleError(StatusCode::NOT_FOUND, format!("Build {id} has no artifact {index}."));
    let build = found.first().ok_or_else(not_found)?;
    let (label, location) = build_artifacts(build).into_iter().nth(index).ok_or_else(not_found)?;
    if let Some(object) = location.strip_prefix("arn:aws:s3:::") {
        let (bucket, key) = object.split_once('/').ok_or_else(not_found)?;
        let place = crate::auth::place(&api.state);
        let facts =
            crate::auth::facts::s3_request(place, "GetObject", Some(bucket), Some(key), &[])
                .map_err(|err| ConsoleError::from(crate::error::ApiError::internal(err)))?
                .arrived(arrival(&api.session));
        crate::auth::authorize(&api.state, &principal(&api.session), &facts)
            .await
            .map_err(|denied| ConsoleError(StatusCode::FORBIDDEN, denied.message))?;
        let now = engine::clock::now_ms();
        let request = iam::sessions::GetSessionTokenRequest {
            duration_seconds: Some(900),
            serial_number: None,
            token_code: None,
        };
        let session =
            iam::sessions::get_session_token(&api.state.identity, &api.session.user, request, now)
                .await?;
        let credentials = session.credentials;
        let host = headers.get("host").and_then(|it| it.to_str().ok()).unwrap_or("127.0.0.1");
        let url = awsapi::sigv4::s3::presign(&awsapi::sigv4::s3::Presign {
            method: "GET",
            host,
            path: &format!("/{bucket}/{key}"),
            access_key_id: &credentials.access_key_id,
            secret: &credentials.secret_access_key,
            session_token: Some(&credentials.session_token),
            region: &api.state.region,
            now: now / 1000,
            expires: ARTIFACT_LINK_SECONDS,
        });
        return Ok((StatusCode::SEE_OTHER, [("location", url)]).into_response());
    }
    // Kept with the build: whoever may read the build may read its artifacts.
    let stream = api.state.blobs.get_stream(&location, None).await.map_err(|err| match err {
        engine::blob::BlobError::NotFound { .. } => not_found(),
        other => ConsoleError::from(crate::error::ApiError::internal(other)),
    })?;
    let file = location.rsplit('/').next().unwrap_or(&label).to_owned();
    let disposition = format!("attachment; filename=\"{}\"", file.replace(['"', '\\'], "_"));
    let length = stream.len().to_string();
    let body = axum::body::Body::from_stream(stream);
    Ok((
        StatusCode::OK,
        [
            ("content-type", "application/octet-stream".to_owned()),
            ("content-length", length),
            ("content-disposition", disposition),
        ],
        body,
    )
        .into_response())
}

/// A build's whole log, as plain text.
async fn build_log(api: Api, Path(id): Path<String>) -> Page {
    let found = api.batch_get_builds(vec![id.clone()]).await?;
    if found.is_empty() {
        return Err(ConsoleError(StatusCode::NOT_FOUND, format!("There is no build {id}.")));
    }
    let mut response = crate::logs::whole_log(api.state, id);
    secure(response.headers_mut());
    Ok(response)
}

/// A build as the lists show it.
fn build_row(build: &Value) -> BuildRow {
    let time = |field: &str| build[field].as_f64().map(|seconds| (seconds * 1000.0) as i64);
    let duration = match (time("startTime"), time("endTime")) {
        (Some(start), Some(end)) => format!("{} s", (end - start) / 1000),
        _ => String::new(),
    };
    BuildRow {
        id: text(build, "id"),
        project: text(build, "projectName"),
        number: build["buildNumber"].as_i64().map(|it| it.to_string()).unwrap_or_default(),
        status: text(build, "buildStatus"),
        source_version: match text(build, "resolvedSourceVersion") {
            resolved if resolved.is_empty() => text(build, "sourceVersion"),
            resolved => resolved.chars().take(8).collect(),
        },
        started: time("startTime").map(display_time).unwrap_or_default(),
        duration,
    }
}

#[derive(Deserialize)]
struct SecurityQuery {
    revoked: Option<String>,
    password_changed: Option<String>,
}

async fn security(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(query): Query<SecurityQuery>,
) -> Page {
    let notice = match (query.revoked, query.password_changed) {
        (Some(name), _) => {
            Some(format!("Revoked the git credentials {name}. Git refuses them from now on."))
        }
        (None, Some(_)) => Some("Your console password is changed.".to_owned()),
        (None, None) => None,
    };
    security_page(&state, &session, StatusCode::OK, notice, None).await
}

async fn security_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Page {
    authorize_own(state, session, "ListServiceSpecificCredentials").await?;
    let mut credentials: Vec<CredentialRow> = state
        .identity
        .list_git_credentials(&session.user)
        .await?
        .into_iter()
        .map(|credential| CredentialRow {
            created: display_time(credential.created_ms),
            active: credential.active,
            name: credential.git_user_name,
        })
        .collect();
    // Active ones first, each group newest first.
    credentials.reverse();
    credentials.sort_by_key(|row| !row.active);
    let page = SecurityPage {
        frame: Some(frame(state, session).await),
        credentials,
        notice,
        error,
        may_create: may_own(state, session, "CreateServiceSpecificCredential").await,
        may_revoke: may_own(state, session, "UpdateServiceSpecificCredential").await,
        may_change_password: may_own(state, session, "ChangePassword").await,
    };
    render(status, &page)
}

async fn create_git_credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted(session, CsrfForm { .. }): Posted<CsrfForm>,
) -> Page {
    authorize_own(&state, &session, "CreateServiceSpecificCredential").await?;
    let now = engine::clock::now_ms();
    let (git_user, password) = state.identity.create_git_credentials(&session.user, now).await?;
    tracing::info!(user = %session.user, %git_user, "console: created git credentials");
    let clone_example = format!("git clone http://{}/v1/repos/REPOSITORY", request_host(&headers));
    let frame = Some(frame(&state, &session).await);
    let page = CreatedPage { frame, git_user, password, clone_example };
    render(StatusCode::OK, &page)
}

async fn revoke_git_credentials(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Posted(session, CsrfForm { .. }): Posted<CsrfForm>,
) -> Page {
    authorize_own(&state, &session, "UpdateServiceSpecificCredential").await?;
    // Only one's own: someone else's credentials are as good as absent.
    let own = state.identity.git_credential(&name).await?.is_some_and(|it| it.user == session.user);
    if !own {
        return Err(ConsoleError(
            StatusCode::NOT_FOUND,
            format!("You have no git credentials named {name}."),
        ));
    }
    state.identity.revoke_git_credentials(&name).await?;
    tracing::info!(user = %session.user, git_user = %name, "console: revoked git credentials");
    Ok(redirect(&format!("/console/security?revoked={}", percent_encode(&name))))
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

impl CarriesToken for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted(session, form): Posted<PasswordForm>,
) -> Page {
    let refuse = async |message: &str| {
        security_page(&state, &session, StatusCode::BAD_REQUEST, None, Some(message.to_owned()))
            .await
    };
    authorize_own(&state, &session, "ChangePassword").await?;
    if !state.identity.check_password(&session.user, &form.current).await? {
        return refuse("The current password is not correct.").await;
    }
    if form.new != form.confirm {
        return refuse("The new password and its confirmation differ.").await;
    }
    match state.identity.set_password(&session.user, &form.new).await {
        Ok(()) => {}
        Err(crate::IdentityError::InvalidPassword) => {
            return refuse(&crate::IdentityError::InvalidPassword.to_string()).await;
        }
        Err(err) => return Err(err.into()),
    }
    session::end_others(&state.store, &session.user, &headers).await?;
    tracing::info!(user = %session.user, "console: changed the console password");
    Ok(redirect("/console/security?password_changed=1"))
}

async fn stylesheet() -> Response {
    let mut response = include_str!("../templates/console/console.css").into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// A page as an HTML response that no cache keeps and no other site can frame.
fn render(status: StatusCode, page: &impl Template) -> Page {
    let html = page.render().map_err(|err| {
        tracing::error!(%err, "console: a template failed");
        ConsoleError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The page could not be rendered.".to_owned(),
        )
    })?;
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    secure(headers);
    Ok(response)
}

/// The headers every console response carries: nothing cached (pages show secrets and
/// per-user state), no framing, no scripts or styles from elsewhere.
fn secure(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
}

/// A 303 to `location` (after a POST the browser GETs it); to the console's home when
/// `location` is not a visible-ASCII URL (it always is, after [`safe_next`]).
fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let location = Some(location)
        .filter(|it| !it.is_empty() && it.bytes().all(|b| b.is_ascii_graphic()))
        .and_then(|it| HeaderValue::from_str(it).ok())
        .unwrap_or(HeaderValue::from_static("/console/"));
    response.headers_mut().insert(LOCATION, location);
    secure(response.headers_mut());
    response
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("console header values are ASCII without control characters")
}

/// Where to go after signing in: a path under `/console/` of this site, properly
/// percent-encoded (visible ASCII only, every `%` followed by two hex digits), without `//`,
/// `\\` or dot segments; anything else (`//evil`, `https:`, `/console/é`, `%zz`) goes to
/// `/console/`.
fn safe_next(next: Option<&str>) -> String {
    let Some(path) = next else { return "/console/".to_owned() };
    let bytes = path.as_bytes();
    let encoded = bytes.iter().enumerate().all(|(i, b)| match b {
        b'%' => bytes.get(i + 1..i + 3).is_some_and(|it| it.iter().all(u8::is_ascii_hexdigit)),
        b'\\' => false,
        b => b.is_ascii_graphic(),
    });
    let route = path.split(['?', '#']).next().unwrap_or_default();
    let dots = route.split('/').any(|segment| {
        let lower = segment.to_ascii_lowercase();
        lower == "." || lower == ".." || lower.contains("%2e") || lower.contains("%2f")
    });
    if encoded && path.starts_with("/console/") && !route.contains("//") && !dots {
        path.to_owned()
    } else {
        "/console/".to_owned()
    }
}

/// The `Host` the browser used, for URLs it can use too.
fn request_host(headers: &HeaderMap) -> String {
    headers.get(HOST).and_then(|it| it.to_str().ok()).unwrap_or("localhost").to_owned()
}

/// Everything but unreserved characters and `/` is escaped in query values.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes everything but unreserved characters and `/`, for query values.
fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// `2026-11-22 19:30 UTC`.
fn display_time(ms: i64) -> String {
    engine::clock::format_utc(ms, engine::clock::DISPLAY_TIME)
}

#[cfg(test)]
mod tests;
