"""The real dataflows of dataflows/, loaded for a benchmark to adjust and run from elsewhere:
node paths and `../` values in `env:` made absolute (they are relative to the dataflow's
folder)."""

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(flow: str) -> dict:
    """dataflows/`flow` as a dict, its relative paths made absolute."""
    src = os.path.join(ROOT, "dataflows", flow)
    with open(src) as f:
        doc = yaml.safe_load(f)
    return absolute(doc, os.path.dirname(src))


def absolute(doc: dict, base: str) -> dict:
    """`doc` with its node paths and `../` values in `env:` taken from `base` (the folder the
    dataflow's relative paths mean)."""
    for node in doc["nodes"]:
        if str(node.get("path", "")).startswith("."):
            node["path"] = os.path.normpath(os.path.join(base, node["path"]))
        env = node.setdefault("env", {})
        for k, v in list(env.items()):
            if isinstance(v, str) and v.startswith("../"):
                env[k] = os.path.normpath(os.path.join(base, v))
    return doc
