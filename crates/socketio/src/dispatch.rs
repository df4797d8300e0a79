//! Runs one socket's handlers in order, without a task per socket or per event.
//!
//! Each socket has a queue of jobs (the join, then each event, then the disconnect). A job
//! submitted to an idle queue is polled at once, on the caller's task (the connection's):
//! a handler that completes without waiting costs no task and no wake-up. A job that has to
//! wait moves to a task spawned for the queue, and the jobs that arrive meanwhile wait
//! behind it, so handlers run in arrival order while the connection's task goes on with
//! the heartbeat and the other namespaces. The task ends when the queue is empty.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A boxed, sendable future (what adapter methods and erased handlers return).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A unit of work for a socket.
pub(crate) type Job = BoxFuture<()>;

/// The backlog is full: the handlers cannot keep up with the client.
#[derive(Debug)]
pub(crate) struct Backlogged;

#[derive(Default)]
struct State {
    /// A job is running (inline or on the queue's task).
    running: bool,
    backlog: VecDeque<Job>,
}

/// One socket's job queue.
pub(crate) struct JobQueue {
    state: Mutex<State>,
    max_backlog: usize,
}

impl JobQueue {
    pub(crate) fn new(max_backlog: usize) -> Arc<Self> {
        Arc::new(JobQueue {
            state: Mutex::new(State::default()),
            max_backlog,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Panics inside jobs are caught before they could poison this lock.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `job` after the jobs already queued, unless the backlog is full.
    pub(crate) fn submit(self: &Arc<Self>, job: Job) -> Result<(), Backlogged> {
        self.enqueue(job, true)
    }

    /// If the queue is idle, builds the job with `make` and runs it at once, on the caller's
    /// task; otherwise gives `make` back, for the caller to queue a job that calls it.
    ///
    /// Building the job only when it runs lets it resolve what it will do (an event's
    /// handler) at that moment, and hand over the handler's own future instead of a
    /// boxed future around it: one allocation and a 528-byte copy less per event
    /// (callgrind, `bench/run.sh echo`).
    pub(crate) fn run_now_if_idle<F: FnOnce() -> Job>(self: &Arc<Self>, make: F) -> Option<F> {
        {
            let mut state = self.lock();
            if state.running {
                return Some(make);
            }
            state.running = true;
        }
        // Building the job runs application code (the handler's synchronous part).
        let job = catching_panic(make).unwrap_or_else(|| Box::pin(std::future::ready(())));
        self.run_inline(job);
        None
    }

    /// Runs `job` after the jobs already queued, whatever the backlog: for the leave, whose
    /// handlers must run even when a flood of events is what got the socket cut off.
    pub(crate) fn submit_always(self: &Arc<Self>, job: Job) {
        let _ = self.enqueue(job, false);
    }

    fn enqueue(self: &Arc<Self>, job: Job, bounded: bool) -> Result<(), Backlogged> {
        let mut state = self.lock();
        if state.running {
            if bounded && state.backlog.len() >= self.max_backlog {
                return Err(Backlogged);
            }
            state.backlog.push_back(job);
            return Ok(());
        }
        state.running = true;
        drop(state);
        self.run_inline(job);
        Ok(())
    }

    /// Polls jobs on the current task while they complete without waiting.
    fn run_inline(self: &Arc<Self>, mut job: Job) {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            match poll_catching(&mut job, &mut cx) {
                Poll::Ready(()) => match self.next() {
                    Some(next) => job = next,
                    None => return,
                },
                Poll::Pending => {
                    // The job registered the no-op waker; the task polls it again at once
                    // with its own, so no wake-up is lost.
                    self.spawn_worker(job);
                    return;
                }
            }
        }
    }

    /// The next job, or none (and the queue is idle).
    fn next(&self) -> Option<Job> {
        let mut state = self.lock();
        let next = state.backlog.pop_front();
        if next.is_none() {
            state.running = false;
        }
        next
    }

    fn spawn_worker(self: &Arc<Self>, first: Job) {
        let queue = self.clone();
        let worker = async move {
            let mut job = first;
            loop {
                std::future::poll_fn(|cx| poll_catching(&mut job, cx)).await;
                match queue.next() {
                    Some(next) => job = next,
                    None => return,
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(worker);
            }
            Err(_) => {
                tracing::error!("a socket handler waited outside a Tokio runtime; it was dropped");
                self.lock().running = false;
            }
        }
    }
}

/// Polls a job; a panic in it ends the job (and is logged) instead of the connection.
fn poll_catching(job: &mut Job, cx: &mut Context<'_>) -> Poll<()> {
    catching_panic(|| job.as_mut().poll(cx)).unwrap_or(Poll::Ready(()))
}

/// Runs application code; a panic in it is logged and gives `None`.
fn catching_panic<T>(f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%message, "a socket handler panicked");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn record(log: &Arc<Mutex<Vec<usize>>>, n: usize) -> Job {
        let log = log.clone();
        Box::pin(async move { log.lock().unwrap().push(n) })
    }

    #[tokio::test]
    async fn ready_jobs_run_inline_in_order() {
        let queue = JobQueue::new(10);
        let log = Arc::new(Mutex::new(Vec::new()));
        for n in 0..3 {
            queue.submit(record(&log, n)).unwrap();
            assert_eq!(
                log.lock().unwrap().len(),
                n + 1,
                "ran before submit returned"
            );
        }
    }

    #[tokio::test]
    async fn a_waiting_job_holds_back_the_next_ones() {
        let queue = JobQueue::new(10);
        let log = Arc::new(Mutex::new(Vec::new()));
        let (open, gate) = tokio::sync::oneshot::channel::<()>();
        let slow_log = log.clone();
        queue
            .submit(Box::pin(async move {
                let _ = gate.await;
                slow_log.lock().unwrap().push(0);
            }))
            .unwrap();
        queue.submit(record(&log, 1)).unwrap();
        queue.submit(record(&log, 2)).unwrap();
        tokio::task::yield_now().await;
        assert!(log.lock().unwrap().is_empty());
        open.send(()).unwrap();
        for _ in 0..100 {
            if log.lock().unwrap().len() == 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert_eq!(*log.lock().unwrap(), vec![0, 1, 2]);
        // Idle again: the next job runs inline.
        queue.submit(record(&log, 3)).unwrap();
        assert_eq!(log.lock().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn a_job_is_built_at_once_when_idle_and_when_its_turn_comes_otherwise() {
        let queue = JobQueue::new(10);
        let log = Arc::new(Mutex::new(Vec::new()));
        let built = log.clone();
        let job = record(&log, 0);
        assert!(
            queue
                .run_now_if_idle(move || {
                    built.lock().unwrap().push(100);
                    job
                })
                .is_none()
        );
        assert_eq!(*log.lock().unwrap(), vec![100, 0]);

        let (open, gate) = tokio::sync::oneshot::channel::<()>();
        queue
            .submit(Box::pin(async move {
                let _ = gate.await;
            }))
            .unwrap();
        let built = log.clone();
        let job = record(&log, 1);
        let make = queue
            .run_now_if_idle(move || {
                built.lock().unwrap().push(101);
                job
            })
            .expect("busy: handed back");
        queue.submit(Box::pin(async move { make().await })).unwrap();
        assert_eq!(log.lock().unwrap().len(), 2, "not built while waiting");
        open.send(()).unwrap();
        for _ in 0..100 {
            if log.lock().unwrap().len() == 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert_eq!(*log.lock().unwrap(), vec![100, 0, 101, 1]);
    }

    #[tokio::test]
    async fn a_panic_while_building_a_job_leaves_the_queue_usable() {
        let queue = JobQueue::new(10);
        assert!(
            queue
                .run_now_if_idle(|| -> Job { panic!("boom") })
                .is_none()
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        queue.submit(record(&log, 7)).unwrap();
        assert_eq!(*log.lock().unwrap(), vec![7]);
    }

    #[tokio::test]
    async fn the_backlog_is_bounded() {
        let queue = JobQueue::new(2);
        queue
            .submit(Box::pin(std::future::pending::<()>()))
            .unwrap();
        queue.submit(Box::pin(async {})).unwrap();
        queue.submit(Box::pin(async {})).unwrap();
        assert!(queue.submit(Box::pin(async {})).is_err());
    }

    #[tokio::test]
    async fn a_panicking_job_does_not_stop_the_queue() {
        let queue = JobQueue::new(10);
        let ran = Arc::new(AtomicUsize::new(0));
        queue.submit(Box::pin(async { panic!("boom") })).unwrap();
        let counter = ran.clone();
        queue
            .submit(Box::pin(async move {
                counter.fetch_add(1, Ordering::SeqCst);
            }))
            .unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }
}
