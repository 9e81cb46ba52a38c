//! What the planner asks the LLM, and how it judges the answers: reading a free-text query
//! (`understand`) and choosing the itinerary among the candidates (`draft`). Each builds the
//! prompt and the strict JSON schema and validates every answer with the same code that
//! validates a client's request or a composer's draft.

pub mod draft;
pub mod reading;
pub mod understand;
