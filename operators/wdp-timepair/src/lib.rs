//! Pairing of two timestamped streams by capture time (`t_ns`), the one implementation the
//! project uses wherever one message must find its partner in another stream: CSI windows
//! for teacher labels, teacher features for training samples, ground truth for predictions.
//!
//! - [`TimeBuffer`]: the items of one stream, kept sorted by time, bounded in number and age,
//!   answering "which item pairs with time `t`?" under a [`Policy`].
//! - [`Pairer`]: a [`TimeBuffer`] plus the queries of the other stream waiting until their
//!   answer can no longer change.
//!
//! Both streams come through different nodes, so they interleave arbitrarily; each is assumed
//! to arrive (mostly) in its own time order. Everything dropped is counted in [`Stats`] so a
//! caller can say what it lost.
//!
//! ```
//! use wdp_timepair::{Config, Pairer, Policy};
//! let config = Config::new(Policy::NewestAtOrBefore { max_lag_ns: 100_000_000 })
//!     .capacity(1024)
//!     .max_age_ns(Some(10_000_000_000));
//! let mut p: Pairer<&str, &str> = Pairer::new(config, 10_000_000_000);
//! p.push_item(10, "window at 10");
//! p.push_query(20, "frame at 20");
//! assert!(p.pop().is_none(), "a window between 10 and 20 may still come");
//! p.push_item(30, "window at 30");
//! let a = p.pop().expect("decided: a window at or after 20 has come");
//! assert_eq!(a.item.map(|(t, w)| (t, *w)), Some((10, "window at 10")));
//! ```
//!
//! The edge cases are also written as data (`cases.json` next to this crate's manifest), so that
//! an implementation in another language (nodes/teacher-sync, Python) is tested against the
//! same expectations.

#![forbid(unsafe_code)]

use std::collections::VecDeque;

/// Which held item answers a query at time `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The item nearest to `t`, before or after, at most `max_lag_ns` away. Equally far before
    /// and after: the one before (it was there first).
    Nearest {
        /// Largest `|t_item - t|` that still pairs.
        max_lag_ns: i64,
    },
    /// The newest item at or before `t` (what a causal model would have seen at `t`), at most
    /// `max_lag_ns` before it (`i64::MAX`: any age).
    NewestAtOrBefore {
        /// Largest `t - t_item` that still pairs.
        max_lag_ns: i64,
    },
}

/// How a [`TimeBuffer`] pairs and what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Which item pairs with a query.
    pub policy: Policy,
    /// Most items held (at least 1); the oldest go first, counted in [`Stats::evicted`]. Bounds
    /// the memory when the other stream stalls.
    pub capacity: usize,
    /// Items more than this older than the newest are dropped, counted in [`Stats::expired`];
    /// `None` keeps them (up to `capacity`).
    pub max_age_ns: Option<i64>,
    /// How much older than the newest held an arrival may be and still be sorted in (delivery
    /// out of order). An older one means the sender's clock jumped back (it restarted): what is
    /// held belongs to the old clock and is dropped ([`Stats::resets`]). `None`: any order is
    /// sorted in, nothing is ever reset.
    pub reorder_ns: Option<i64>,
}

impl Config {
    /// `policy`, 1024 items, no age limit, and any step back in time taken for a restart.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            capacity: 1024,
            max_age_ns: None,
            reorder_ns: Some(0),
        }
    }

    /// With at most `capacity` items.
    pub fn capacity(self, capacity: usize) -> Self {
        Self { capacity, ..self }
    }

    /// With items older than the newest by more than `max_age_ns` dropped.
    pub fn max_age_ns(self, max_age_ns: Option<i64>) -> Self {
        Self { max_age_ns, ..self }
    }

    /// With arrivals up to `reorder_ns` older than the newest sorted in (`None`: any).
    pub fn reorder_ns(self, reorder_ns: Option<i64>) -> Self {
        Self { reorder_ns, ..self }
    }
}

/// What a [`TimeBuffer`] did with its items and queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Items pushed.
    pub pushed: u64,
    /// Items dropped because the buffer was full.
    pub evicted: u64,
    /// Items dropped for being older than `max_age_ns` behind the newest.
    pub expired: u64,
    /// Clock jumps back: arrivals older than `reorder_ns` allows.
    pub resets: u64,
    /// Items dropped by those resets.
    pub reset_dropped: u64,
    /// Queries ([`TimeBuffer::pair`], [`TimeBuffer::take`]) answered with an item.
    pub paired: u64,
    /// Queries without an item under the policy.
    pub unpaired: u64,
}

