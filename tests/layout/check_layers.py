#!/usr/bin/env python3
"""The include boundary between the processes and the layers under them.

    check_layers.py SOURCE_ROOT      check the tree; exit 1 listing every breach
    check_layers.py --self-test      check that breaches are found (a made-up tree)

Processes (frontend/, router/, classifier/, supervisor/) include their own
headers and the layers', never another process's. The supervisor starts the
processes, so it may include each one's entry header (ENTRY) and nothing
else of theirs. Layers include only the layers below them:

    proto/  -> shm/, common/     (what both sides of the rings share)
    http/   -> common/           (HTTP parser, client, listener, URL decoding)
    shm/    -> common/
    common/ -> nothing

An include is a quoted #include naming FOLDER/... (the tree's include root)
or a path relative to the including file (resolved, so "../x/y.h" counts
as x/y.h). System headers (<...>) are not looked at.
"""
import os
import re
import sys
import tempfile

LAYERS = {
    "common": set(),
    "shm": {"common"},
    "http": {"common"},
    "proto": {"shm", "common"},
}
PROCESSES = ("frontend", "router", "classifier", "supervisor")
ENTRY = {"frontend/frontend.h", "router/router.h", "classifier/daemon.h"}
SOURCES = (".c", ".h", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def allowed(folder, target):
    """May a file in folder include target (a path from the root)?"""
    top = target.split("/", 1)[0]
    if top == folder:
        return True
    if folder in LAYERS:
        return top in LAYERS[folder] or top not in LAYERS and top not in PROCESSES
    if top in LAYERS:
        return True
    if top in PROCESSES:
        return folder == "supervisor" and target in ENTRY
    return True  # not a folder of the tree (a generated header, a third-party one)


def resolve(root, path, name):
    """The include's path from the root: relative to the file when it is
    there, else from the root."""
    rel = os.path.normpath(os.path.join(os.path.dirname(path), name))
    if os.path.exists(os.path.join(root, rel)) and not rel.startswith(".."):
        return rel
    return os.path.normpath(name)


def breaches(root):
    out = []
    for folder in list(LAYERS) + list(PROCESSES):
        for d, _, files in os.walk(os.path.join(root, folder)):
            for f in sorted(files):
                if not f.endswith(SOURCES):
                    continue
                path = os.path.relpath(os.path.join(d, f), root)
                with open(os.path.join(root, path), encoding="utf-8", errors="replace") as fh:
                    for no, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = resolve(root, path, m.group(1))
                        if not allowed(folder, target):
                            kind = "layer" if folder in LAYERS else "process"
                            out.append("%s:%d: %s %s/ includes %s" % (path, no, kind, folder, target))
    return out


def self_test():
    tree = {
        "common/log.h": "",
        "common/runtime.h": '#include "shm/segment.h"\n',        # breach: common above shm
        "shm/segment.h": '#include "common/log.h"\n',
        "http/http_parse.c": '#include "http/http_parse.h"\n#include "common/log.h"\n',
        "http/http_parse.h": "",
        "proto/msg.h": '#include "router/picker.h"\n',           # breach: layer includes a process
        "proto/snapshot.c": '#include "shm/segment.h"\n#include "http/http_parse.h"\n',  # breach
        "frontend/frontend.h": "",
        "frontend/stage.c": '#include "frontend/frontend.h"\n#include "proto/msg.h"\n'
                            '#include "router/prefix_index.h"\n',  # breach
        "frontend/local.c": '#include "local.h"\n#include "../router/router.h"\n',  # breach
        "frontend/local.h": "",
        "router/router.h": "",
        "router/picker.h": "",
        "router/prefix_index.h": '#include <stdint.h>\n#include "http/http_parse.h"\n',
        "classifier/daemon.h": "",
        "classifier/cuda/k.cu": '#include "classifier/daemon.h"\n#include "frontend/frontend.h"\n',  # breach
        "supervisor/main.c": '#include "frontend/frontend.h"\n#include "router/router.h"\n'
                             '#include "classifier/daemon.h"\n',
        "supervisor/other.c": '#include "router/picker.h"\n',     # breach: not an entry header
    }
    want = {
        "common/runtime.h:1", "proto/msg.h:1", "proto/snapshot.c:2", "frontend/stage.c:3",
        "frontend/local.c:2", "classifier/cuda/k.cu:2", "supervisor/other.c:1",
    }
    with tempfile.TemporaryDirectory() as root:
        for p, text in tree.items():
            os.makedirs(os.path.join(root, os.path.dirname(p)), exist_ok=True)
            with open(os.path.join(root, p), "w") as fh:
                fh.write(text)
        got = {b.split(": ", 1)[0] for b in breaches(root)}
    if got != want:
        print("self-test: found %s, expected %s" % (sorted(got), sorted(want)))
        return 1
    print("layers self-test: %d breaches found, none else" % len(want))
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0])
        print("usage: check_layers.py SOURCE_ROOT | --self-test")
        return 2
    found = breaches(argv[1])
    for b in found:
        print(b)
    if found:
        print("layers: %d include(s) cross the boundary (see tests/layout/check_layers.py)" % len(found))
        return 1
    print("layers: every process includes only itself and the layers; every layer only those below it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
