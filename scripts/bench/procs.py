"""What the processes of a running dataflow use, from /proc (Linux): CPU seconds and resident
memory of every descendant of some root processes, by command name."""

import os

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def processes() -> dict:
    """pid -> (parent pid, command name, CPU seconds, resident MB) of every process now."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICKS
        rss_mb = int(fields[21]) * PAGE / 1e6
        out[int(d)] = (int(fields[1]), name, cpu, rss_mb)
    return out


def descendants(roots: list) -> dict:
    """pid -> (command name, CPU seconds, resident MB) of `roots` and all their descendants."""
    procs = processes()
    children = {}
    for pid, (ppid, *_rest) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    todo = [r for r in roots if r in procs]
    while todo:
        pid = todo.pop()
        _, name, cpu, rss = procs[pid]
        out[pid] = (name, cpu, rss)
        todo.extend(children.get(pid, []))
    return out