/// Items of one stream sorted by time (among equal times, in arrival order), bounded by
/// [`Config::capacity`] and [`Config::max_age_ns`].
#[derive(Debug, Clone)]
pub struct TimeBuffer<T> {
    config: Config,
    items: VecDeque<(i64, T)>,
    forgotten: Option<i64>,
    stats: Stats,
}

impl<T> TimeBuffer<T> {
    /// An empty buffer.
    pub fn new(config: Config) -> Self {
        Self {
            config: Config {
                capacity: config.capacity.max(1),
                ..config
            },
            items: VecDeque::new(),
            forgotten: None,
            stats: Stats::default(),
        }
    }

    /// How it pairs and what it keeps.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What happened so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Time of the newest item held.
    pub fn newest(&self) -> Option<i64> {
        self.items.back().map(|(t, _)| *t)
    }

    /// The `i`-th item held, oldest first.
    pub fn get(&self, i: usize) -> Option<(i64, &T)> {
        self.items.get(i).map(|(t, v)| (*t, v))
    }

    /// The items held, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (i64, &T)> + ExactSizeIterator {
        self.items.iter().map(|(t, v)| (*t, v))
    }

    /// The newest time dropped for capacity or age (since the last reset): a query at or
    /// before it may have lost its partner (too late), rather than never had one.
    pub fn forgotten(&self) -> Option<i64> {
        self.forgotten
    }

    /// Adds an item of time `t_ns`, after any of equal time. One older than the newest by more
    /// than `reorder_ns` first drops everything held (a clock jump back).
    pub fn push(&mut self, t_ns: i64, item: T) {
        self.stats.pushed += 1;
        let jumped = self.newest().is_some_and(|newest| {
            self.config
                .reorder_ns
                .is_some_and(|r| newest.saturating_sub(t_ns) > r)
        });
        if jumped {
            self.stats.resets += 1;
            self.stats.reset_dropped += self.items.len() as u64;
            self.items.clear();
            self.forgotten = None;
        }
        let at = self.items.partition_point(|(t, _)| *t <= t_ns);
        self.items.insert(at, (t_ns, item));
        if let (Some(age), Some(newest)) = (self.config.max_age_ns, self.newest()) {
            let horizon = newest.saturating_sub(age);
            while self.items.front().is_some_and(|(t, _)| *t < horizon) {
                self.forget();
                self.stats.expired += 1;
            }
        }
        while self.items.len() > self.config.capacity {
            self.forget();
            self.stats.evicted += 1;
        }
    }

    fn forget(&mut self) {
        if let Some((t, _)) = self.items.pop_front() {
            self.forgotten = Some(self.forgotten.map_or(t, |f| f.max(t)));
        }
    }

    /// Index of the item that pairs with `t` under the policy, if any. Among items of equal
    /// time the last to arrive wins (a resend replaces).
    pub fn find(&self, t: i64) -> Option<usize> {
        // Items at or before t: 0..after.
        let after = self.items.partition_point(|(ti, _)| *ti <= t);
        let before = after.checked_sub(1);
        match self.config.policy {
            Policy::NewestAtOrBefore { max_lag_ns } => {
                before.filter(|&i| t.saturating_sub(self.items[i].0) <= max_lag_ns)
            }
            Policy::Nearest { max_lag_ns } => {
                let next = self.items.get(after).map(|(tn, _)| {
                    // The last to arrive of the first time after t.
                    self.items.partition_point(|(ti, _)| ti <= tn) - 1
                });
                let lag = |i: usize| t.saturating_sub(self.items[i].0).saturating_abs();
                let best = match (before, next) {
                    (Some(b), Some(n)) => Some(if lag(b) <= lag(n) { b } else { n }),
                    (b, n) => b.or(n),
                };
                best.filter(|&i| lag(i) <= max_lag_ns)
            }
        }
    }

    /// Whether the answer for a query at `t` is final, assuming items come in time order: for
    /// [`Policy::NewestAtOrBefore`] an item at or after `t` is held; for [`Policy::Nearest`]
    /// one later than `t + max_lag_ns` (none nearer can follow).
    pub fn decided(&self, t: i64) -> bool {
        let Some(newest) = self.newest() else {
            return false;
        };
        match self.config.policy {
            Policy::NewestAtOrBefore { .. } => newest >= t,
            Policy::Nearest { max_lag_ns } => newest > t.saturating_add(max_lag_ns),
        }
    }

    /// The item that pairs with `t`, kept for later queries, for queries that come in time
    /// order: first drops what can pair with no query at or after `t` (for
    /// [`Policy::NewestAtOrBefore`] the items before the newest at or before `t`, for
    /// [`Policy::Nearest`] those more than `max_lag_ns` before `t`).
    pub fn pair(&mut self, t: i64) -> Option<(i64, &T)> {
        let stale = match self.config.policy {
            Policy::NewestAtOrBefore { .. } => self
                .items
                .partition_point(|(ti, _)| *ti <= t)
                .saturating_sub(1),
            Policy::Nearest { max_lag_ns } => {
                let horizon = t.saturating_sub(max_lag_ns);
                self.items.partition_point(|(ti, _)| *ti < horizon)
            }
        };
        self.items.drain(..stale);
        let found = self.find(t);
        self.count(found.is_some());
        found.and_then(|i| self.get(i))
    }

    /// The item that pairs with `t`, used once: it and every item at or before its time leave
    /// the buffer (they can pair with no later query). Nothing leaves when nothing pairs.
    pub fn take(&mut self, t: i64) -> Option<(i64, T)> {
        let found = self.find(t);
        self.count(found.is_some());
        self.items.drain(..=found?).next_back()
    }

    fn count(&mut self, paired: bool) {
        if paired {
            self.stats.paired += 1;
        } else {
            self.stats.unpaired += 1;
        }
    }
}

