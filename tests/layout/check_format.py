"""The C, header and CUDA sources are as .clang-format writes them: runs
clang-format 14 (the version the style was written for; output differs
between versions) in --dry-run mode over every such file of the source
tree and fails naming the files it would change. Skips (77) when
clang-format-14 is not installed.
usage: check_format.py SOURCE_ROOT"""
import os
import shutil
import subprocess
import sys

SKIP_DIRS = {".git", "node_modules"}
EXTS = (".c", ".h", ".cu", ".cuh")


def sources(root):
    for d, dirs, files in os.walk(root):
        # build trees (any folder holding meson-private) and hidden folders
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS and not x.startswith(".")
                         and not os.path.isdir(os.path.join(d, x, "meson-private")))
        for f in sorted(files):
            if f.endswith(EXTS):
                yield os.path.join(d, f)


def main():
    root = sys.argv[1]
    exe = shutil.which("clang-format-14")
    if not exe:
        print("clang-format-14 not installed: skipped")
        sys.exit(77)
    files = list(sources(root))
    bad = []
    for i in range(0, len(files), 64):
        part = files[i:i + 64]
        r = subprocess.run([exe, "--dry-run", "--style=file"] + part, capture_output=True, text=True)
        for line in r.stderr.splitlines():
            if "warning:" in line or "error:" in line:
                name = os.path.relpath(line.split(":", 1)[0], root)
                if name not in bad:
                    bad.append(name)
    print("%d files checked" % len(files))
    if bad:
        print("not as .clang-format writes them (run clang-format-14 -i on them):")
        for b in bad:
            print("  " + b)
        sys.exit(1)


if __name__ == "__main__":
    main()
