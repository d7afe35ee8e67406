"""docs/benchmarks.md holds one section per benchmark script, each between
two markers: a script rewrites its own section and leaves the others'."""

import os


def write_section(path, name, text):
    begin, end = "<!-- %s: begin -->\n" % name, "<!-- %s: end -->\n" % name
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    block = begin + text.rstrip("\n") + "\n" + end
    if begin in old and end in old[old.index(begin):]:
        start = old.index(begin)
        stop = old.index(end, start) + len(end)
        new = old[:start] + block + old[stop:]
    else:
        new = old + ("\n" if old else "") + block
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.replace(path + ".tmp", path)
