#!/usr/bin/env python3
"""Nothing in the repository may point outside it: no file names the
development machine's folders (an absolute path into /work or /home) or
the folder "shared" beside the checkout (a relative path up and into it),
which a user's clone does not have.

    check_repo.py SOURCE_ROOT      check the tracked files; exit 1 listing every hit
    check_repo.py --self-test      check that hits are found (a made-up tree)

The files are git's tracked ones (`git ls-files`) when SOURCE_ROOT is a git
checkout, else every file under it except build folders, .git and
node_modules (a release tarball). Binary files (a NUL byte in their first
8 KiB) are not read. Install paths (/usr/..., /etc/switchyard,
/run/switchyard) and scratch paths (/tmp/..., /dev/shm) are fine.
"""
import os
import re
import subprocess
import sys
import tempfile

# Built from pieces so that this file does not match itself.
WORK = "/" + "work/"
HOME = "/" + "home/"
SHARED = ".." + "/shared"
# an absolute path starts the string or follows a character that cannot be
# part of a path ("src/work/x" and "https://host/work/" are not hits)
PATTERNS = [
    (re.compile(r"(?:^|[\s\"'`=(\[{<,;:|])" + re.escape(WORK)), "an absolute %s... path" % WORK),
    (re.compile(r"(?:^|[\s\"'`=(\[{<,;:|])" + re.escape(HOME)), "an absolute %s... path" % HOME),
    (re.compile(re.escape(SHARED) + r"\b"), "a reference to %s (outside the repository)" % SHARED),
]
SKIP_DIRS = {".git", "node_modules", "__pycache__", "subprojects"}


def files(root):
    """The files to check, as paths relative to root."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True, check=True).stdout
        if out:
            return sorted(p for p in out.decode("utf-8", "surrogateescape").split("\0") if p)
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith("build")]
        for n in names:
            found.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(found)


def check(root):
    """[(path, line number, what)] for every hit under root."""
    hits = []
    for rel in files(root):
        path = os.path.join(root, rel)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data[:8192]:
            continue
        text = data.decode("utf-8", "replace")
        for no, line in enumerate(text.splitlines(), 1):
            for rx, what in PATTERNS:
                if rx.search(line):
                    hits.append((rel, no, what))
    return hits


def self_test():
    bad = {
        "README.md": "The design is in [%s/DESIGN.md](%s/DESIGN.md).\n" % (SHARED, SHARED),
        "tools/x.py": 'ap.add_argument("--data", default="%sshared/data")\n' % WORK,
        "docs/y.md": "    cd %salice/switchyard && make\n" % HOME,
        "scripts/z.sh": "DATA=%sshared/data\n" % WORK,
    }
    good = {
        "ok.md": "Installed under /usr/share/switchyard; runtime in /run/switchyard; /etc/switchyard/x.yaml.\n"
                 "A scratch dir /tmp/sy-test-XXXXXX, a URL https://example.com%sx, a path src%sx.\n" % (WORK, WORK),
        "model.bin": "\0" + WORK + "binary",
    }
    failures = 0
    with tempfile.TemporaryDirectory() as root:
        for name, text in list(bad.items()) + list(good.items()):
            p = os.path.join(root, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        got = {h[0] for h in check(root)}
        for name in bad:
            if name not in got:
                print("self-test: %s not found in %s" % (bad[name].strip(), name))
                failures += 1
        for name in good:
            if name in got:
                print("self-test: %s flagged, though it is fine" % name)
                failures += 1
    if failures:
        return 1
    print("self-test: %d bad files found, %d good ones passed" % (len(bad), len(good)))
    return 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    hits = check(root)
    for rel, no, what in hits:
        print("%s:%d: %s" % (rel, no, what))
    if hits:
        print("%d hits: the repository must not point outside itself (a user's clone has none of it)" % len(hits))
        return 1
    print("no file points outside the repository (%d files checked)" % len(files(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
