"""Unit tests of the frame <-> radio pairing (pairing.py) on one clock (SYNC_CLOCK same):
python -m unittest discover -s nodes/teacher-sync  (tests/teacher_capture.rs runs them too).
"""
import unittest

from clocksync import ClockMap
from pairing import Pairing

MS = 1_000_000


def pairing(window=3, tolerance_ms=15, max_span_ms=100, max_wait_ms=2000, history_ms=30_000,
            frames_wired=False):
    return Pairing(ClockMap("same"), window, tolerance_ms * MS, max_span_ms * MS,
                   max_wait_ms * MS, history_ms * MS, frames_wired, refresh_ns=500 * MS)


def packets(p, *times_ms):
    for t in times_ms:
        p.clock.observe_radio(t * MS, t * MS)
        p.push_packet(t * MS, f"packet {t}", t * MS)


def labelled(p, seq, t_ms, now_ms=None):
    e = p.entry(seq, t_ms * MS, (t_ms if now_ms is None else now_ms) * MS)
    e.labels = ("keypoints", "boxes", "masks")
    e.labels_arrival_ns = e.arrival_ns
    return e


def statuses(p):
    return [(r["seq"], r["status"]) for r in p.log_rows]


class PairingTest(unittest.TestCase):
    def test_a_frame_pairs_with_the_packets_at_or_before_it(self):
        p = pairing()
        packets(p, 0, 10, 20, 30, 40, 50, 60)
        labelled(p, 7, 45)
        [m] = p.step(60 * MS)
        self.assertEqual(m.frame.seq, 7)
        self.assertEqual(m.t_ns, 45 * MS)
        self.assertEqual(m.packets, ["packet 20", "packet 30", "packet 40"])
        self.assertEqual(m.packet_t_ns, [20 * MS, 30 * MS, 40 * MS])
        self.assertEqual((m.newest_ns, m.mapped_ns, m.error_ns), (40 * MS, 40 * MS, 5 * MS))
        self.assertEqual((p.matched, p.errors_ns, p.pending), (1, [5 * MS], {}))
        row = p.log_rows[0]
        self.assertEqual((row["status"], row["csi_newest_arrival_ns"], row["error_ns"]),
                         ("matched", 40 * MS, 5 * MS))

    def test_a_frame_waits_until_the_radio_passes_it_or_the_wait_ends(self):
        p = pairing(max_wait_ms=500)
        packets(p, 0, 10, 20)
        labelled(p, 1, 25, now_ms=30)
        self.assertEqual(p.step(30 * MS), [], "a packet at 21-25 ms may still come")
        self.assertIn(1, p.pending)
        packets(p, 25)
        [m] = p.step(31 * MS)
        self.assertEqual(m.packet_t_ns[-1], 25 * MS, "exactly at the frame's time counts")
        labelled(p, 2, 100, now_ms=100)
        self.assertEqual(p.step(599 * MS), [])
        self.assertEqual(p.step(601 * MS), [], "waited: decided, but the radio went silent")
        self.assertEqual(statuses(p), [(1, "matched"), (2, "radio_silent")])

    def test_every_frame_is_counted_once_with_its_reason(self):
        p = pairing(window=2, tolerance_ms=15, max_span_ms=50)
        packets(p, 100, 110, 200, 300, 400)
        labelled(p, 1, 105)  # one packet before it
        labelled(p, 2, 150)  # the newest before it 40 ms old, a later one exists
        labelled(p, 3, 205)  # 200 and 110: 90 ms apart
        p.entry(4, 250 * MS, 250 * MS)  # never labelled: frame 5's labels came
        labelled(p, 5, 405)
        self.assertEqual(p.step(405 * MS), [])
        self.assertEqual(statuses(p), [(1, "before_radio"), (2, "gap"), (3, "span"),
                                       (4, "unlabelled")])
        self.assertIn(5, p.pending, "400 and 300: 100 ms apart, but the radio has not passed")
        labelled(p, 6, 500)
        p.radio_closed = True
        self.assertEqual(p.step(406 * MS), [])
        self.assertEqual(statuses(p)[4:], [(5, "span"), (6, "after_radio_end")])
        self.assertEqual(p.dropped, {"before_radio": 1, "gap": 1, "span": 2, "unlabelled": 1,
                                     "after_radio_end": 1})
        self.assertEqual((p.matched, p.late_frames, p.late_packets), (0, 0, 0))

    def test_packets_before_a_decided_frame_are_late(self):
        p = pairing(window=1)
        packets(p, 10, 30)
        labelled(p, 1, 20)
        self.assertEqual(len(p.step(30 * MS)), 1)
        packets(p, 15, 20, 25)
        self.assertEqual(p.late_packets, 2, "15 and 20 ms came after 20 ms was decided")

    def test_labels_that_left_the_history_are_late(self):
        p = pairing(window=2, history_ms=100)
        packets(p, 0, 10, 20, 200, 210)
        labelled(p, 1, 25)  # needs 10 and 20, dropped when 200 came
        self.assertEqual(p.step(300 * MS), [])
        self.assertEqual((statuses(p), p.late_frames, p.dropped), ([(1, "late")], 1, {}))

    def test_without_any_packet_frames_are_decided_at_the_end(self):
        p = pairing()
        labelled(p, 1, 10)
        self.assertEqual(p.step(10 * MS), [], "the clock is not ready before a packet")
        self.assertEqual(p.step(10 * MS, final=True), [])
        self.assertEqual((statuses(p), p.dropped), ([(1, "no_radio")], {"no_radio": 1}))

    def test_with_frames_wired_a_labelled_frame_waits_for_its_frame(self):
        p = pairing(window=1, frames_wired=True)
        packets(p, 0, 10, 20)
        labelled(p, 1, 5)
        self.assertEqual(p.step(20 * MS), [], "its frame (pixels, arrival) may still come")
        p.entry(1, 5 * MS, 21 * MS).has_frame = True
        self.assertEqual([m.frame.seq for m in p.step(21 * MS)], [1])
        labelled(p, 2, 15)
        p.frames_closed = True
        self.assertEqual([m.frame.seq for m in p.step(22 * MS)], [2], "the camera ended")


if __name__ == "__main__":
    unittest.main()
