"""The lexical half of the default classifier's category head: a linear
model over word and character n-grams (fastText-like features, no
embeddings), whose log-probabilities are added to the encoder head's
(a product of the two experts). The C engine computes the same features
(classifier/clf_lexical.c); this module is their definition:

- the text's UTF-8 bytes, ASCII letters lower-cased;
- words: maximal runs of ASCII letters and digits and of bytes >= 0x80;
  word features: every word of two or more bytes (kind "w"), and every
  pair of consecutive such words (kind "b", the two joined by a space);
- tokens: maximal runs of bytes other than ASCII white space; character
  features: the 2- to 5-byte substrings of every token padded with a
  space on each side (kind "c");
- a feature's key: FNV-1a 32 over its kind byte, then its bytes;
- the model knows a set of keys (those of two or more training texts),
  each with an idf and a weight per class; unknown keys are ignored;
- value of a known key in its group (word features; character
  features): (1 + ln count) * idf, then each group scaled to unit L2
  norm; logits = W x + b.
Texts longer than MAX_BYTES are read as their first and last MAX_BYTES/2
bytes.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "classifier"))
import ref  # noqa: E402

MAX_BYTES = 16384
FNV_OFFSET, FNV_PRIME = 0x811C9DC5, 0x01000193


def fnv(kind, b):
    h = (FNV_OFFSET ^ kind) * FNV_PRIME & 0xFFFFFFFF
    for x in b:
        h = ((h ^ x) * FNV_PRIME) & 0xFFFFFFFF
    return h


def _runs(b, keep):
    out, cur = [], bytearray()
    for x in b:
        if keep(x):
            cur.append(x)
        elif cur:
            out.append(bytes(cur))
            cur = bytearray()
    if cur:
        out.append(bytes(cur))
    return out


def _is_word(x):
    return (48 <= x <= 57) or (97 <= x <= 122) or x >= 0x80


def _is_token(x):
    return x not in b" \t\n\r\f\v"


def features(text):
    """two dicts key -> count: (word features, character features)"""
    b = text.encode("utf-8")
    if len(b) > MAX_BYTES:
        b = b[:MAX_BYTES // 2] + b" " + b[-(MAX_BYTES // 2):]
    b = bytes(x + 32 if 65 <= x <= 90 else x for x in b)
    wf, cf = {}, {}
    prev = None
    for w in _runs(b, _is_word):
        if len(w) < 2:
            continue
        k = fnv(ord("w"), w)
        wf[k] = wf.get(k, 0) + 1
        if prev is not None:
            k = fnv(ord("b"), prev + b" " + w)
            wf[k] = wf.get(k, 0) + 1
        prev = w
    for t in _runs(b, _is_token):
        p = b" " + t + b" "
        for n in range(2, 6):
            for i in range(0, len(p) - n + 1):
                k = fnv(ord("c"), p[i:i + n])
                cf[k] = cf.get(k, 0) + 1
    return wf, cf


def vectorize(texts, index, idf):
    """scipy CSR matrix [texts, len(index)] of the feature values; index:
    key -> column"""
    import scipy.sparse as sp
    rows, cols, vals = [], [], []
    for i, t in enumerate(texts):
        for g in features(t):
            ks = [index[k] for k in g if k in index]
            if not ks:
                continue
            v = np.array([1.0 + math.log(g[k]) for k in g if k in index]) * idf[ks]
            n = np.sqrt((v * v).sum())
            if n > 0:
                v = v / n
            rows += [i] * len(ks)
            cols += ks
            vals += v.tolist()
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(index)), dtype=np.float64)


def fit(texts, labels, C=10.0, min_df=2):
    """keys (sorted uint32), idf, W [classes, keys], b [classes] of a
    multinomial logistic regression"""
    from sklearn.linear_model import LogisticRegression
    df = {}
    feats = [features(t) for t in texts]
    for wf, cf in feats:
        for k in list(wf) + list(cf):
            df[k] = df.get(k, 0) + 1
    keys = np.array(sorted(k for k, v in df.items() if v >= min_df), dtype=np.uint32)
    index = {int(k): i for i, k in enumerate(keys)}
    n = len(texts)
    idf = np.log((1.0 + n) / (1.0 + np.array([df[int(k)] for k in keys], dtype=np.float64))) + 1.0
    X = vectorize(texts, index, idf)
    m = LogisticRegression(C=C, max_iter=3000)
    m.fit(X, labels)
    return keys, idf, m.coef_, m.intercept_


def quantize(W):
    """W [classes, keys] -> (int8 [keys, classes], scale [classes]): a scale
    per class, max |w| -> 127"""
    W = np.asarray(W, dtype=np.float64)
    scale = np.abs(W).max(1) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.round(W / scale[:, None]), -127, 127).astype(np.int8).T.copy(), scale


def save(path, keys, idf, W, b):
    """the model file the engine reads (classifier/clf_lexical.h): keys I32,
    idf F32, weight I8 [keys, classes] with a scale per class, bias F32;
    written through tools/classifier/ref.py, replaced atomically"""
    import torch
    q, scale = quantize(W)
    tensors = {"keys": torch.from_numpy(np.asarray(keys, dtype=np.uint32).view(np.int32).copy()),
               "idf": torch.tensor(idf), "weight": torch.from_numpy(q), "scale": torch.tensor(scale),
               "bias": torch.tensor(np.asarray(b, dtype=np.float64))}
    dtypes = {"keys": "I32", "idf": "F32", "weight": "I8", "scale": "F32", "bias": "F32"}
    ref.save_safetensors(path + ".tmp", tensors, dtypes,
                         {"format": "switchyard-lexical", "producer": "switchyard tools/train/sylex.py"})
    os.replace(path + ".tmp", path)


def load(path):
    """(keys uint32, idf, W [classes, keys] dequantized, b) of a saved model"""
    t = {k: v.numpy() for k, v in ref.load_safetensors(path).items()}   # float64, exact for these dtypes
    keys = (t["keys"].astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    return keys, t["idf"], (t["weight"] * t["scale"][None, :]).T, t["bias"]


class Model:
    """a saved lexical model: logprobs(texts) -> [texts, classes], as the engine"""

    def __init__(self, path):
        self.keys, self.idf, self.W, self.b = load(path)
        self.index = {int(k): i for i, k in enumerate(self.keys)}

    def logprobs(self, texts):
        lg = vectorize(texts, self.index, self.idf) @ self.W.T + self.b
        lg = lg - lg.max(1, keepdims=True)
        return lg - np.log(np.exp(lg).sum(1, keepdims=True))
