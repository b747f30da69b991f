#!/usr/bin/python3
"""Makes crf.safetensors and golden.txt here: a tiny word CRF
(tools/train/sycrf.py's file) with random weights over the features of a
few made-up texts, and its emission scores for the words of other texts,
which test_clf_heads.c expects the C engine (clf_lexical_word_scores) to
reproduce. Words here: runs of ASCII letters and digits and non-ASCII
bytes, and single other non-space bytes. Run from the repository root:
    /usr/bin/python3 tests/classifier/data/crf/make.py"""
import os
import re
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "..", "tools", "train"))
import sycrf  # noqa: E402

TAGS = 3   # O, B-X, I-X
TRAIN = ["Hi, I'm Jane Doe and I live at 12 Main Street.", "Call +1 555 0100\nor mail jane@example.com",
         "Erik Baader\n\n1072 Pohlstrasse 9\n Apt. 5\n BERLIN\n Germany 10115",
         "> Anna Kowalska\n> 31401 ul. Słowicza 10", "Öntésmajor, Ελλάδα 中文 🙂 ok",
         "Ship to\nJohn Smith\n42 Elm Road", "signed:\n \n\t\n\n\n\n  Bo"]
TEST = TRAIN + ["", "   ", "word", "\n\n  Lead line\n\tnext LINE here\r\n  x",
                "supercalifragilisticexpialidocious ABCDEFGHIJ a1b2c3d4e5 Ünïcödé",
                "Hello I moved, my new address is 27534 Þorsteinsgata 63\nMOSS\n, nan\n 51971",
                "a\n\n\nb c d e f g h", "x\xff".encode("latin-1").decode("latin-1")]


def words(b):
    return [m.span() for m in re.finditer(rb"[A-Za-z0-9\x80-\xff]+|[^A-Za-z0-9\x80-\xff \t\n\r\f\v]", b)]


def main():
    rng = np.random.default_rng(7)
    keys = set()
    for t in TRAIN:
        b = t.encode()
        for f in sycrf.keys_of(sycrf.word_features(b, words(b))):
            keys.update(f)
    keys = np.array(sorted(keys) + [1, 2, 3], dtype=np.uint32)   # all of them, and three others
    W = rng.normal(0, 1, (len(keys), TAGS))
    bias = rng.normal(0, 1, TAGS)
    trans = rng.normal(0, 1, (TAGS + 1, TAGS))
    path = os.path.join(here, "crf.safetensors")
    sycrf.save(path, keys, W, bias, trans)
    m = sycrf.Model(path)
    with open(os.path.join(here, "golden.txt"), "w") as f:
        f.write("# text HEX (UTF-8; the last one is not UTF-8), then per word: word START END and its %d "
                "emission scores; from make.py\n" % TAGS)
        for t in TEST:
            b = t.encode("utf-8") if t != TEST[-1] else t.encode("latin-1")
            f.write("text %s\n" % b.hex())
            W = words(b)
            for (s, e), row in zip(W, m.scores(b, W)):
                f.write("word %d %d %s\n" % (s, e, " ".join("%.9g" % v for v in row)))
    print("%d keys" % len(keys))


if __name__ == "__main__":
    main()
