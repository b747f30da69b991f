#!/usr/bin/python3
"""Makes lexical.safetensors and golden.txt here: a tiny lexical model
(tools/train/sylex.py) fitted on a few made-up texts, and its
log-probabilities for other texts, which test_clf_heads.c expects the C
engine to reproduce. Run from the repository root:
    /usr/bin/python3 tests/classifier/data/lexical/make.py"""
import json
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "..", "tools", "train"))
import sylex  # noqa: E402

TRAIN = [
    ("solve for x: 2x + 3 = 7", 0), ("what is the integral of x^2", 0), ("compute 17*23", 0),
    ("the derivative of sin(x) is cos(x)", 0), ("prove that the square root of 2 is irrational", 0),
    ("def add(a, b): return a + b", 1), ("why does my Python code crash with a KeyError", 1),
    ("write a function that sorts a list", 1), ("the Linux kernel schedules threads", 1),
    ("SELECT * FROM users WHERE id = 1;", 1), ("Write a poem about the ocean", 2),
    ("tell me a joke about cats", 2), ("what should I cook for dinner tonight", 2),
    ("a short story about a dragon", 2), ("Über café naïve ünïcödé words", 2),
]
LONG = "x" * 20000 + " integral " + "y" * 20000   # "long" in golden.txt: cut to head and tail
TEST = ["Compute the integral of sin(x)", "my python function crashes", "write a poem about a cat",
        "", "   \n\t", "ÜBER CAFÉ", LONG, "a b c d e f g", "2x + 3 = 7; def add(a, b)", "Compute   COMPUTE compute"]


def main():
    keys, idf, W, b = sylex.fit([t for t, _ in TRAIN], np.array([y for _, y in TRAIN]), min_df=1)
    path = os.path.join(here, "lexical.safetensors")
    sylex.save(path, keys, idf, W, b)
    m = sylex.Model(path)
    with open(os.path.join(here, "golden.txt"), "w") as f:
        f.write("# text HEX (UTF-8) or long (see make.py), then the 3 log-probabilities; from make.py\n")
        for t in TEST:
            f.write("long\n" if t == LONG else "text %s\n" % t.encode().hex())
            f.write("logprobs %s\n" % " ".join("%.9g" % v for v in m.logprobs([t])[0]))
    print("%d features" % len(keys))


if __name__ == "__main__":
    main()
