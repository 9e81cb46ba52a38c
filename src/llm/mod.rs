//! The LLM client: any OpenAI-compatible chat-completions server, through async-openai,
//! asked for JSON that follows a strict schema. It knows no travel: the prompts, schemas
//! and validators of the nodes that use it are in `travel::prompts`.
//!
//! Retries have one owner. async-openai retries 429/5xx three times by default; we install
//! our own HTTP service without its retry layer, so each try here is one HTTP request and
//! the `llm` resilience policy (timeout per try, retries, breaker, rate limit) decides the
//! rest. The HTTP client has explicit connect and request timeouts: async-openai sets none.
//!
//! What the model says is never trusted: `ask` validates each answer and, when it is
//! invalid, sends the problem back for a repair round — at most `MAX_REPAIRS` — before the
//! caller falls back to the embedded planner.

mod classify;
mod report;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_openai::{
    Client,
    config::OpenAIConfig,
    middleware::ReqwestService,
    types::chat::{
        ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
        ChatCompletionRequestUserMessage, CreateChatCompletionRequest, ResponseFormat, ResponseFormatJsonSchema,
    },
};
use serde_json::Value;

use crate::{
    config::{Settings, Upstream},
    metrics,
    providers::{ProviderError, http},
    resilience::{Policy, Resilience},
};

pub use report::{LlmReport, Usage};

/// Repair rounds after the first answer.
pub const MAX_REPAIRS: u32 = 2;
const NAME: &str = "llm";

pub struct Llm {
    client: Client<OpenAIConfig>,
    model: String,
    resilience: Arc<Resilience>,
    /// The time one `ask` may take, repairs included: its node's timeout, less a margin.
    budget: Duration,
}

#[derive(Debug, Clone)]
pub enum Message {
    System(String),
    User(String),
    Assistant(String),
}

impl Message {
    fn to_request(&self) -> ChatCompletionRequestMessage {
        match self {
            Message::System(text) => ChatCompletionRequestSystemMessage::from(text.as_str()).into(),
            Message::User(text) => ChatCompletionRequestUserMessage::from(text.as_str()).into(),
            Message::Assistant(text) => ChatCompletionRequestAssistantMessage::from(text.as_str()).into(),
        }
    }
}

/// The JSON schema the answer must follow.
pub struct Schema {
    pub name: &'static str,
    pub schema: Value,
}

/// The outcome of `ask`: the accepted value, or why none was.
pub struct Answer<T> {
    pub value: Option<T>,
    pub report: LlmReport,
}

impl Llm {
    /// `None` when neither `OPENAI_API_KEY` nor `OPENAI_BASE_URL` is set.
    pub fn from_settings(settings: &Settings) -> reqwest::Result<Option<Arc<Self>>> {
        let live = &settings.live;
        if !live.llm_enabled() {
            return Ok(None);
        }
        let base = live
            .openai_base_url
            .clone()
            .unwrap_or_else(|| "https://api.openai.com/v1".into());
        let key = live.openai_api_key.as_ref().map(|k| k.expose().to_string());
        let policy = settings.policy(Upstream::Llm);
        let llm = Self::new(&base, key.as_deref(), &live.openai_model, policy)?;
        Ok(Some(Arc::new(llm.with_budget(settings.node_timeout.mul_f64(0.9)))))
    }

    pub fn new(base_url: &str, api_key: Option<&str>, model: &str, policy: Policy) -> reqwest::Result<Self> {
        let config = OpenAIConfig::new()
            .with_api_base(base_url.trim_end_matches('/'))
            .with_api_key(api_key.unwrap_or(""));
        // Our service, without async-openai's retry layer: the resilience policy retries.
        let service = ReqwestService::new(http::client(policy.timeout)?);
        let budget = policy.timeout * (MAX_REPAIRS + 1);
        Ok(Self {
            client: Client::with_config(config).with_http_service(service),
            model: model.to_string(),
            resilience: Resilience::new(NAME, policy),
            budget,
        })
    }

