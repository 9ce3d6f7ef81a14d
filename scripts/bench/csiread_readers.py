#!/usr/bin/env python3
"""Times csiread (the reference Python parser) on the shared capture files.

Prints one JSON object: {file: {"packets": n, "seconds_per_read": s, "packets_per_s": r}}.
Used by operators/wdp-csi/benches/readers.rs, which times our readers on the same files in the
same run. Usage: csiread_readers.py CAPTURES_DIR [--min-time SECONDS]
"""
import json
import os
import shutil
import sys
import tempfile
import time

import csiread

PICOSCENES_PL = {
    "CSI": [2048, 4, 4],
    "PilotCSI": [64, 4, 4],
    "LegacyCSI": [64, 4, 4],
    "BasebandSignals": [8192, 1, 1],
    "PreEQSymbols": [64, 96, 1],
    "MPDU": 4000,
}


def esp32_without_header(path):
    """csiread's ESP32 reader cannot skip a CSV header line; give it a copy without one."""
    with open(path) as f:
        lines = [line for line in f if line.startswith("CSI_DATA")]
    tmp = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    tmp.writelines(lines)
    tmp.close()
    return tmp.name


def reader_for(rel, path):
    if rel.endswith(".pcap"):
        chip = "43455c0" if "43455c0" in rel else "4358"
        cls = csiread.NexmonPull46 if chip == "43455c0" else csiread.Nexmon
        return lambda: cls(path, chip, 80, if_report=False)
    if rel.endswith(".csv"):
        clean = esp32_without_header(path)
        return lambda: csiread.ESP32(clean, if_report=False)
    if rel.endswith(".csi"):
        return lambda: csiread.Picoscenes(path, PICOSCENES_PL, if_report=False)
    if "ath" in rel:
        return lambda: csiread.Atheros(path, nrxnum=3, ntxnum=3, tones=56, if_report=False)
    return lambda: csiread.Intel(path, nrxnum=3, ntxnum=3, if_report=False)


def main():
    captures = sys.argv[1]
    min_time = float(sys.argv[sys.argv.index("--min-time") + 1]) if "--min-time" in sys.argv else 1.0
    files = [
        "dhalperi/log.all_csi.6.7.6",
        "CSIKit/intel/example.dat",
        "csiread/sample_0x1_ap.dat",
        "csiread/ath_csi_1.dat",
        "nexmon_csi/example.pcap",
        "CSIKit/nexmon/example_43455c0.pcap",
        "ESP32-CSI-Tool/example_csi.csv",
        "CSIKit/esp32/example_data.csv",
        "csiread/rx_by_iwl5300.csi",
    ]
    out = {}
    for rel in files:
        path = os.path.join(captures, rel)
        make = reader_for(rel, path)
        kwargs = {"endian": "little"} if "ath" in rel else {}
        runs, start, packets = 0, time.perf_counter(), 0
        while True:
            r = make()
            r.read(**kwargs)
            packets = int(r.count)
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time and runs >= 3:
                break
        out[rel] = {
            "packets": packets,
            "seconds_per_read": elapsed / runs,
            "packets_per_s": packets * runs / elapsed,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
