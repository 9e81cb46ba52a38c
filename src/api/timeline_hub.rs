//! One LISTEN connection per api process on the channel every timeline write announces
//! (`store::timeline::CHANNEL`), fanned out to the live streams of the plans each
//! notification names. A stream holds a `Watch`: a counter that moves whenever its plan may
//! have new events; it then reads them from the table. The connection opens with the first
//! stream, and after it is lost every stream is told to read again, for what was announced
//! while nobody listened.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak, atomic::AtomicBool, atomic::Ordering},
    time::Duration,
};

use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::timeline::CHANNEL;

#[derive(Clone)]
pub struct TimelineHub {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    /// Cancelled when the process stops serving: every stream ends, and its client
    /// reconnects (with `Last-Event-ID`) to another api process.
    closing: CancellationToken,
    listening: AtomicBool,
    plans: Mutex<HashMap<Uuid, Watched>>,
}

struct Watched {
    news: watch::Sender<u64>,
    watchers: usize,
}

/// A stream's interest in one plan; dropping it ends the interest.
pub struct Watch {
    inner: Arc<Inner>,
    plan: Uuid,
    pub news: watch::Receiver<u64>,
}

impl TimelineHub {
    pub fn new(pool: PgPool) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                closing: CancellationToken::new(),
                listening: AtomicBool::new(false),
                plans: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Call before the stream's first read, so that nothing written after it goes unnoticed.
    pub fn watch(&self, plan: Uuid) -> Watch {
        if !self.inner.listening.swap(true, Ordering::AcqRel) {
            tokio::spawn(listen(self.inner.pool.clone(), Arc::downgrade(&self.inner)));
        }
        let mut plans = self.inner.lock();
        let watched = plans.entry(plan).or_insert_with(|| Watched {
            news: watch::channel(0).0,
            watchers: 0,
        });
        watched.watchers += 1;
        Watch {
            inner: self.inner.clone(),
            plan,
            news: watched.news.subscribe(),
        }
    }

    /// Ends every stream: the process is shutting down.
    pub fn close(&self) {
        self.inner.closing.cancel();
    }

    pub fn closing(&self) -> CancellationToken {
        self.inner.closing.clone()
    }

    /// Streams open on this process.
    pub fn watchers(&self) -> usize {
        self.inner.lock().values().map(|w| w.watchers).sum()
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Watched>> {
        // A panic while holding this lock leaves the map consistent: every change is one step.
        self.plans.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn announce(&self, payload: &str) {
        let plans = self.lock();
        for id in payload.split(',') {
            if let Ok(id) = Uuid::parse_str(id.trim())
                && let Some(watched) = plans.get(&id)
            {
                watched.news.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    fn announce_all(&self) {
        for watched in self.lock().values() {
            watched.news.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut plans = self.inner.lock();
        if let Some(watched) = plans.get_mut(&self.plan) {
            watched.watchers -= 1;
            if watched.watchers == 0 {
                plans.remove(&self.plan);
            }
        }
    }
}

async fn listen(pool: PgPool, hub: Weak<Inner>) {
    let mut listener: Option<PgListener> = None;
    loop {
        let Some(active) = listener.as_mut() else {
            match subscribe(&pool).await {
                Ok(l) => {
                    listener = Some(l);
                    let Some(hub) = hub.upgrade() else { return };
                    hub.announce_all();
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for plan events; live streams read on their timer until it can");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            continue;
        };
        // `try_recv` says when the connection was lost (`Ok(None)`; the next call
        // reconnects): whatever was announced meanwhile reached nobody.
        match active.try_recv().await {
            Ok(Some(notification)) => {
                let Some(hub) = hub.upgrade() else { return };
                hub.announce(notification.payload());
            }
            Ok(None) => {
                tracing::warn!("plan-events LISTEN connection lost; reconnecting");
                let Some(hub) = hub.upgrade() else { return };
                hub.announce_all();
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "plan-events LISTEN failed; reconnecting");
                listener = None;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
