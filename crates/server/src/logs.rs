//! Build logs over HTTP: the whole log (`GET /v1/builds/<id>/log`) and a live tail as
//! server-sent events (`GET /v1/builds/<id>/log/live`).
//!
//! Both stream the log's chunks from the store page by page, so a log of hundreds of
//! megabytes never sits in the server's memory. They take an access key as HTTP Basic
//! credentials (`curl -u AKIA…:SECRET`).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;

use crate::AppState;
use engine::kinds::BUILD;

#[cfg(test)]
mod tests;

/// Chunks read from the store at a time. A chunk holds one event batch's text (about 1 MiB
/// at most), so a page costs at most about 16 MiB, however the build prints.
const PAGE: i64 = 16;

/// The most text the live tail holds back waiting for a newline: a longer line (a build
/// printing megabytes without one) is sent in pieces of about this size.
const LINE_LIMIT: usize = 64 * 1024;

/// Tells browsers to take the log as the plain text it says it is, never as HTML.
fn nosniff(response: &mut Response) {
    response.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
}

fn unauthorized() -> Response {
    let mut response =
        (StatusCode::UNAUTHORIZED, "an access key is needed as HTTP Basic credentials\n")
            .into_response();
    response
        .headers_mut()
        .insert("www-authenticate", HeaderValue::from_static("Basic realm=\"slipway\""));
    response
}

/// Authenticates `Authorization: Basic base64(access-key-id:secret)` (through `crate::auth`)
/// and authorizes reading the log of build `id`; the refusal otherwise.
async fn authorized(
    state: &AppState,
    headers: &HeaderMap,
    peer: &crate::audit::Peer,
    id: &str,
) -> Result<(), Response> {
    let request = crate::auth::RequestParts::headers(headers);
    let principal = match crate::auth::authenticate(state, crate::auth::Route::Logs, &request).await
    {
        Ok(principal) => principal,
        Err(crate::auth::AuthError::Internal(err)) => {
            tracing::error!(%err, "logs: looking up an access key");
            return Err(unauthorized());
        }
        Err(_) => return Err(unauthorized()),
    };
    // Reading a build's log is reading the build: BatchGetBuilds, on the build's project.
    let input = serde_json::json!({ "ids": [id] });
    let place = crate::auth::place(state);
    let facts =
        crate::auth::facts::json_request(place, "codebuild", "BatchGetBuilds", &input, None)
            .map_err(|err| {
                tracing::error!(%err, "logs: the facts of reading a build");
                (StatusCode::INTERNAL_SERVER_ERROR, "authorizing failed\n").into_response()
            })?;
    let origin = crate::audit::Origin::of(headers, peer);
    crate::auth::authorize(state, &principal, &facts.arrived(origin.arrival()))
        .await
        .map_err(|denied| (StatusCode::FORBIDDEN, format!("{denied}\n")).into_response())
}

/// The chunks of a log from `from` on, one page per item, until there are no more.
fn chunks(
    state: AppState,
    id: String,
    from: i64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::unfold(Some(from), move |next| {
        let (state, id) = (state.clone(), id.clone());
        async move {
            let from = next?;
            match state.store.read_log(&id, from, PAGE).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let last = page.last().map_or(from, |it| it.seq + 1);
                    let more = page.len() as i64 == PAGE;
                    let bytes: Vec<u8> = page.into_iter().flat_map(|it| it.data).collect();
                    Some((Ok(Bytes::from(bytes)), more.then_some(last)))
                }
                Err(err) => Some((Err(std::io::Error::other(err.to_string())), None)),
            }
        }
    })
}

pub(crate) async fn download(
    State(state): State<AppState>,
    peer: crate::audit::Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(refused) = authorized(&state, &headers, &peer, &id).await {
        return refused;
    }
    match state.store.get(BUILD, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::NOT_FOUND, format!("no build {id}\n")).into_response(),
        Err(err) => return crate::error::json_response(&crate::error::ApiError::internal(err)),
    }
    whole_log(state, id)
}

/// The whole log of build `id` as a plain-text response, streamed from the store (the caller
/// has checked who asks and that the build exists).
pub(crate) fn whole_log(state: AppState, id: String) -> Response {
    let mut response = Body::from_stream(chunks(state, id, 0)).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
    nosniff(&mut response);
    response
}

