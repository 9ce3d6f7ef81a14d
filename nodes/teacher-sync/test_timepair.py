"""The edge cases of pairing by capture time shared with the Rust operator
(operators/wdp-timepair/cases.json) against timepair.py:
python -m unittest discover -s nodes/teacher-sync  (tests/teacher_capture.rs runs them too).
"""
import json
import os
import unittest

from timepair import TimeBuffer

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "operators",
                     "wdp-timepair", "cases.json")


def buffer(config):
    return TimeBuffer(config["policy"], max_lag_ns=config["max_lag_ns"],
                      capacity=config["capacity"], max_age_ns=config["max_age_ns"],
                      reorder_ns=config["reorder_ns"])


class SharedCases(unittest.TestCase):
    def test_the_shared_cases_hold(self):
        with open(CASES) as f:
            cases = json.load(f)["cases"]
        self.assertGreaterEqual(len(cases), 10)
        for case in cases:
            buf = buffer(case["config"])
            for n, step in enumerate(case["steps"]):
                at = f"{case['name']}, step {n}: {step}"
                with self.subTest(at):
                    if "push" in step:
                        buf.push(step["push"], step["id"])
                    elif "find" in step:
                        i = buf.find(step["find"])
                        self.assertEqual(None if i is None else buf.items[i], step["expect"])
                    elif "pair" in step or "take" in step:
                        op = "pair" if "pair" in step else "take"
                        got = getattr(buf, op)(step[op])
                        self.assertEqual(None if got is None else got[1], step["expect"])
                    elif "decided" in step:
                        self.assertIs(buf.decided(step["decided"]), step["expect"])
                    elif "held" in step:
                        self.assertEqual(buf.items, step["held"])
                    elif "stats" in step:
                        for k, v in step["stats"].items():
                            self.assertEqual(buf.stats[k], v, k)
                    elif "forgotten" in step:
                        self.assertEqual(buf.forgotten, step["forgotten"])
                    else:
                        self.fail("unknown step")

    def test_an_unknown_policy_is_refused(self):
        with self.assertRaises(ValueError):
            TimeBuffer("closest")


if __name__ == "__main__":
    unittest.main()
