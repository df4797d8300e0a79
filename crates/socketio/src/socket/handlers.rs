//! A socket's event handlers by event name.

use std::sync::Arc;

use crate::handler::ErasedEventHandler;

/// Event handlers by name: a vector sorted by name and searched by bisection.
///
/// A socket registers a handful of events; a hash map for them took 344 bytes per
/// connection (valgrind's dhat, `bench/run.sh connect`), this takes 40 per event, and an
/// event's only handler is kept without a list around it.
#[derive(Default)]
pub(super) struct HandlerTable(Vec<(Box<str>, Handlers)>);

/// The handlers of one event, run in this order.
#[derive(Clone)]
pub(super) enum Handlers {
    One(ErasedEventHandler),
    Many(Arc<[ErasedEventHandler]>),
}

impl std::ops::Deref for Handlers {
    type Target = [ErasedEventHandler];

    fn deref(&self) -> &Self::Target {
        match self {
            Handlers::One(handler) => std::slice::from_ref(handler),
            Handlers::Many(handlers) => handlers,
        }
    }
}

impl HandlerTable {
    pub(super) fn get(&self, name: &str) -> Option<&Handlers> {
        let at = self.0.binary_search_by(|(key, _)| (**key).cmp(name)).ok()?;
        Some(&self.0[at].1)
    }

    /// Adds `handler` after those already registered for `name`.
    pub(super) fn add(&mut self, name: String, handler: ErasedEventHandler) {
        match self
            .0
            .binary_search_by(|(key, _)| (**key).cmp(name.as_str()))
        {
            Ok(at) => {
                let entry = &mut self.0[at].1;
                let mut handlers = entry.to_vec();
                handlers.push(handler);
                *entry = Handlers::Many(Arc::from(handlers));
            }
            Err(at) => {
                self.0.reserve_exact(1);
                self.0.insert(at, (name.into(), Handlers::One(handler)));
            }
        }
    }

    pub(super) fn remove(&mut self, name: &str) {
        if let Ok(at) = self.0.binary_search_by(|(key, _)| (**key).cmp(name)) {
            self.0.remove(at);
        }
    }

    pub(super) fn clear(&mut self) {
        self.0 = Vec::new();
    }
}