/// A [`TimeBuffer`] of items and the queries waiting for them: each query is answered, in
/// arrival order, once its answer can no longer change ([`TimeBuffer::decided`]), the items
/// have ended, or a query more than `max_wait_ns` newer has arrived (the items stall: better a
/// late "unpaired" than a queue that grows).
#[derive(Debug, Clone)]
pub struct Pairer<Q, T> {
    items: TimeBuffer<T>,
    queries: VecDeque<(i64, Q)>,
    max_wait_ns: i64,
    ended: bool,
}

impl<Q, T> Pairer<Q, T> {
    /// Items under `config`; queries wait for at most `max_wait_ns` of newer queries.
    pub fn new(config: Config, max_wait_ns: i64) -> Self {
        Self {
            items: TimeBuffer::new(config),
            queries: VecDeque::new(),
            max_wait_ns,
            ended: false,
        }
    }

    /// Adds an item ([`TimeBuffer::push`]).
    pub fn push_item(&mut self, t_ns: i64, item: T) {
        self.items.push(t_ns, item);
    }

    /// Adds a query of time `t_ns`.
    pub fn push_query(&mut self, t_ns: i64, query: Q) {
        self.queries.push_back((t_ns, query));
    }

    /// No more items will come: every waiting query is answered with what is held.
    pub fn end_items(&mut self) {
        self.ended = true;
    }

    /// The items and their counts.
    pub fn items(&self) -> &TimeBuffer<T> {
        &self.items
    }

    /// Queries waiting.
    pub fn waiting(&self) -> usize {
        self.queries.len()
    }

    /// The next decided query with its item ([`TimeBuffer::pair`]: an item may pair with
    /// several queries), or `None` while the oldest query must still wait.
    pub fn pop(&mut self) -> Option<Answer<'_, Q, T>> {
        let t = self.queries.front()?.0;
        let newest_query = self.queries.back().map_or(t, |(tq, _)| *tq);
        let decided = self.ended
            || self.items.decided(t)
            || newest_query.saturating_sub(t) > self.max_wait_ns;
        if !decided {
            return None;
        }
        let (t_ns, query) = self.queries.pop_front()?;
        Some(Answer {
            t_ns,
            query,
            item: self.items.pair(t_ns),
        })
    }
}

/// A decided query of a [`Pairer`].
#[derive(Debug)]
pub struct Answer<'a, Q, T> {
    /// The query's time.
    pub t_ns: i64,
    /// The query.
    pub query: Q,
    /// Its item and the item's time; `None`: no item pairs with it under the policy.
    pub item: Option<(i64, &'a T)>,
}

#[cfg(test)]
mod tests;
