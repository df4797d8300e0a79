//! The link of one server to the broker, shared by its namespaces: publishes leave in the
//! order they were made (one task drains a bounded queue, in pipelined batches),
//! subscriptions change in the order asked, and counters say how it goes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Notify, mpsc, oneshot};

use crate::error::RedisAdapterError;
use crate::pubsub::{MessageHandler, PubSub, Publish, Subscription};

/// Publishes waiting at most (beyond it, new ones fail at once).
pub(crate) const QUEUE_CAPACITY: usize = 65_536;
/// Publishes sent in one pipeline at most.
const BATCH: usize = 256;

/// What a server's adapter has done so far (for metrics and health checks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdapterMetrics {
    /// Whether the broker answered lately.
    pub connected: bool,
    /// Messages published.
    pub published: u64,
    /// Messages that failed to publish (the broker was down or failed).
    pub publish_errors: u64,
    /// Operations refused because the broker was down or the queue full.
    pub refused: u64,
    /// Messages received from the other servers.
    pub received: u64,
    /// Requests to the other servers that timed out.
    pub request_timeouts: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) publish_errors: AtomicU64,
    refused: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) request_timeouts: AtomicU64,
}

struct Outgoing {
    publish: Publish,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

enum SubscriptionChange {
    Add(Subscription, MessageHandler),
    Remove(Subscription),
}

pub(crate) struct Link {
    pub(crate) pubsub: Arc<dyn PubSub>,
    queue: mpsc::Sender<Outgoing>,
    changes: mpsc::UnboundedSender<SubscriptionChange>,
    pending_changes: Arc<AtomicUsize>,
    settled: Arc<Notify>,
    pub(crate) counters: Arc<Counters>,
}

impl Link {
    /// Starts the link's tasks on the current Tokio runtime.
    pub(crate) fn start(pubsub: Arc<dyn PubSub>) -> Arc<Link> {
        let (queue, mut queued) = mpsc::channel::<Outgoing>(QUEUE_CAPACITY);
        let (changes, mut changed) = mpsc::unbounded_channel::<SubscriptionChange>();
        let counters = Arc::new(Counters::default());
        let pending_changes = Arc::new(AtomicUsize::new(0));
        let settled = Arc::new(Notify::new());

        let publisher = pubsub.clone();
        let publish_counters = counters.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while queued.recv_many(&mut batch, BATCH).await > 0 {
                let (messages, waiters): (Vec<_>, Vec<_>) =
                    batch.drain(..).map(|o| (o.publish, o.done)).unzip();
                let count = messages.len() as u64;
                let result = publisher.publish(messages).await;
                match &result {
                    Ok(()) => publish_counters
                        .published
                        .fetch_add(count, Ordering::Relaxed),
                    Err(error) => {
                        tracing::warn!(%error, count, "messages to the other servers not published");
                        publish_counters
                            .publish_errors
                            .fetch_add(count, Ordering::Relaxed)
                    }
                };
                for waiter in waiters.into_iter().flatten() {
                    let _ = waiter.send(result.as_ref().map(drop).map_err(|e| e.to_string()));
                }
            }
        });

        let subscriber = pubsub.clone();
        let pending = pending_changes.clone();
        let done = settled.clone();
        tokio::spawn(async move {
            while let Some(change) = changed.recv().await {
                let (what, result) = match change {
                    SubscriptionChange::Add(subscription, handler) => {
                        let result = subscriber.subscribe(subscription.clone(), handler).await;
                        (subscription, result)
                    }
                    SubscriptionChange::Remove(subscription) => {
                        let result = subscriber.unsubscribe(subscription.clone()).await;
                        (subscription, result)
                    }
                };
                if let Err(error) = result {
                    // The backend keeps the route: the subscription comes back with the
                    // connection.
                    tracing::warn!(%error, ?what, "subscription change failed");
                }
                if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                    done.notify_waiters();
                }
            }
        });

        Arc::new(Link {
            pubsub,
            queue,
            changes,
            pending_changes,
            settled,
            counters,
        })
    }

    /// Counts and returns a refusal.
    pub(crate) fn refuse(&self, what: &'static str, reason: &'static str) -> RedisAdapterError {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        RedisAdapterError::Unavailable {
            operation: what,
            reason,
        }
    }

    fn enqueue(
        &self,
        what: &'static str,
        publish: Publish,
        done: Option<oneshot::Sender<Result<(), String>>>,
    ) -> Result<(), RedisAdapterError> {
        if !self.pubsub.is_connected() {
            return Err(self.refuse(what, "Redis is unreachable"));
        }
        self.queue
            .try_send(Outgoing { publish, done })
            .map_err(|_| self.refuse(what, "the publish queue is full"))
    }

    /// Queues a message (fire and forget, in order with every other).
    pub(crate) fn send(
        &self,
        what: &'static str,
        publish: Publish,
    ) -> Result<(), RedisAdapterError> {
        self.enqueue(what, publish, None)
    }

    /// Queues a message and waits until the broker took it.
    pub(crate) async fn send_and_wait(
        &self,
        what: &'static str,
        publish: Publish,
    ) -> Result<(), RedisAdapterError> {
        let (done, published) = oneshot::channel();
        self.enqueue(what, publish, Some(done))?;
        match published.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(RedisAdapterError::Publish {
                operation: what,
                reason,
            }),
            Err(_) => Err(self.refuse(what, "the adapter is shutting down")),
        }
    }

    /// Subscribes (in order with the other changes).
    pub(crate) fn subscribe(&self, subscription: Subscription, handler: MessageHandler) {
        self.change(SubscriptionChange::Add(subscription, handler));
    }

    /// Unsubscribes (in order with the other changes).
    pub(crate) fn unsubscribe(&self, subscription: Subscription) {
        self.change(SubscriptionChange::Remove(subscription));
    }

    fn change(&self, change: SubscriptionChange) {
        self.pending_changes.fetch_add(1, Ordering::AcqRel);
        if self.changes.send(change).is_err() {
            self.pending_changes.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Waits until every subscription change asked so far was made.
    pub(crate) async fn settled(&self) {
        loop {
            let notified = self.settled.notified();
            if self.pending_changes.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn metrics(&self) -> AdapterMetrics {
        let c = &self.counters;
        AdapterMetrics {
            connected: self.pubsub.is_connected(),
            published: c.published.load(Ordering::Relaxed),
            publish_errors: c.publish_errors.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            request_timeouts: c.request_timeouts.load(Ordering::Relaxed),
        }
    }
}