    /// Gives one `ask` at most `budget`: a repair round that could not finish in time is not
    /// started.
    pub fn with_budget(self, budget: Duration) -> Self {
        Self { budget, ..self }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// One completion (under the resilience policy): the answer's text and its usage.
    async fn complete(
        &self,
        op: &str,
        messages: &[Message],
        schema: &Schema,
    ) -> Result<(String, Usage), ProviderError> {
        self.resilience
            .call(op, || async {
                let request = CreateChatCompletionRequest {
                    model: self.model.clone(),
                    messages: messages.iter().map(Message::to_request).collect(),
                    response_format: Some(ResponseFormat::JsonSchema {
                        json_schema: ResponseFormatJsonSchema {
                            name: schema.name.into(),
                            description: None,
                            schema: schema.schema.clone(),
                            strict: Some(true),
                        },
                    }),
                    temperature: Some(0.2),
                    ..Default::default()
                };
                let response = self
                    .client
                    .chat()
                    .create(request)
                    .await
                    .map_err(|e| classify::classify(NAME, e))?;
                let usage = response.usage.as_ref().map_or(Usage::default(), |u| Usage {
                    prompt_tokens: u64::from(u.prompt_tokens),
                    completion_tokens: u64::from(u.completion_tokens),
                    total_tokens: u64::from(u.total_tokens),
                    calls: 1,
                });
                let message = response.choices.into_iter().next().map(|c| c.message);
                let text = match message {
                    Some(m) => match (m.content, m.refusal) {
                        (Some(content), _) => content,
                        (None, Some(refusal)) => format!("(refused: {refusal})"),
                        (None, None) => String::new(),
                    },
                    None => String::new(),
                };
                Ok((text, Usage { calls: 1, ..usage }))
            })
            .await
    }

    /// Asks until `validate` accepts an answer, with at most `MAX_REPAIRS` repair rounds that
    /// tell the model what was wrong. An unreachable LLM ends the asking with the error kept
    /// in the report; the caller falls back either way.
    pub async fn ask<T>(
        &self,
        op: &str,
        system: String,
        user: String,
        schema: &Schema,
        mut validate: impl FnMut(&str) -> Result<T, String>,
    ) -> Answer<T> {
        let mut messages = vec![Message::System(system), Message::User(user)];
        let mut report = LlmReport {
            model: self.model.clone(),
            ..LlmReport::default()
        };
        let mut last_problem = String::new();
        let started = Instant::now();
        for round in 0..=MAX_REPAIRS {
            if round > 0 && started.elapsed() + self.resilience.policy().timeout > self.budget {
                report.fallback = Some(format!(
                    "LLM {op} out of time after {round} answer(s) in {} s ({last_problem})",
                    started.elapsed().as_secs()
                ));
                return Answer { value: None, report };
            }
            let (text, usage) = match self.complete(op, &messages, schema).await {
                Ok(reply) => reply,
                Err(e) => {
                    report.fallback = Some(format!("LLM unavailable for {op}: {e}"));
                    return Answer { value: None, report };
                }
            };
            report.usage.add(usage);
            metrics::llm_tokens("prompt", usage.prompt_tokens);
            metrics::llm_tokens("completion", usage.completion_tokens);
            match validate(&text) {
                Ok(value) => {
                    return Answer {
                        value: Some(value),
                        report,
                    };
                }
                Err(problem) => {
                    tracing::warn!(op, round, problem, "LLM answer rejected");
                    report.repairs = round + 1;
                    messages.push(Message::Assistant(text));
                    messages.push(Message::User(format!(
                        "Your answer was rejected: {problem}\nAnswer again with one corrected JSON object that follows the schema."
                    )));
                    last_problem = problem;
                }
            }
        }
        report.repairs = MAX_REPAIRS;
        report.fallback = Some(format!(
            "LLM {op} rejected after {MAX_REPAIRS} repair rounds ({last_problem})"
        ));
        Answer { value: None, report }
    }
}

/// The JSON object in a model's answer: the whole text, or the part inside a ```json fence.
pub fn json_of(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed);
    serde_json::from_str(inner.trim()).map_err(|e| format!("the answer is not valid JSON ({e})"))
}
