"""Unit tests of the clock alignment on simulated clocks whose truth is known:
python -m unittest discover -s nodes/teacher-sync  (tests/teacher_capture.rs runs them too).

A radio and a camera stamp their data with clocks that have their own offset and drift against
the sync node's clock; messages reach the node after random latencies (exponential, with
occasional long stalls). The estimated radio -> camera map must match the true one.
"""
import random
import unittest

from clocksync import NS, ClockMap, StreamClock


def simulate(seed, radio_hz=100.0, fps=30.0, seconds=60.0, radio_ppm=40.0, camera_ppm=-25.0,
             radio_offset_s=1234.5, camera_offset_s=-77.25, latency_ms=3.0, stall_every_s=5.0,
             glitch=False):
    """(stream, capture_ns, arrival_ns) in arrival order, and the true map. Each stream is a
    FIFO (as a dora input is): a stall delays the messages behind it too."""
    rng = random.Random(seed)
    events = []

    def stream(name, rate, ppm, offset_s):
        t = 0.0
        last = 0.0
        while t < seconds:
            host = 10.0 + t
            capture = (host * (1 + ppm * 1e-6) + offset_s) * NS
            delay = rng.expovariate(1 / (latency_ms * 1e-3))
            if rng.random() < 1 / (stall_every_s * rate):
                delay += rng.uniform(0.1, 0.8)
            last = max(last, host + 0.0005 + delay)
            events.append((last, name, int(capture)))
            t += 1 / rate

    stream("radio", radio_hz, radio_ppm, radio_offset_s)
    stream("camera", fps, camera_ppm, camera_offset_s)
    if glitch:
        # One radio timestamp 200 ms late: it would arrive "200 ms before it was captured".
        events.append((10.0 + seconds / 2, "radio",
                       int(((10.0 + seconds / 2 + 0.2) * (1 + radio_ppm * 1e-6) + radio_offset_s)
                           * NS)))
    events.sort()

    def truth(radio_ns):
        host = (radio_ns / NS - radio_offset_s) / (1 + radio_ppm * 1e-6)
        return (host * (1 + camera_ppm * 1e-6) + camera_offset_s) * NS

    return [(name, c, int(a * NS)) for a, name, c in events], truth


class ClockMapTest(unittest.TestCase):
    def fitted(self, events, **kw):
        m = ClockMap("estimate", **kw)
        for name, c, a in events:
            (m.observe_radio if name == "radio" else m.observe_camera)(c, a)
        m.refresh()
        return m

    def worst_error_ms(self, m, events, truth):
        radio = [c for name, c, _ in events if name == "radio"]
        return max(abs(m.to_camera(r) - truth(r)) for r in radio[::50]) / 1e6

    def test_offset_and_drift_recovered_within_the_latency_floor(self):
        for seed in range(5):
            events, truth = simulate(seed)
            m = self.fitted(events)
            self.assertTrue(m.ready())
            # Both streams' minimum latency is 0.5 ms: what remains is the envelope's noise.
            self.assertLess(self.worst_error_ms(m, events, truth), 1.0, f"seed {seed}")
            d = m.describe()
            self.assertAlmostEqual(d["drift_ppm"], -25.0 - 40.0, delta=10.0)

    def test_inverse_maps_back(self):
        events, truth = simulate(1)
        m = self.fitted(events)
        for name, c, _ in events[::97]:
            if name == "radio":
                self.assertLess(abs(m.to_radio(m.to_camera(c)) - c), 2)

    def test_replay_faster_than_real_time(self):
        # A capture replayed at 5x: its clock runs 5 times faster than the host's.
        events, truth = simulate(2, radio_ppm=4e6, seconds=20.0)
        m = self.fitted(events)
        self.assertLess(self.worst_error_ms(m, events, truth), 1.0)
        self.assertAlmostEqual(m.describe()["rate"], 1 / 5, delta=1e-4)

    def test_a_timestamp_glitch_does_not_pull_the_envelope(self):
        events, truth = simulate(3, glitch=True)
        self.assertLess(self.worst_error_ms(self.fitted(events), events, truth), 1.0)
        without = self.fitted(events, outlier_s=0.0)
        self.assertGreater(self.worst_error_ms(without, events, truth), 5.0,
                           "the glitch matters when outliers are kept")

    def test_not_ready_before_min_span(self):
        events, _ = simulate(4, seconds=2.0)
        m = self.fitted(events, min_span_s=3.0)
        self.assertFalse(m.ready())
        self.assertTrue(m.ready(final=True))

    def test_same_and_fixed(self):
        same = ClockMap("same")
        self.assertEqual(same.to_camera(123), 123)
        fixed = ClockMap("fixed", offset_ns=1000, drift_ppm=100.0)
        fixed.observe_radio(5 * NS, 0)
        self.assertEqual(fixed.to_camera(5 * NS), 5 * NS + 1000)
        self.assertEqual(fixed.to_camera(15 * NS), 15 * NS + 1000 + 1_000_000)
        self.assertLess(abs(fixed.to_radio(fixed.to_camera(15 * NS)) - 15 * NS), 2)
        with self.assertRaises(ValueError):
            ClockMap("guess")

    def test_clock_step_back_restarts_the_fit(self):
        s = StreamClock()
        for i in range(50):
            s.add(100 * NS + i * NS // 10, 7 * NS + i * NS // 10)
        s.add(NS, 13 * NS)
        self.assertEqual(s.resets, 1)
        self.assertEqual(s.count, 1)


if __name__ == "__main__":
    unittest.main()
