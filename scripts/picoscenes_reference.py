#!/usr/bin/env python3
"""Reference values for the PicoScenes captures from other NICs than the Intel 5300.

Reads, with the parsers a user would run,

  csiread/rx_by_usrpN210.csi    PicoScenes RXS frames from a USRP N210 (CSI segment v2)
  CSIKit/intel/ax200_demo.csi   PicoScenes frames from an Intel AX200 (802.11ax NIC, CSI v3)

(relative to the shared captures folder, ../shared/data/captures from the repository root,
or --captures) and writes, per file: the packet count, each packet's shape (tx, rx,
subcarriers), its subcarrier indices, and the CSI of a few packets, to
operators/wdp-csi/tests/fixtures/picoscenes_reference.json (or --out).

The parsers: csiread 1.4.1 (`csiread.Picoscenes`) and CSIKit 2.5 (`PicoScenesBeamformReader`),
from PyPI. Neither is in the project's venv together with the NumPy CSIKit needs (CSIKit 2.5
stores the USRP's subcarrier indices, written as unsigned 16-bit words, into an int16 array,
which NumPy 2 refuses), so the script makes a temporary venv with csiread==1.4.1, CSIKit==2.5
and numpy==1.26.4, runs itself there and removes it. Needs python3 and network to PyPI.

Which parser agreed with which:

- USRP N210: csiread and CSIKit agree on every packet (count, numTones 52 or 56, 1 tx x 1 rx,
  the subcarrier indices the frame carries, the complex doubles of the SignalMatrix to the
  last bit). Both are the reference.
- AX200: both read 885 packets with the same shapes (1 stream x 2 rx; numTones 56 for HT,
  52 for non-HT) and the same raw int16 values per tone. They differ on the pilot tones:
  CSIKit returns every tone of the buffer, the pilots included (their values are not channel
  estimates: magnitudes of about 50-80 among neighbours of 150-190), and no subcarrier
  indices; csiread 1.4.1 drops four tones per packet, but counts its pilot positions over
  the tones it kept instead of the buffer positions, so it drops the tones at -21, -6, 9, 24
  and keeps the pilots at -7, 7, 21 (its indices are shifted the same way), and it does not
  restart its pilot counter for the second rx chain, whose values line up with the tones in
  none of the 885 packets (csiread_second_rx_agrees in the output). PicoScenes'
  own parser (the rxs_parsing_core csiread 1.4.1 was derived from) drops the pilot tones by
  buffer position, i.e. the subcarriers +-7 and +-21 of the 20 MHz plans. We follow
  PicoScenes: the reference is CSIKit's values at the tone plan's data subcarriers
  (-28..-1, 1..28 for HT, -26..-1, 1..26 for non-HT, without +-7 and +-21). The file also
  records csiread's indices so that the difference stays visible.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PINS = ["csiread==1.4.1", "CSIKit==2.5", "numpy==1.26.4"]
USRP = "csiread/rx_by_usrpN210.csi"
AX200 = "CSIKit/intel/ax200_demo.csi"
ROOT = Path(__file__).resolve().parent.parent
# Packets whose CSI is written in full (the first, the second, the middle, the last).
SAMPLE = ("first", "second", "middle", "last")


def have_parsers():
    try:
        import csiread  # noqa: F401
        import CSIKit  # noqa: F401
        import numpy
    except ImportError:
        return False
    from importlib.metadata import version

    return (
        version("csiread") == "1.4.1"
        and version("CSIKit") == "2.5"
        and numpy.__version__.startswith("1.")
    )


def rerun_in_temporary_venv():
    tmp = tempfile.mkdtemp(prefix="picoscenes-reference-")
    try:
        subprocess.run([sys.executable, "-m", "venv", tmp], check=True)
        py = os.path.join(tmp, "bin", "python")
        subprocess.run([py, "-m", "pip", "install", "--quiet", *PINS], check=True)
        return subprocess.run([py, __file__, *sys.argv[1:]]).returncode
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sample_positions(n):
    return dict(zip(SAMPLE, (0, 1, n // 2, n - 1)))


def complex_list(values):
    return [[float(v.real), float(v.imag)] for v in values]


def csiread_frames(path):
    import csiread

    # Buffers large enough for every packet of these files (up to 56 tones, 2 rx, 1 stream).
    d = csiread.Picoscenes(
        path,
        {
            "CSI": [64, 4, 4],
            "PilotCSI": [1, 1, 1],
            "LegacyCSI": [1, 1, 1],
            "BasebandSignals": [1, 1, 1],
            "PreEQSymbols": [1, 1, 1],
            "MPDU": 4096,
        },
        if_report=False,
    )
    d.read()
    csi = d.raw["CSI"]
    frames = []
    for k in range(len(d.raw)):
        info = csi["Info"][k]
        tones, tx, rx = int(info["NumTones"]), int(info["NumTx"]), int(info["NumRx"])
        frames.append(
            {
                "device": int(info["DeviceType"]),
                "format": int(info["PacketFormat"]),
                "tones": tones,
                "tx": tx,
                "rx": rx,
                "indices": [int(i) for i in csi["SubcarrierIndex"][k][:tones]],
                # csiread's CSI is [tone, rx, tx].
                "csi": csi["CSI"][k][:tones, :rx, :tx],
            }
        )
    return frames


def csikit_frames(path):
    from CSIKit.reader.readers.read_pico import PicoScenesBeamformReader

    data = PicoScenesBeamformReader().read_file(path)
    # CSIKit's matrices are [tone, rx, tx].
    return [f.csi_matrix for f in data.frames]


def usrp_reference(path):
    import numpy as np

    ours = csiread_frames(path)
    kit = csikit_frames(path)
    assert len(ours) == len(kit), (len(ours), len(kit))
    for k, (a, b) in enumerate(zip(ours, kit)):
        # CSIKit keeps the SignalMatrix shape [tones, streams, rx] = [tones, 1, 1].
        b = np.asarray(b).reshape(a["tones"], a["rx"], a["tx"])
        assert np.array_equal(a["csi"], b), f"USRP packet {k}: csiread and CSIKit differ"
    index_sets = []
    packets = []
    for f in ours:
        if f["indices"] not in index_sets:
            index_sets.append(f["indices"])
        packets.append(
            [f["tx"], f["rx"], f["tones"], index_sets.index(f["indices"])]
        )
    csi = {}
    for name, k in sample_positions(len(ours)).items():
        f = ours[k]
        # Written [tx][rx][tone].
        csi[name] = {
            "packet": k,
            "values": [
                [complex_list(f["csi"][:, r, t]) for r in range(f["rx"])]
                for t in range(f["tx"])
            ],
        }
    return {
        "file": USRP,
        "agreement": "csiread 1.4.1 and CSIKit 2.5 agree on every packet and value",
        "packets": len(ours),
        "packet_fields": ["tx", "rx", "subcarriers", "index_set"],
        "packet_shapes": packets,
        "index_sets": index_sets,
        "csi": csi,
        "tolerance": "values are float64 in the file; compare within 1e-6 relative",
    }


PILOTS_20MHZ = (-21, -7, 7, 21)


def plan_20mhz(tones):
    edge = {56: 28, 52: 26}[tones]
    return [k for k in range(-edge, edge + 1) if k != 0]


def ax200_reference(path):
    import numpy as np

    ours = csiread_frames(path)
    kit = csikit_frames(path)
    assert len(ours) == len(kit), (len(ours), len(kit))
    index_sets = []
    csiread_sets = []
    packets = []
    data_values = []
    rx1_agrees = []
    for k, (a, b) in enumerate(zip(ours, kit)):
        b = np.asarray(b)
        tones = b.shape[0]
        assert (tones, b.shape[1], b.shape[2]) == (a["tones"], a["rx"], a["tx"]), k
        assert a["format"] in (0, 1) and a["device"] == 0x2000, k
        plan = plan_20mhz(tones)
        keep = [i for i, s in enumerate(plan) if s not in PILOTS_20MHZ]
        indices = [plan[i] for i in keep]
        # Where csiread keeps the right tone of the first rx chain, its value is CSIKit's.
        for j, s in enumerate(a["indices"][: len(keep)]):
            if s in indices:
                pos = plan.index(s)
                assert a["csi"][j, 0, 0] == b[pos, 0, 0], (k, s)
        rx1_agrees.append(
            a["rx"] < 2
            or all(
                a["csi"][j, 1, 0] == b[plan.index(s), 1, 0]
                for j, s in enumerate(a["indices"][: len(keep)])
                if s in indices
            )
        )
        if indices not in index_sets:
            index_sets.append(indices)
        kept_by_csiread = a["indices"][: len(keep)]
        if kept_by_csiread not in csiread_sets:
            csiread_sets.append(kept_by_csiread)
        packets.append(
            [int(b.shape[2]), int(b.shape[1]), len(keep), index_sets.index(indices)]
        )
        data_values.append(b[keep])
    csi = {}
    for name, k in sample_positions(len(kit)).items():
        v = data_values[k]
        csi[name] = {
            "packet": k,
            "values": [
                [complex_list(v[:, r, t]) for r in range(v.shape[1])]
                for t in range(v.shape[2])
            ],
        }
    return {
        "file": AX200,
        "agreement": (
            "csiread 1.4.1 and CSIKit 2.5 agree on the packet count, shapes and raw tone "
            "values; csiread drops the wrong four tones (see csiread_index_sets); the "
            "reference is CSIKit's values at the data subcarriers, pilots (+-7, +-21) "
            "dropped as PicoScenes does"
        ),
        "packets": len(kit),
        "packet_fields": ["tx", "rx", "subcarriers", "index_set"],
        "packet_shapes": packets,
        "index_sets": index_sets,
        "csiread_index_sets": csiread_sets,
        "csiread_second_rx_agrees": sum(rx1_agrees),
        "csi": csi,
        "tolerance": "values are int16 in the file; compare exactly",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--captures", default=str(ROOT.parent / "shared" / "data" / "captures")
    )
    parser.add_argument(
        "--out",
        default=str(ROOT / "operators/wdp-csi/tests/fixtures/picoscenes_reference.json"),
    )
    args = parser.parse_args()
    if not have_parsers():
        sys.exit(rerun_in_temporary_venv())
    captures = Path(args.captures)
    out = {
        "generator": "scripts/picoscenes_reference.py",
        "parsers": PINS,
        "files": [
            usrp_reference(str(captures / USRP)),
            ax200_reference(str(captures / AX200)),
        ],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    for f in out["files"]:
        print(f"{f['file']}: {f['packets']} packets, {len(f['index_sets'])} index sets")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