/// What of `pending` the live tail sends now: everything up to its last newline, or, when a
/// line has grown past [`LINE_LIMIT`] without one, all of it that is whole UTF-8 (so the
/// held-back text stays bounded). The rest waits for more text.
fn take_lines(pending: &mut Vec<u8>) -> Option<String> {
    let mut complete = pending.iter().rposition(|it| *it == b'\n').map_or(0, |i| i + 1);
    if complete == 0 && pending.len() >= LINE_LIMIT {
        complete = match std::str::from_utf8(pending) {
            Ok(_) => pending.len(),
            // An incomplete character at the end waits; invalid bytes go out as they are.
            Err(err) if err.error_len().is_none() && err.valid_up_to() > 0 => err.valid_up_to(),
            Err(_) => pending.len(),
        };
    }
    if complete == 0 {
        return None;
    }
    let lines: Vec<u8> = pending.drain(..complete).collect();
    Some(String::from_utf8_lossy(&lines).into_owned())
}

/// The beginning of build `id`'s log, at most about `max_bytes` (whole chunks); `true` when
/// the log goes on after it.
pub(crate) async fn log_head(
    state: &AppState,
    id: &str,
    max_bytes: usize,
) -> Result<(Vec<u8>, bool), engine::store::StoreError> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let page = state.store.read_log(id, from, PAGE).await?;
        let full = page.len() as i64 == PAGE;
        for chunk in page {
            if out.len() >= max_bytes {
                return Ok((out, true));
            }
            from = chunk.seq + 1;
            out.extend_from_slice(&chunk.data);
        }
        if !full {
            return Ok((out, false));
        }
    }
}

/// What the live tail has sent so far.
struct Tail {
    state: AppState,
    id: String,
    next_seq: i64,
    /// Text of the last chunk after its last newline, held until the line is complete (at
    /// most about [`LINE_LIMIT`] bytes, see [`take_lines`]).
    partial: Vec<u8>,
    done: bool,
}

pub(crate) async fn live(
    State(state): State<AppState>,
    peer: crate::audit::Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(refused) = authorized(&state, &headers, &peer, &id).await {
        return refused;
    }
    match state.store.get(BUILD, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::NOT_FOUND, format!("no build {id}\n")).into_response(),
        Err(err) => return crate::error::json_response(&crate::error::ApiError::internal(err)),
    }
    let tail = Tail { state, id, next_seq: 0, partial: Vec::new(), done: false };
    let stream = futures::stream::unfold(tail, |mut tail| async move {
        if tail.done || tail.state.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return None;
        }
        // Bounded: every pass either sends something or waits; the build's end ends it.
        loop {
            // Register for a wake-up before reading, so that no append is missed.
            let logs = tail.state.logs.clone();
            let notified = logs.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let page =
                tail.state.store.read_log(&tail.id, tail.next_seq, PAGE).await.unwrap_or_default();
            if let Some(last) = page.last() {
                tail.next_seq = last.seq + 1;
                tail.partial.extend(page.into_iter().flat_map(|it| it.data));
                let Some(lines) = take_lines(&mut tail.partial) else { continue };
                let event = Event::default().event("log").data(lines.trim_end_matches('\n'));
                return Some((Ok::<_, Infallible>(event), tail));
            }
            let complete = matches!(tail.state.store.get(BUILD, &tail.id).await, Ok(Some(doc)) if doc.body["buildComplete"] == true);
            if complete {
                // One more look: the last chunk may have landed with the completion.
                if tail
                    .state
                    .store
                    .read_log(&tail.id, tail.next_seq, 1)
                    .await
                    .map(|it| it.is_empty())
                    .unwrap_or(true)
                {
                    // A last line without a newline goes out before the end.
                    if !tail.partial.is_empty() {
                        let rest = String::from_utf8_lossy(&tail.partial).into_owned();
                        tail.partial.clear();
                        let event = Event::default().event("log").data(rest);
                        return Some((Ok(event), tail));
                    }
                    tail.done = true;
                    let status = tail
                        .state
                        .store
                        .get(BUILD, &tail.id)
                        .await
                        .ok()
                        .flatten()
                        .map(|it| it.body["buildStatus"].to_string())
                        .unwrap_or_default();
                    return Some((
                        Ok(Event::default().event("end").data(status.trim_matches('"'))),
                        tail,
                    ));
                }
                continue;
            }
            tokio::select! {
                () = &mut notified => {}
                // Other replicas append too: look again regularly.
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    });
    let mut response = Sse::new(stream).keep_alive(KeepAlive::default()).into_response();
    nosniff(&mut response);
    response
}
