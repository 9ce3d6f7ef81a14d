//! [`ReplayBuffer`]: a fixed number of items, the newest replacing the oldest, and random
//! minibatches from it.

use crate::run::XorShift;

/// A fixed number of items; once full, each new one replaces the oldest.
#[derive(Debug, Clone)]
pub struct ReplayBuffer<T> {
    items: Vec<T>,
    capacity: usize,
    next: usize,
    replaced: u64,
}

impl<T> ReplayBuffer<T> {
    /// An empty buffer of `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            items: Vec::new(),
            capacity: capacity.max(1),
            next: 0,
            replaced: 0,
        }
    }

    /// Adds an item; true when it replaced the oldest.
    pub fn push(&mut self, item: T) -> bool {
        if self.items.len() < self.capacity {
            self.items.push(item);
            return false;
        }
        self.items[self.next] = item;
        self.next = (self.next + 1) % self.capacity;
        self.replaced += 1;
        true
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Most items held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items replaced so far.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// `n` items drawn at random: distinct while the buffer holds `n` or more, with repeats
    /// otherwise; none from an empty buffer.
    pub fn pick(&self, n: usize, rng: &mut XorShift) -> Vec<&T> {
        let len = self.items.len();
        if len == 0 {
            return Vec::new();
        }
        if len < n {
            return (0..n).map(|_| &self.items[rng.below(len)]).collect();
        }
        // The first n steps of a Fisher-Yates shuffle.
        let mut idx: Vec<usize> = (0..len).collect();
        for i in 0..n {
            let j = i + rng.below(len - i);
            idx.swap(i, j);
        }
        idx[..n].iter().map(|&i| &self.items[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_buffer_replaces_the_oldest_and_picks_distinct_items() {
        let mut b = ReplayBuffer::new(4);
        for i in 0..4 {
            assert!(!b.push(i));
        }
        assert!(b.push(4));
        assert!(b.push(5));
        assert_eq!((b.len(), b.replaced(), b.capacity()), (4, 2, 4));
        let mut held: Vec<i32> = b
            .pick(4, &mut XorShift::new(1))
            .into_iter()
            .copied()
            .collect();
        held.sort_unstable();
        assert_eq!(held, [2, 3, 4, 5], "the two oldest were replaced");
        let mut rng = XorShift::new(9);
        for _ in 0..50 {
            let mut two: Vec<i32> = b.pick(2, &mut rng).into_iter().copied().collect();
            two.dedup();
            assert_eq!(two.len(), 2, "distinct while the buffer holds enough");
        }
        assert_eq!(b.pick(6, &mut rng).len(), 6, "with repeats beyond its size");
        assert!(ReplayBuffer::<u8>::new(3).pick(2, &mut rng).is_empty());
    }
}
