//! The listeners of a socket and of a manager: several per event, each removable by the
//! id it was registered with, called in the order they were added.
//!
//! Each list is copied on write and shared on read: the driver takes a list with one
//! reference count and calls it without holding any lock, so a listener may add or
//! remove listeners (itself included) while it runs.

use std::sync::Arc;

/// Names a registered listener, to remove it with `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(pub(crate) u64);

/// One listener: its id, whether it is removed after its first call, and the function.
pub(crate) struct Entry<F> {
    pub(crate) id: ListenerId,
    pub(crate) once: bool,
    pub(crate) f: F,
}

impl<F: Clone> Clone for Entry<F> {
    fn clone(&self) -> Self {
        Entry {
            id: self.id,
            once: self.once,
            f: self.f.clone(),
        }
    }
}

/// An ordered list of listeners, shared on read.
pub(crate) struct List<F>(Arc<Vec<Entry<F>>>);

impl<F> Default for List<F> {
    fn default() -> Self {
        List(Arc::new(Vec::new()))
    }
}

impl<F: Clone> List<F> {
    pub(crate) fn snapshot(&self) -> Arc<Vec<Entry<F>>> {
        self.0.clone()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn push(&mut self, entry: Entry<F>, first: bool) {
        let list = Arc::make_mut(&mut self.0);
        if first {
            list.insert(0, entry);
        } else {
            list.push(entry);
        }
    }

    pub(crate) fn remove(&mut self, id: ListenerId) -> bool {
        let Some(i) = self.0.iter().position(|entry| entry.id == id) else {
            return false;
        };
        Arc::make_mut(&mut self.0).remove(i);
        true
    }

    pub(crate) fn clear(&mut self) {
        self.0 = Arc::new(Vec::new());
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}
