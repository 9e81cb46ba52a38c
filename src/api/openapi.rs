//! The OpenAPI 3.1 document of the api (`GET /openapi.json`, Swagger UI at `/docs`): every
//! route's `#[utoipa::path]` gathered here. Every operation may also time out (`408`, the
//! router's timeout layer), and that answer is added to each one below rather than
//! repeated on every handler.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        OpenApi as Document, RefOr, ResponseBuilder,
        content::ContentBuilder,
        schema::Ref,
    },
};

use crate::api::{
    destinations, error::ErrorBody, events, health, plans, prometheus, prototype,
};

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
    modifiers(&RequestTimeout)
)]
pub struct ApiDoc;

/// The document, built once per call (it is small; `/openapi.json` is served from a copy).
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// Adds the timeout answer every route may give.
struct RequestTimeout;

impl Modify for RequestTimeout {
    fn modify(&self, openapi: &mut Document) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let timeout = ResponseBuilder::new()
                    .description("The request took longer than `API_REQUEST_TIMEOUT`")
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                    )
                    .build();
                operation
                    .responses
                    .responses
                    .entry("408".to_string())
                    .or_insert(RefOr::T(timeout));
            }
        }
    }
}
