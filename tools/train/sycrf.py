"""The word CRF of the default classifier's PII head: a linear-chain
conditional random field over words, with sparse features of each word and
its neighbours (the classic feature set of named-entity taggers: the word,
its shape, prefixes and suffixes, the words and shapes around it, the
white space between them, where it stands in its line, what the text's
first line looks like). Its emission scores are added to the encoder
head's log-probabilities (times an encoder weight) and its transitions
replace the head's counted ones in the Viterbi path. The C engine computes
the same features (classifier/clf_lexical.c, clf_lexical_word_scores);
this module is their definition:

- words are the PII head's (syeval.word_firsts: runs of glued tokens), as
  byte ranges of the text's UTF-8;
- low(w): ASCII letters lower-cased; shape(w): per character (UTF-8, two-
  byte sequences decoded, longer ones caseless) X upper-case letter, x
  lower-case letter, d ASCII digit, the byte itself for other ASCII, o for
  other non-ASCII, runs collapsed, at most 8; case(w): the engine's case
  token type (0, 1, 2);
- gap(a, b): the bytes between two words, '\\n' -> N, runs of other ASCII
  white space -> _, other bytes kept, at most 6;
- lines: a word starts a line when it is the first or a '\\n' is in the gap
  before it; the line is blank-preceded when that gap (for the first word,
  the text before it) holds two or more '\\n';
- long shape(w): the shape's classes not collapsed, at most 8 ("ddd" for
  "123", where the shape is "d");
- the text's first line: the bytes before the first '\\n', split at ASCII
  white space: T0 = the first 3 of the first piece's shape ("<>" without
  one), T1 = min(pieces, 4) and "m" when the text has two or more '\\n';
- features of word k (strings, see word_features), each a key: FNV-1a 32
  over the byte 't' and then the string's bytes;
- emission of tag j = bias[j] + sum over the word's features (a feature
  that occurs twice counts twice) of weight[key, j] * scale[j]; keys the
  model does not know count zero.
File: "keys" I32 [n], "weight" I8 [n, tags], "scale" F32 [tags], "bias"
F32 [tags], "transitions" F32 [tags + 1, tags] (row `tags`: the start).
"""
import os
import random
import sys

import numpy as np

import sydata
import syeval
import sylex
import sytok

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "classifier"))
import ref  # noqa: E402

_SPACE = b" \t\r\f\v"


def _low(w):
    return bytes(x + 32 if 65 <= x <= 90 else x for x in w)


def _letter_case(cp):
    """1 upper, -1 lower, 0 neither: the engine's letter case (sytok)"""
    c = chr(cp)
    return 1 if sytok._is_upper(c) else -1 if sytok._is_lower(c) else 0


def shape(w, cap=8, collapse=True):
    out = bytearray()
    i = 0
    while i < len(w) and len(out) < cap:
        c = w[i]
        k = 1
        if 0xC0 <= c < 0xE0 and i + 1 < len(w):
            cp, k = ((c & 0x1F) << 6) | (w[i + 1] & 0x3F), 2
        elif c >= 0x80:
            cp, k = 0xFFFD, (4 if c >= 0xF0 else 3 if c >= 0xE0 else 1)
        else:
            cp = c
        lc = _letter_case(cp)
        x = ord("X") if lc > 0 else ord("x") if lc < 0 else ord("d") if 48 <= cp <= 57 else cp if cp < 0x80 \
            else ord("o")
        if not collapse or not out or out[-1] != x:
            out.append(x)
        i += k
    return bytes(out)


def case(w):
    """the engine's case token type (clf_case_type) of a word's bytes"""
    return sytok.case_type(w.decode("utf-8", "replace"))


def gap(b, a, e):
    out = bytearray()
    for x in b[a:e]:
        if len(out) >= 6:
            break
        if x == 10:
            out.append(ord("N"))
        elif x in _SPACE:
            if not out or out[-1] != ord("_"):
                out.append(ord("_"))
        else:
            out.append(x)
    return bytes(out)


