//! A small Server-Sent Events reader over a reqwest response, for the live-stream tests.

use std::time::Duration;

/// One event as it arrived: comments (heartbeats) are skipped.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }

    pub fn seq(&self) -> i64 {
        self.id
            .as_deref()
            .expect("event has an id")
            .parse()
            .expect("numeric id")
    }
}

pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` once the server closed the stream. Panics after `limit`.
    pub async fn next(&mut self, limit: Duration) -> Option<SseEvent> {
        tokio::time::timeout(limit, self.next_event())
            .await
            .expect("no event and no end of stream in time")
    }

    async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            match self.response.chunk().await.expect("stream read") {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }

    /// Every remaining event until the server closes the stream.
    pub async fn rest(&mut self, limit: Duration) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next(limit).await {
            events.push(event);
        }
        events
    }
}

fn parse(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent {
        id: None,
        event: None,
        data: String::new(),
    };
    let mut any = false;
    for line in block.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        any = true;
        match field {
            "id" => event.id = Some(value.to_string()),
            "event" => event.event = Some(value.to_string()),
            "data" => {
                if !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(value);
            }
            _ => {}
        }
    }
    any.then_some(event)
}
