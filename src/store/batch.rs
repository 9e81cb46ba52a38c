//! Group commit: the writes of many plans' runs share one statement and one commit. A caller
//! sends its item and waits for its own answer; a writer task takes every item waiting at
//! that moment (up to a cap), writes them together and answers each. Alone, an item is
//! written at once; under load the batches grow by themselves, with no timer to tune. A few
//! writers take turns, so that one batch is collected while another is written.
//!
//! When a batch fails on an unavailable database every item gets that error (callers wait
//! it out with `durable`); any other failure is retried item by item, so that one bad item
//! (say, text PostgreSQL refuses) fails alone.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc, oneshot};

/// A statement that writes many items at once, answering each in order.
#[async_trait]
pub trait BatchWrite: Send + Sync + 'static {
    type Item: Send + 'static;
    type Answer: Send + 'static;

    async fn write(&self, items: &[Self::Item]) -> Result<Vec<Self::Answer>, sqlx::Error>;
}

type Reply<A> = oneshot::Sender<Result<A, sqlx::Error>>;

pub struct Batcher<W: BatchWrite> {
    sender: mpsc::Sender<(W::Item, Reply<W::Answer>)>,
}

impl<W: BatchWrite> Clone for Batcher<W> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

impl<W: BatchWrite> Batcher<W> {
    /// Starts `writers` writing tasks; they end when the last `Batcher` is dropped.
    pub fn spawn(writer: W, max_batch: usize, writers: usize) -> Self {
        let (sender, receiver) = mpsc::channel(max_batch.max(1) * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        let writer = Arc::new(writer);
        for _ in 0..writers.max(1) {
            tokio::spawn(write_batches(writer.clone(), receiver.clone(), max_batch.max(1)));
        }
        Self { sender }
    }

    pub async fn write(&self, item: W::Item) -> Result<W::Answer, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((item, reply))
            .await
            .map_err(|_| sqlx::Error::WorkerCrashed)?;
        answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

type Receiver<W> = Arc<Mutex<mpsc::Receiver<(<W as BatchWrite>::Item, Reply<<W as BatchWrite>::Answer>)>>>;

async fn write_batches<W: BatchWrite>(writer: Arc<W>, receiver: Receiver<W>, max_batch: usize) {
    let mut waiting = Vec::with_capacity(max_batch);
    loop {
        if receiver.lock().await.recv_many(&mut waiting, max_batch).await == 0 {
            return;
        }
        let (items, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut waiting).into_iter().unzip();
        match writer.write(&items).await {
            Ok(answers) if answers.len() == items.len() => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
            }
            Ok(answers) => {
                let message = format!("a batch of {} writes got {} answers", items.len(), answers.len());
                for reply in replies {
                    let _ = reply.send(Err(sqlx::Error::Decode(message.clone().into())));
                }
            }
            Err(e) if crate::db::is_unavailable(&e) || items.len() == 1 => {
                let unavailable = crate::db::is_unavailable(&e);
                let message = e.to_string();
                let mut first = Some(e);
                for reply in replies {
                    let error = match first.take() {
                        Some(e) => e,
                        None if unavailable => sqlx::Error::Io(std::io::Error::other(message.clone())),
                        None => sqlx::Error::Decode(message.clone().into()),
                    };
                    let _ = reply.send(Err(error));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, items = items.len(), "batched write failed; writing its items one by one");
                for (item, reply) in items.into_iter().zip(replies) {
                    let answer = writer.write(std::slice::from_ref(&item)).await;
                    let _ = reply.send(answer.and_then(|mut a| {
                        a.pop()
                            .ok_or_else(|| sqlx::Error::Decode("a write got no answer".into()))
                    }));
                }
            }
        }
    }
}
