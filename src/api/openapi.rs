//! The OpenAPI 3.1 document of the api (`GET /openapi.json`, Swagger UI at `/docs`): every
//! route's `#[utoipa::path]` gathered here. Every operation may also time out (`408`, the
//! router's timeout layer), and that answer is added to each one below rather than
//! repeated on every handler. Links say which id a submission's answer gives the routes of
//! that plan (and let schemathesis follow them).

use utoipa::{
    Modify, OpenApi,
    openapi::{OpenApi as Document, RefOr, ResponseBuilder, content::ContentBuilder, schema::Ref},
};

use serde_json::{Value, json};

use crate::api::{destinations, error::ErrorBody, events, health, plans, prometheus, prototype};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "travel-planner",
        description = "A durable AI travel-planning service: submit a trip request, follow the plan \
            through the planning graph, read the itinerary. Every error is \
            `{\"error\": {\"code\", \"message\", \"field\"}}`."
    ),
    paths(
        plans::submit,
        plans::list,
        plans::get,
        plans::cancel,
        plans::approve,
        plans::reject,
        plans::retry,
        plans::itinerary_markdown,
        events::stream,
        destinations::list,
        prototype::plan,
        prototype::status,
        prototype::download,
        prototype::tasks,
        prototype::chat::chat,
        health::health,
        health::ready,
        prometheus::metrics,
    ),
    components(schemas(ErrorBody, events::EventData)),
    tags(
        (name = "plans", description = "The v1 API: plans, their events and the destinations"),
        (name = "prototype", description = "The Python prototype's routes, kept for its clients"),
        (name = "operations", description = "Liveness, readiness and metrics"),
    ),
    modifiers(&RequestTimeout, &ApiKeys)
)]
pub struct ApiDoc;

/// The document as served. Links are written as JSON: utoipa 5 spells the Link object's
/// fields `operation_id`, not `operationId`.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    for (path, status, field, parameter, operations) in LINKS {
        let Some(response) = doc.pointer_mut(&format!("/paths/{}/post/responses/{status}", path.replace('/', "~1")))
        else {
            continue;
        };
        let links: serde_json::Map<String, Value> = operations
            .iter()
            .map(|op| {
                let link = json!({
                    "operationId": op,
                    "parameters": { *parameter: format!("$response.body#/{field}") },
                });
                (op.to_string(), link)
            })
            .collect();
        response["links"] = Value::Object(links);
    }
    doc
}

/// From a submission's answer to the routes that take the plan (or task) it made:
/// `(submitting path, its answer's status, the id in its body, the parameter, the operations)`.
const LINKS: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "/v1/plans",
        "202",
        "id",
        "id",
        &[
            "get_plan",
            "plan_events",
            "plan_itinerary_markdown",
            "cancel_plan",
            "approve_plan",
            "reject_plan",
            "retry_plan",
        ],
    ),
    (
        "/plan",
        "200",
        "task_id",
        "task_id",
        &["prototype_status", "prototype_download"],
    ),
];

/// Adds the answers every route may give: a timeout, headers too large.
struct RequestTimeout;

impl Modify for RequestTimeout {
    fn modify(&self, openapi: &mut Document) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                answers(
                    operation,
                    "408",
                    "The request took longer than `API_REQUEST_TIMEOUT_MS`",
                );
                answers(operation, "431", "The request's headers are over 16 KiB in all");
            }
        }
    }
}

/// Every route but the probes, the metrics and this document may ask for an API key
/// (`AUTH_MODE=required`): the bearer scheme, and the `401` answer with its challenge.
struct ApiKeys;

impl Modify for ApiKeys {
    fn modify(&self, openapi: &mut Document) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`tp_…` from `planner keys create`; required when AUTH_MODE=required",
                    ))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            if ["/health", "/ready", "/metrics"].contains(&path.as_str()) {
                continue;
            }
            for operation in operations(item) {
                // Optional: `{}` lets a caller without a key through when AUTH_MODE=off.
                operation.security = Some(vec![
                    SecurityRequirement::new("api_key", Vec::<String>::new()),
                    SecurityRequirement::default(),
                ]);
                answers(
                    operation,
                    "401",
                    "No API key, or one that is malformed, unknown or revoked (`WWW-Authenticate: Bearer`)",
                );
                answers(
                    operation,
                    "429",
                    "The API key is over its rate limit (`Retry-After` says when to come back)",
                );
            }
        }
    }
}

/// An answer whose body is the JSON error.
fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// The operations of one path.
fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Documents that `operation` may answer `status` with the JSON error, unless it says so already.
fn answers(operation: &mut utoipa::openapi::path::Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(error_response(description)));
}
