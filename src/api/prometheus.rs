//! `GET /metrics`: the process's metrics in the Prometheus text format.

#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "operations",
    summary = "Prometheus metrics of this api process",
    responses((status = 200, description = "The Prometheus text exposition format", body = String, content_type = "text/plain"))
)]
pub async fn metrics() -> String {
    crate::metrics::render()
}
