"""Pairing by capture time, the Python twin of operators/wdp-timepair (same rules, same edge
cases: operators/wdp-timepair/cases.json, run by test_timepair.py).

A TimeBuffer holds the items of one stream sorted by time (equal times in arrival order),
bounded by a capacity and an age, and says which item pairs with a query time:

  NEAREST              the item nearest to t, before or after, at most max_lag_ns away; equally
                       far before and after: the one before
  NEWEST_AT_OR_BEFORE  the newest item at or before t (what existed at t), at most max_lag_ns
                       before it

max_lag_ns None: any lag. Among items of equal time the last to arrive wins. An arrival older
than the newest by more than reorder_ns is a clock jump back (its sender restarted): everything
held is dropped (None: any order is sorted in). Every drop is counted in `stats`.
"""
import bisect

NEAREST = "nearest"
NEWEST_AT_OR_BEFORE = "newest_at_or_before"


class TimeBuffer:
    def __init__(self, policy, max_lag_ns=None, capacity=None, max_age_ns=None, reorder_ns=0):
        if policy not in (NEAREST, NEWEST_AT_OR_BEFORE):
            raise ValueError(f"policy {policy!r}: expected {NEAREST} or {NEWEST_AT_OR_BEFORE}")
        self.policy = policy
        self.max_lag_ns = max_lag_ns
        self.capacity = None if capacity is None else max(1, int(capacity))
        self.max_age_ns = max_age_ns
        self.reorder_ns = reorder_ns
        self.times = []
        self.items = []
        # Newest time dropped for capacity or age since the last reset: a query at or before
        # it may have lost its partner (late) rather than never had one.
        self.forgotten = None
        self.stats = dict(pushed=0, evicted=0, expired=0, resets=0, reset_dropped=0, paired=0,
                          unpaired=0)

    def __len__(self):
        return len(self.times)

    def newest(self):
        return self.times[-1] if self.times else None

    def push(self, t, item):
        self.stats["pushed"] += 1
        if self.times and self.reorder_ns is not None and self.times[-1] - t > self.reorder_ns:
            self.stats["resets"] += 1
            self.stats["reset_dropped"] += len(self.times)
            self.times.clear()
            self.items.clear()
            self.forgotten = None
        i = bisect.bisect_right(self.times, t)
        self.times.insert(i, t)
        self.items.insert(i, item)
        if self.max_age_ns is not None:
            cut = bisect.bisect_left(self.times, self.times[-1] - self.max_age_ns)
            self._forget(cut, "expired")
        if self.capacity is not None and len(self.times) > self.capacity:
            self._forget(len(self.times) - self.capacity, "evicted")

    def _forget(self, n, counter):
        if n <= 0:
            return
        last = self.times[n - 1]
        self.forgotten = last if self.forgotten is None else max(self.forgotten, last)
        del self.times[:n], self.items[:n]
        self.stats[counter] += n

    def _within(self, i, t):
        return self.max_lag_ns is None or abs(t - self.times[i]) <= self.max_lag_ns

    def find(self, t):
        """Index of the item that pairs with t, or None."""
        after = bisect.bisect_right(self.times, t)
        before = after - 1 if after > 0 else None
        if self.policy == NEWEST_AT_OR_BEFORE:
            best = before
        else:
            nxt = None
            if after < len(self.times):
                nxt = bisect.bisect_right(self.times, self.times[after]) - 1
            if before is None or nxt is None:
                best = nxt if before is None else before
            else:
                best = before if t - self.times[before] <= self.times[nxt] - t else nxt
        return best if best is not None and self._within(best, t) else None

    def decided(self, t):
        """Whether the answer for a query at t is final, items coming in time order."""
        if not self.times:
            return False
        if self.policy == NEWEST_AT_OR_BEFORE:
            return self.times[-1] >= t
        if self.max_lag_ns is None:
            return False  # a nearer item may always follow
        return self.times[-1] > t + self.max_lag_ns

    def _count(self, found):
        self.stats["paired" if found is not None else "unpaired"] += 1

    def pair(self, t):
        """(time, item) pairing with t, kept for later queries; first drops what can pair with
        no query at or after t (queries come in time order)."""
        if self.policy == NEWEST_AT_OR_BEFORE:
            stale = max(bisect.bisect_right(self.times, t) - 1, 0)
        elif self.max_lag_ns is None:
            stale = 0
        else:
            stale = bisect.bisect_left(self.times, t - self.max_lag_ns)
        del self.times[:stale], self.items[:stale]
        i = self.find(t)
        self._count(i)
        return None if i is None else (self.times[i], self.items[i])

    def take(self, t):
        """(time, item) pairing with t, used once: it and every item at or before its time
        leave. Nothing leaves when nothing pairs."""
        i = self.find(t)
        self._count(i)
        if i is None:
            return None
        found = (self.times[i], self.items[i])
        del self.times[:i + 1], self.items[:i + 1]
        return found