def word_features(b, words):
    """feature strings (bytes) of each word: b the text's UTF-8, words
    [(start, end)] byte ranges in order"""
    n = len(words)
    ws = [b[s:e] for s, e in words]
    lw = [_low(w) for w in ws]
    sh = [shape(w) for w in ws]
    lsh = [shape(w, 8, False) for w in ws]
    nl = b.find(b"\n")
    first = b[:nl if nl >= 0 else len(b)]
    pieces = [p for p in first.replace(b"\t", b" ").replace(b"\r", b" ").replace(b"\f", b" ")
              .replace(b"\v", b" ").split(b" ") if p]
    t0 = shape(pieces[0])[:3] if pieces else b"<>"
    t1 = b"%d" % min(len(pieces), 4) + (b"m" if b.count(b"\n") >= 2 else b"")
    gaps = [gap(b, words[k - 1][1] if k else 0, words[k][0]) for k in range(n)] + \
        [gap(b, words[-1][1], len(b))] if n else []
    out = []
    line = idx = lfirst = blank = 0
    prevfirst = b"<>"
    for k in range(n):
        raw = b[words[k - 1][1] if k else 0:words[k][0]]
        if k == 0 or b"\n" in raw:
            if k:
                prevfirst = lw[lfirst]
                line += 1
            blank = int(raw.count(b"\n") >= 2)
            lfirst, idx = k, 0
        w = lw[k]
        f = [b"b", b"w=" + w, b"s=" + sh[k], b"p2=" + w[:2], b"p3=" + w[:3], b"x2=" + w[-2:], b"x3=" + w[-3:],
             b"x4=" + w[-4:], b"c=%d" % case(ws[k]), b"g-=" + gaps[k], b"g+=" + gaps[k + 1]]
        for d in (-2, -1, 1, 2):
            j = k + d
            if 0 <= j < n:
                f += [b"w%+d=" % d + lw[j], b"s%+d=" % d + sh[j]]
            else:
                f.append(b"w%+d=<>" % d)
        f += [b"s-1s=" + (sh[k - 1] if k else b"<>") + b"|" + sh[k],
              b"w-1w=" + (lw[k - 1] if k else b"<>") + b"|" + w,
              b"Lk=%d" % min(idx, 3), b"Ln=%d" % min(line, 3), b"L0=" + sh[lfirst], b"Lp=" + prevfirst,
              b"Lb=%d" % blank, b"T0=" + t0, b"T1=" + t1, b"T0s=" + t0 + b"|" + sh[k], b"T1s=" + t1 + b"|" + sh[k]]
        for d in (-3, 3):
            j = k + d
            f.append(b"w%+d=" % d + (lw[j] if 0 <= j < n else b"<>"))
        f.append(b"g-2=" + (gaps[k - 1] if k > 1 else b"<>"))
        f.append(b"g+2=" + (gaps[k + 2] if k + 2 < n else b"<>"))
        f += [b"S=" + lsh[k], b"S-1=" + (lsh[k - 1] if k else b"<>"), b"S+1=" + (lsh[k + 1] if k + 1 < n else b"<>")]
        out.append(f)
        idx += 1
    return out


def keys_of(feats):
    return [[sylex.fnv(ord("t"), x) for x in f] for f in feats]


def words_of(text, starts, ends):
    """the words of a text as character ranges, from its content tokens'
    character offsets (syeval.word_firsts)"""
    W = []
    for s, e, first in zip(starts, ends, syeval.word_firsts(text, starts, ends)):
        if e <= s:
            continue
        if first or not W:
            W.append([s, e])
        else:
            W[-1][1] = e
    return [tuple(w) for w in W]


def to_bytes(text, words):
    """character ranges -> byte ranges of the text's UTF-8"""
    pos = [0]
    for c in text:
        pos.append(pos[-1] + len(c.encode("utf-8")))
    return [(pos[s], pos[e]) for s, e in words]


def word_keys(text, starts, ends):
    """(character ranges of the words, feature keys per word)"""
    W = words_of(text, starts, ends)
    return W, keys_of(word_features(text.encode("utf-8"), to_bytes(text, W)))


def word_tags(r, W):
    """BIO tag index per word (character ranges W) of a row with spans"""
    sp = sorted(r["spans"], key=lambda s: s["start"])
    seen, out = set(), []
    for a, b in W:
        lab = 0
        for k, s in enumerate(sp):
            if a < s["end"] and b > s["start"]:
                lab = sydata.PII_LABELS.index(("I-" if k in seen else "B-") + s["type"])
                seen.add(k)
                break
        out.append(lab)
    return out


