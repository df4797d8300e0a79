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

//!
//! A burst's first few items share one allocation with the overflow's bookkeeping: a
//! `Box<VecDeque>` took two (the box and the deque's buffer) for the packet and attachment
//! of every binary message, in each of the four queues a message passes through (8 of
//! the 20 allocations of a 4 KiB binary echo, valgrind's dhat).

use std::collections::VecDeque;

/// Items a burst holds in its first allocation, after the inline one.
const NEAR: usize = 3;

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
    rest: Option<Box<Rest<T>>>,
}

/// A queue's items after the front one: the first few in a small ring, then the others.
#[derive(Debug, Clone)]
struct Rest<T> {
    near: [Option<T>; NEAR],
    /// Where the ring's first item is, and how many it holds.
    start: u8,
    len: u8,
    /// Items after the ring's; only used once the ring is full, so they all come after it.
    far: VecDeque<T>,
}

impl<T> Rest<T> {
    fn new(item: T) -> Self {
        Rest {
            near: [Some(item), None, None],
            start: 0,
            len: 1,
            far: VecDeque::new(),
        }
    }

    fn push_back(&mut self, item: T) {
        if self.far.is_empty() && usize::from(self.len) < NEAR {
            self.near[(usize::from(self.start) + usize::from(self.len)) % NEAR] = Some(item);
            self.len += 1;
        } else {
            self.far.push_back(item);
        }
    }

    fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return self.far.pop_front();
        }
        let item = self.near[usize::from(self.start)].take();
        self.start = ((usize::from(self.start) + 1) % NEAR) as u8;
        self.len -= 1;
        item
    }

    fn len(&self) -> usize {
        usize::from(self.len) + self.far.len()
    }

    fn get(&self, index: usize) -> Option<&T> {
        if index < usize::from(self.len) {
            self.near[(usize::from(self.start) + index) % NEAR].as_ref()
        } else {
            self.far.get(index - usize::from(self.len))
        }
    }
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
            match &mut self.rest {
                Some(rest) => rest.push_back(item),
                None => self.rest = Some(Box::new(Rest::new(item))),
            }
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
                if rest.len() == 0 {
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
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            queue: self,
            index: 0,
        }
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

/// The items of a [`Queue`], front to back, taken.
#[derive(Debug)]
pub struct IntoIter<T>(Queue<T>);

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.0.pop_front()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.0.len();
        (len, Some(len))
    }
}

impl<T> ExactSizeIterator for IntoIter<T> {}

impl<T> IntoIterator for Queue<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter(self)
    }
}

/// The items of a [`Queue`], front to back, borrowed.
#[derive(Debug)]
pub struct Iter<'a, T> {
    queue: &'a Queue<T>,
    index: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        let item = match self.index {
            0 => self.queue.head.as_ref(),
            index => self.queue.rest.as_ref()?.get(index - 1),
        }?;
        self.index += 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.queue.len() - self.index.min(self.queue.len());
        (left, Some(left))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<'a, T> IntoIterator for &'a Queue<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
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

    /// Against a `VecDeque`, every interleaving of pushes and pops of up to 12 items:
    /// the ring, its wrap-around, the overflow beyond it and the freeing once drained.
    #[test]
    fn behaves_as_a_vec_deque() {
        use std::collections::VecDeque;
        // Each bit of `ops` is a push (1) or a pop (0).
        for ops in 0u32..(1 << 12) {
            for len in [6, 9, 12] {
                let (mut queue, mut model, mut next) = (Queue::new(), VecDeque::new(), 0);
                for step in 0..len {
                    if ops & (1 << step) != 0 {
                        queue.push_back(next);
                        model.push_back(next);
                        next += 1;
                    } else {
                        assert_eq!(queue.pop_front(), model.pop_front());
                    }
                    assert_eq!(queue.len(), model.len());
                    assert_eq!(queue.front(), model.front());
                    assert!(queue.iter().eq(model.iter()), "ops {ops:b}, step {step}");
                    assert_eq!(queue.iter().len(), model.len());
                    assert_eq!(queue.rest.is_some(), model.len() > 1);
                }
                assert!(queue.clone().into_iter().eq(model.iter().copied()));
                assert!(queue.drain().eq(model.drain(..)));
            }
        }
    }
}
