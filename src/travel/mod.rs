//! Travel planning, and nothing else: the request and how free text is read (`request`,
//! `parse`, `preferences`), the candidates a plan is drafted from and the sources they come
//! from (`candidates`, `sources`), the hard rules and the code that follows them
//! (`rules`, `geo`, `compose`, `realize`) and the code that verifies them (`check`), what
//! the LLM is asked (`prompts`), the finished plan (`itinerary`, `markdown`) in the request's
//! language (`language`, every sentence in `words`), and the graph
//! that puts it all in order (`nodes`). Running a plan's attempts is the queue's business.

pub mod candidates;
pub mod check;
pub mod compose;
pub mod geo;
pub mod itinerary;
pub mod language;
pub mod markdown;
pub mod nodes;
pub mod parse;
pub mod preferences;
pub mod prompts;
pub mod prototype;
pub mod realize;
pub mod request;
pub mod rules;
pub mod sources;
pub mod unhonoured;
pub mod words;