def fit(rows, tok, max_len=512, min_count=2, epochs=6, lr=0.02, batch=32, seed=1, log=print):
    """a CRF trained on rows ({"text", "spans"}) by maximum likelihood (Adam):
    (keys uint32 [n], W [n, tags], bias [tags], transitions [tags + 1, tags])"""
    import torch
    L = len(sydata.PII_LABELS)
    sents = []
    counts = {}
    for r in rows:
        _, st, en = tok.encode_model(r["text"], max_len)
        W, K = word_keys(r["text"], st[1:-1], en[1:-1])
        if not W:
            continue
        sents.append((K, word_tags(r, W)))
        for f in K:
            for k in f:
                counts[k] = counts.get(k, 0) + 1
    keys = np.array(sorted(k for k, c in counts.items() if c >= min_count), dtype=np.uint32)
    index = {int(k): i for i, k in enumerate(keys)}
    log("pii crf: %d sentences, %d words, %d features (of %d)" % (
        len(sents), sum(len(t) for _, t in sents), len(keys), len(counts)))
    torch.manual_seed(seed)
    emb = torch.nn.EmbeddingBag(len(keys), L, mode="sum")
    torch.nn.init.zeros_(emb.weight)
    bias = torch.nn.Parameter(torch.zeros(L))
    trans = torch.nn.Parameter(torch.zeros(L + 1, L))
    opt = torch.optim.Adam(list(emb.parameters()) + [bias, trans], lr=lr)
    rng = random.Random(seed)
    for ep in range(epochs):
        order = list(range(len(sents)))
        rng.shuffle(order)
        tot = nw = 0
        for b0 in range(0, len(order), batch):
            ss = [sents[i] for i in order[b0:b0 + batch]]
            B, T = len(ss), max(len(t) for _, t in ss)
            ix, off = [], []
            for K, _ in ss:
                for f in K:
                    off.append(len(ix))
                    ix += [index[k] for k in f if k in index]
            e = emb(torch.tensor(ix, dtype=torch.long), torch.tensor(off, dtype=torch.long)) + bias
            E = torch.zeros(B, T, L)
            M = torch.zeros(B, T, dtype=torch.bool)
            Y = torch.zeros(B, T, dtype=torch.long)
            p = 0
            for i, (_, t) in enumerate(ss):
                n = len(t)
                E[i, :n] = e[p:p + n]
                M[i, :n] = True
                Y[i, :n] = torch.tensor(t)
                p += n
            gold = (E.gather(2, Y[:, :, None])[:, :, 0] * M).sum(1) + trans[L][Y[:, 0]] + \
                (trans[:L][Y[:, :-1], Y[:, 1:]] * M[:, 1:]).sum(1)
            alpha = trans[L][None] + E[:, 0]
            for t in range(1, T):
                nxt = torch.logsumexp(alpha[:, :, None] + trans[:L][None], 1) + E[:, t]
                alpha = torch.where(M[:, t, None], nxt, alpha)
            loss = (torch.logsumexp(alpha, 1) - gold).sum() / M.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += loss.item() * M.sum().item()
            nw += M.sum().item()
        log("pii crf: epoch %d/%d, loss %.4f per word" % (ep + 1, epochs, tot / nw))
    return keys, emb.weight.detach().double().numpy(), bias.detach().double().numpy(), \
        trans.detach().double().numpy()


def save(path, keys, W, b, trans):
    """the model file the engine reads (see above), replaced atomically"""
    import torch
    q, scale = sylex.quantize(np.asarray(W, dtype=np.float64).T)
    tensors = {"keys": torch.from_numpy(np.asarray(keys, dtype=np.uint32).view(np.int32).copy()),
               "weight": torch.from_numpy(q), "scale": torch.tensor(scale),
               "bias": torch.tensor(np.asarray(b, dtype=np.float64)),
               "transitions": torch.tensor(np.asarray(trans, dtype=np.float64))}
    dtypes = {"keys": "I32", "weight": "I8", "scale": "F32", "bias": "F32", "transitions": "F32"}
    ref.save_safetensors(path + ".tmp", tensors, dtypes,
                         {"format": "switchyard-word-crf", "producer": "switchyard tools/train/sycrf.py"})
    os.replace(path + ".tmp", path)


class Model:
    """a saved CRF: emissions(text, starts, ends) -> (words, [words, tags]) as
    the engine computes them; transitions [tags + 1, tags]"""

    def __init__(self, path):
        t = {k: v.numpy() for k, v in ref.load_safetensors(path).items()}
        self.keys = (t["keys"].astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
        self.q, self.scale, self.b, self.transitions = t["weight"], t["scale"], t["bias"], t["transitions"]
        self.index = {int(k): i for i, k in enumerate(self.keys)}

    def scores(self, b, words):
        """[words, tags] emissions of byte ranges words of the UTF-8 b"""
        out = np.zeros((len(words), len(self.b)))
        for i, f in enumerate(keys_of(word_features(b, words))):
            ix = [self.index[k] for k in f if k in self.index]
            out[i] = self.q[ix].sum(0) * self.scale + self.b
        return out

    def emissions(self, text, starts, ends):
        W = words_of(text, starts, ends)
        return W, self.scores(text.encode("utf-8"), to_bytes(text, W))
