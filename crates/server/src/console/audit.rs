//! The console's audit page (`/console/audit`): the newest CloudTrail events, filtered by user
//! and event name, paged; authorized as `cloudtrail:LookupEvents`, as the API authorizes it.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use cloudtrail::event::Event;
use cloudtrail::lookup::{Search, find};
use serde::Deserialize;

use super::{ConsoleError, Frame, Page, SignedIn, arrival, display_time, frame, principal, render};
use crate::AppState;
use crate::audit::FLUSH_WAIT;

/// How many events a page shows.
const PAGE_SIZE: usize = 50;

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    frame: Option<Frame>,
    user: String,
    event: String,
    events: Vec<EventRow>,
    next: Option<String>,
}

struct EventRow {
    id: String,
    time: String,
    user: String,
    name: String,
    source: String,
    source_ip: String,
    /// The error code, when the request was refused or failed.
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct AuditQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    event: String,
    next: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(query): Query<AuditQuery>,
) -> Page {
    let input = serde_json::json!({});
    let principal = principal(&session);
    let arrival = arrival(&session);
    crate::aws::authorize(&state, &principal, "cloudtrail", "LookupEvents", &input, arrival)
        .await?;
    let (user, event) = (query.user.trim().to_owned(), query.event.trim().to_owned());
    let mut search = Search::default();
    if !user.is_empty() {
        search.attributes.push(("Username".to_owned(), user.clone()));
    }
    if !event.is_empty() {
        search.attributes.push(("EventName".to_owned(), event.clone()));
    }
    state.audit.flush(FLUSH_WAIT).await;
    let token = query.next.as_deref().filter(|it| !it.is_empty());
    let found = find(&state.store, &search, token, PAGE_SIZE).await.map_err(|err| {
        if err.code == "InvalidNextTokenException" {
            ConsoleError(
                StatusCode::BAD_REQUEST,
                "This page of events no longer exists.".to_owned(),
            )
        } else {
            err.into()
        }
    })?;
    let events = found.events.iter().map(row).collect();
    let frame = Some(frame(&state, &session).await);
    let page = AuditPage { frame, user, event, events, next: found.next };
    render(StatusCode::OK, &page)
}

fn row(event: &Event) -> EventRow {
    let identity = &event.user_identity;
    EventRow {
        id: event.event_id.clone(),
        time: display_time(event.time_ms()),
        // As LookupEvents' `Username` (a role's session by its session name), which the
        // page's user filter matches.
        user: identity.lookup_name().map_or_else(|| identity.identity_type.clone(), str::to_owned),
        name: event.event_name.clone(),
        source: event.event_source.clone(),
        source_ip: event.source_ip_address.clone(),
        error: event.error_code.clone(),
    }
}
