//! A first-in first-out queue that keeps its first item inline.
//!
//! A session's queues (events, transmits, frames to write) almost always hold one item at
//! a time and sit empty between messages. A `VecDeque` keeps its capacity once it has
//! grown, so ten thousand idle connections each kept four slots of every queue (measured
//! with valgrind's dhat: about 0.8 KB per connection). [`Queue`] holds one item without
//! allocating and gives back what it allocated for a burst as soon as the burst is drained.
//! Its overflow sits behind one pointer: an empty `VecDeque` inline took 32 bytes in each
//! of a connection's seven queues, 168 bytes per idle connection (dhat,
//! `bench/run.sh connect`), for bursts of two or more items that most queues never see.

use std::collections::VecDeque;

/// A FIFO that holds its first item inline and frees its overflow once drained.
///
/// ```
/// use engineio_proto::queue::Queue;
///
/// let mut queue = Queue::new();
/// queue.push_back(1);
/// queue.push_back(2);
/// assert_eq!(queue.len(), 2);
/// assert_eq!(queue.iter().copied().collect::<Vec<_>>(), [1, 2]);
/// assert_eq!(queue.pop_front(), Some(1));
/// assert_eq!(queue.pop_front(), Some(2));
/// assert_eq!(queue.pop_front(), None);
/// ```
#[derive(Debug, Clone)]
pub struct Queue<T> {
    /// The front item. `None` only when the queue is empty.
    head: Option<T>,
    /// The items after the front one, once there have been any.
    #[expect(
        clippy::box_collection,
        reason = "one pointer instead of an empty VecDeque's 32 bytes in every idle queue"
    )]
    rest: Option<Box<VecDeque<T>>>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue::new()
    }
}

impl<T> Queue<T> {
    /// An empty queue; it allocates nothing until it holds two items.
    pub const fn new() -> Self {
        Queue {
            head: None,
            rest: None,
        }
    }

    /// Adds an item at the back.
    pub fn push_back(&mut self, item: T) {
        if self.head.is_none() {
            self.head = Some(item);
        } else {
            self.rest.get_or_insert_default().push_back(item);
        }
    }

    /// Takes the front item.
    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        // Checked first: the driver polls its empty queues several times per message, and
        // `take` on an empty slot still copied the whole item's size (4 % of the server's
        // instructions in a 64-byte echo, callgrind).
        self.head.as_ref()?;
        let next = match &mut self.rest {
            Some(rest) => {
                let next = rest.pop_front();
                if rest.is_empty() {
                    self.rest = None;
                }
                next
            }
            None => None,
        };
        std::mem::replace(&mut self.head, next)
    }

    /// The front item.
    pub fn front(&self) -> Option<&T> {
        self.head.as_ref()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// How many items the queue holds.
    pub fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.as_ref().map_or(0, |rest| rest.len())
    }

    /// Drops every item and any allocation.
    pub fn clear(&mut self) {
        self.head = None;
        self.rest = None;
    }

    /// The items, front to back.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.into_iter()
    }

    /// Takes every item, front to back. Unlike `VecDeque::drain`, items the iterator has
    /// not yielded when it is dropped stay in the queue.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.pop_front())
    }
}

impl<T> Extend<T> for Queue<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push_back(item);
        }
    }
}

impl<T> IntoIterator for Queue<T> {
    type Item = T;
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<T>,
        std::iter::Flatten<std::option::IntoIter<VecDeque<T>>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let rest = self.rest.map(|rest| *rest);
        self.head.into_iter().chain(rest.into_iter().flatten())
    }
}

impl<'a, T> IntoIterator for &'a Queue<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Chain<
        std::option::Iter<'a, T>,
        std::iter::Flatten<std::option::IntoIter<&'a VecDeque<T>>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.head
            .iter()
            .chain(self.rest.as_deref().into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::Queue;

    #[test]
    fn keeps_order_across_the_inline_slot() {
        let mut queue = Queue::new();
        for i in 0..5 {
            queue.push_back(i);
        }
        assert_eq!(queue.pop_front(), Some(0));
        queue.push_back(5);
        assert_eq!(queue.drain().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert!(queue.is_empty());
    }

    #[test]
    fn one_item_allocates_nothing_and_a_drained_burst_is_freed() {
        let mut queue = Queue::new();
        queue.push_back(1);
        assert!(queue.rest.is_none());
        queue.push_back(2);
        queue.push_back(3);
        assert!(queue.rest.is_some());
        assert_eq!(queue.len(), 3);
        queue.pop_front();
        queue.pop_front();
        assert!(
            queue.rest.is_none(),
            "freed as soon as the overflow is empty"
        );
        queue.pop_front();
        assert_eq!(queue.len(), 0);
        assert_eq!(
            std::mem::size_of::<Queue<u64>>(),
            std::mem::size_of::<Option<u64>>() + std::mem::size_of::<usize>()
        );
    }
}
