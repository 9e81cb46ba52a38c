//! Group commit, and group reads: the writes of many plans' runs share one statement and one
//! commit (`progress`), and so do many requests' submissions (`submissions::Submissions`) and
//! reads (`plan_reads::Reads`). A caller sends its item and waits for its own answer; a task
//! takes every item waiting at that moment (up to a cap), runs them in one statement and
//! answers each. Alone, an item runs at once; under load the batches grow by themselves, with
//! no timer to tune. A few tasks take turns, so that one batch is collected while another
//! runs.
//!
//! When a batch fails on an unavailable database every item gets that error (the runs' writes
//! wait it out with `durable`, the API answers 503). So does a batch whose answer could not be
//! read: the statement ran, and may have committed, so it never runs again. Any other failure
//! is retried item by item, so that one bad item (say, text PostgreSQL refuses) fails alone.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc, oneshot};

/// A statement that takes many items at once, answering each in order: one statement,
/// committed on its own.
#[async_trait]
pub trait BatchStatement: Send + Sync + 'static {
    type Item: Send + 'static;
    type Answer: Send + 'static;

    async fn run(&self, items: &[Self::Item]) -> Result<Vec<Self::Answer>, sqlx::Error>;
}

type Reply<A> = oneshot::Sender<Result<A, sqlx::Error>>;

pub struct Batcher<W: BatchStatement> {
    sender: mpsc::Sender<(W::Item, Reply<W::Answer>)>,
}

impl<W: BatchStatement> Clone for Batcher<W> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

impl<W: BatchStatement> Batcher<W> {
    /// Starts `tasks` tasks running batches; they end when the last `Batcher` is dropped.
    pub fn spawn(statement: W, max_batch: usize, tasks: usize) -> Self {
        let (sender, receiver) = mpsc::channel(max_batch.max(1) * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        let statement = Arc::new(statement);
        for _ in 0..tasks.max(1) {
            tokio::spawn(run_batches(statement.clone(), receiver.clone(), max_batch.max(1)));
        }
        Self { sender }
    }

    pub async fn call(&self, item: W::Item) -> Result<W::Answer, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((item, reply))
            .await
            .map_err(|_| sqlx::Error::WorkerCrashed)?;
        answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

type Receiver<W> = Arc<Mutex<mpsc::Receiver<(<W as BatchStatement>::Item, Reply<<W as BatchStatement>::Answer>)>>>;

async fn run_batches<W: BatchStatement>(statement: Arc<W>, receiver: Receiver<W>, max_batch: usize) {
    let mut waiting = Vec::with_capacity(max_batch);
    loop {
        if receiver.lock().await.recv_many(&mut waiting, max_batch).await == 0 {
            return;
        }
        let (items, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut waiting).into_iter().unzip();
        match statement.run(&items).await {
            Ok(answers) if answers.len() == items.len() => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
            }
            Ok(answers) => {
                let message = format!("a batch of {} items got {} answers", items.len(), answers.len());
                for reply in replies {
                    let _ = reply.send(Err(sqlx::Error::Decode(message.clone().into())));
                }
            }
            Err(e) if crate::db::is_unavailable(&e) || answer_unreadable(&e) || items.len() == 1 => {
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
                tracing::warn!(error = %e, items = items.len(), "batched statement failed; running its items one by one");
                for (item, reply) in items.into_iter().zip(replies) {
                    let answer = statement.run(std::slice::from_ref(&item)).await;
                    let _ = reply.send(answer.and_then(|mut a| {
                        a.pop()
                            .ok_or_else(|| sqlx::Error::Decode("an item got no answer".into()))
                    }));
                }
            }
        }
    }
}

/// Errors met reading a statement's rows, after PostgreSQL ran it.
fn answer_unreadable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Decode(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Fails any batch of more than one item with `error`, answers single items with
    /// themselves, and counts the statements it ran.
    struct FailsBatches {
        error: fn() -> sqlx::Error,
        ran: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl BatchStatement for FailsBatches {
        type Item = u32;
        type Answer = u32;

        async fn run(&self, items: &[u32]) -> Result<Vec<u32>, sqlx::Error> {
            self.ran.fetch_add(1, Ordering::SeqCst);
            if items.len() > 1 {
                return Err((self.error)());
            }
            Ok(items.to_vec())
        }
    }

    /// Three calls sent before the batching task wakes, so that they share one batch.
    async fn three_at_once(error: fn() -> sqlx::Error) -> (Vec<Result<u32, sqlx::Error>>, usize) {
        let ran = Arc::new(AtomicUsize::new(0));
        let statement = FailsBatches {
            error,
            ran: ran.clone(),
        };
        let batcher = Batcher::spawn(statement, 8, 1);
        let answers = futures::future::join_all((1..=3).map(|i| batcher.call(i))).await;
        (answers, ran.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_batch_whose_answer_could_not_be_read_is_never_run_again() {
        let (answers, ran) = three_at_once(|| sqlx::Error::Decode("a column of another type".into())).await;
        assert_eq!(ran, 1, "the statement ran once, its items never again");
        assert!(answers.iter().all(Result::is_err), "{answers:?}");
    }

    #[tokio::test]
    async fn a_batch_refused_for_another_reason_is_run_again_item_by_item() {
        let (answers, ran) = three_at_once(|| sqlx::Error::RowNotFound).await;
        assert_eq!(ran, 4, "the batch, then each item alone");
        let answers: Vec<u32> = answers
            .into_iter()
            .map(|a| a.expect("each item alone succeeds"))
            .collect();
        assert_eq!(answers, vec![1, 2, 3]);
    }
}
