#!/usr/bin/python3
"""Reference implementation of switchyard's classifier engine, in Python and
PyTorch (Debian's python3-torch; no transformers, no tokenizers library).

Written from the architectures' definitions (the Hugging Face modeling code of
BertForSequenceClassification / BertForTokenClassification, DistilBert*,
ModernBertFor{Sequence,Token}Classification) and from the `tokenizers`
library's algorithms (BertNormalizer, BertPreTokenizer, WordPiece, ByteLevel,
BPE Word::merge_all, added tokens, TemplateProcessing). It is the oracle of the
C engine's golden tests (tools/classifier/gen_testdata.py) and its PyTorch
baseline for benchmarks.

    ref.py tokenize MODEL_DIR TEXT      token ids the model reads
    ref.py run MODEL_DIR TEXT...        logits (+ labels)
    ref.py bench MODEL_DIR [--threads N] PyTorch CPU latency at 16/128/512 tokens
"""
import ctypes
import heapq
import json
import math
import os
import struct
import sys
import unicodedata

try:
    import regex  # only for the byte-level pre-tokenizer regex
except ImportError:  # pragma: no cover
    regex = None

# ---------------------------------------------------------------------------
# Unicode helpers (Rust / tokenizers semantics)

# the Unicode White_Space property (Rust char::is_whitespace, regex \s)
WHITE_SPACE = set([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
                   0x2028, 0x2029, 0x202F, 0x205F, 0x3000] + list(range(0x2000, 0x200B)))


def is_white_space(c):
    return ord(c) in WHITE_SPACE


def is_other(c):  # categories C*: Cc Cf Cs Co Cn
    return unicodedata.category(c).startswith("C")


def is_bert_punct(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


# ---------------------------------------------------------------------------
# Normalizers (each: str -> str)

def bert_normalize(text, clean=True, cjk=True, strip=None, lower=True):
    """tokenizers' BertNormalizer: clean text, CJK spacing, NFD + drop Mn
    (strip_accents, defaulting to lowercase), per-character lower case."""
    out = []
    for c in text:
        if clean:
            if c in "\t\n\r" or is_white_space(c):
                out.append(" ")
                continue
            if ord(c) == 0 or ord(c) == 0xFFFD or is_other(c):
                continue
        if cjk and is_cjk(ord(c)):
            out.append(" " + c + " ")
            continue
        out.append(c)
    s = "".join(out)
    if strip is None:
        strip = lower
    if strip:
        s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
    if lower:
        s = "".join(c.lower() for c in s)
    return s


# ---------------------------------------------------------------------------
# Pre-tokenizers (str -> list of str)

def bert_pretokenize(s):
    words, cur = [], []
    for c in s:
        if is_white_space(c):
            if cur:
                words.append("".join(cur))
                cur = []
        elif is_bert_punct(c):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(c)
        else:
            cur.append(c)
    if cur:
        words.append("".join(cur))
    return words


_WSI = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# GPT-2's pattern with \s spelled out as White_Space:
#   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
GPT2_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^" + _WSI + r"\p{L}\p{N}]+|"
                + "[" + _WSI + "]+(?![^" + _WSI + "])|[" + _WSI + "]+")
_gpt2_re = None


def bytelevel_pretokenize(s, add_prefix_space=False, use_regex=True):
    global _gpt2_re
    if add_prefix_space and not s.startswith(" "):
        s = " " + s
    if not use_regex:
        return [s]
    if _gpt2_re is None:
        _gpt2_re = regex.compile(GPT2_PATTERN)
    return _gpt2_re.findall(s)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_CHAR = bytes_to_unicode()


# ---------------------------------------------------------------------------
# Models

def wordpiece(word, vocab, unk="[UNK]", prefix="##", max_chars=100):
    if len(word) > max_chars:
        return [vocab[unk]]
    out, start = [], 0
    while start < len(word):
        end = len(word)
        cur = None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = prefix + sub
            if sub in vocab:
                cur = vocab[sub]
                break
            end -= 1
        if cur is None:
            return [vocab[unk]]
        out.append(cur)
        start = end
    return out


def bpe_merge_all(ids, merges):
    """tokenizers' Word::merge_all: a priority queue of (rank, position);
    the lowest rank first, the leftmost among equal ranks."""
    n = len(ids)
    c = list(ids)
    prev = list(range(-1, n - 1))
    nxt = list(range(1, n + 1))
    nxt[-1] = -1
    alive = [True] * n
    q = []
    for i in range(n - 1):
        m = merges.get((c[i], c[i + 1]))
        if m:
            heapq.heappush(q, (m[0], i, m[1]))
    while q:
        rank, pos, new_id = heapq.heappop(q)
        if not alive[pos] or nxt[pos] == -1:
            continue
        right = nxt[pos]
        m = merges.get((c[pos], c[right]))
        if not m or m[1] != new_id:
            continue
        c[pos] = new_id
        alive[right] = False
        nxt[pos] = nxt[right]
        if nxt[pos] != -1:
            prev[nxt[pos]] = pos
        if prev[pos] != -1:
            m = merges.get((c[prev[pos]], c[pos]))
            if m:
                heapq.heappush(q, (m[0], prev[pos], m[1]))
        if nxt[pos] != -1:
            m = merges.get((c[pos], c[nxt[pos]]))
            if m:
                heapq.heappush(q, (m[0], pos, m[1]))
    return [c[i] for i in range(n) if alive[i]]


def bpe_classic(symbols, ranks):
    """GPT-2's original bpe() (merge every occurrence of the best pair);
    used to cross-check bpe_merge_all."""
    word = list(symbols)
    while len(word) > 1:
        pairs = set(zip(word, word[1:]))
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        a, b = best
        out, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(word[i])
                i += 1
        word = out
    return word


# ---------------------------------------------------------------------------
# Tokenizer

class Tokenizer:
    """tokenizer.json (WordPiece or BPE) or vocab.txt, the subset the C
    engine supports, with the same truncation policies."""

    def __init__(self, model_dir):
        self.added = []          # (content, id, lstrip, rstrip, single_word, normalized)
        self.prefix, self.suffix = [], []
        tj = os.path.join(model_dir, "tokenizer.json")
        if os.path.exists(tj):
            self._load_json(tj)
        else:
            self._load_vocab_txt(model_dir)
        self.id_to_tok = {i: t for t, i in self.vocab.items()}
        for a in self.added:
            self.id_to_tok[a[1]] = a[0]

    def _load_vocab_txt(self, d):
        with open(os.path.join(d, "vocab.txt"), encoding="utf-8") as f:
            toks = f.read().split("\n")
        if toks and toks[-1] == "":
            toks.pop()
        self.vocab = {}
        for i, t in enumerate(toks):
            self.vocab[t.rstrip("\r")] = i
        opts = {}
        tc = os.path.join(d, "tokenizer_config.json")
        if os.path.exists(tc):
            with open(tc) as f:
                opts = json.load(f)
        lower = opts.get("do_lower_case", True)
        self.norm = [("bert", True, opts.get("tokenize_chinese_chars", True), opts.get("strip_accents"), lower)]
        self.pre = ("bert",)
        self.model = ("wordpiece", "[UNK]", "##", 100)
        for s in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]:
            if s in self.vocab:
                self.added.append((s, self.vocab[s], False, False, False, False))
        if "[CLS]" in self.vocab:
            self.prefix = [self.vocab["[CLS]"]]
        if "[SEP]" in self.vocab:
            self.suffix = [self.vocab["[SEP]"]]

    def _norm_list(self, n):
        if n is None:
            return []
        t = n["type"]
        if t == "BertNormalizer":
            return [("bert", n.get("clean_text", True), n.get("handle_chinese_chars", True),
                     n.get("strip_accents"), n.get("lowercase", True))]
        if t == "Sequence":
            return [x for m in n["normalizers"] for x in self._norm_list(m)]
        if t in ("Lowercase", "NFD", "NFC", "StripAccents"):
            return [(t,)]
        raise ValueError("unsupported normalizer " + t)

    def _load_json(self, path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        self.norm = self._norm_list(j.get("normalizer"))
        p = j.get("pre_tokenizer")
        if p is not None and p["type"] == "Sequence":
            assert len(p["pretokenizers"]) <= 1
            p = p["pretokenizers"][0] if p["pretokenizers"] else None
        if p is None:
            self.pre = ("none",)
        elif p["type"] == "BertPreTokenizer":
            self.pre = ("bert",)
        elif p["type"] == "ByteLevel":
            self.pre = ("bytelevel", p.get("add_prefix_space", True), p.get("use_regex", True))
        else:
            raise ValueError("unsupported pre_tokenizer")
        m = j["model"]
        self.vocab = dict(m["vocab"])
        if m["type"] == "WordPiece":
            self.model = ("wordpiece", m["unk_token"], m.get("continuing_subword_prefix", "##"),
                          m.get("max_input_chars_per_word", 100))
        elif m["type"] == "BPE":
            merges = {}
            ranks = {}
            for r, mg in enumerate(m["merges"]):
                a, b = mg.split(" ") if isinstance(mg, str) else mg
                key = (self.vocab[a], self.vocab[b])
                if key not in merges:
                    merges[key] = (r, self.vocab[a + b])
                    ranks[(a, b)] = r
            self.model = ("bpe", m.get("unk_token"), m.get("fuse_unk", False), m.get("ignore_merges", False))
            self.merges, self.ranks = merges, ranks
        else:
            raise ValueError("unsupported model")
        for a in j.get("added_tokens") or []:
            self.added.append((a["content"], a["id"], a.get("lstrip", False), a.get("rstrip", False),
                               a.get("single_word", False), a.get("normalized", not a.get("special", False))))
        pp = j.get("post_processor")
        self._post(pp)

    def _post(self, pp):
        if pp is None:
            return
        t = pp["type"]
        if t == "TemplateProcessing":
            after = False
            for item in pp["single"]:
                if "Sequence" in item:
                    after = True
                    continue
                ids = pp["special_tokens"][item["SpecialToken"]["id"]]["ids"]
                (self.suffix if after else self.prefix).extend(ids)
        elif t in ("BertProcessing", "RobertaProcessing"):
            self.prefix.append(pp["cls"][1])
            self.suffix.append(pp["sep"][1])
        elif t == "Sequence":
            for p in pp["processors"]:
                self._post(p)
        elif t != "ByteLevel":
            raise ValueError("unsupported post_processor")

    # -- pipeline --
    def _split_added(self, s, normalized):
        toks = [a for a in self.added if a[5] == normalized]
        if not toks:
            return [(s, None)]
        toks.sort(key=lambda a: -len(a[0]))
        # leftmost-longest: at the leftmost position the longest token
        pat = regex.compile("|".join(regex.escape(a[0]) for a in toks))
        by = {a[0]: a for a in toks}
        out, last, pos = [], 0, 0
        while True:
            m = pat.search(s, pos)
            if not m:
                break
            a = by[m.group(0)]
            start, stop = m.start(), m.end()
            if a[4]:  # single_word
                def wc(c):
                    return c == "_" or unicodedata.category(c)[0] in "LN"
                if (start > 0 and wc(s[start - 1])) or (stop < len(s) and wc(s[stop])):
                    pos = start + 1
                    continue
            if a[2]:  # lstrip
                while start > last and is_white_space(s[start - 1]):
                    start -= 1
            if a[3]:  # rstrip
                while stop < len(s) and is_white_space(s[stop]):
                    stop += 1
            if last < start:
                out.append((s[last:start], None))
            out.append((s[start:stop], a[1]))
            last = pos = stop
        if last < len(s):
            out.append((s[last:], None))
        return out

    def _normalize(self, s):
        for n in self.norm:
            if n[0] == "bert":
                s = bert_normalize(s, n[1], n[2], n[3], n[4])
            elif n[0] == "Lowercase":
                s = "".join(c.lower() for c in s)
            elif n[0] in ("NFD", "NFC"):
                s = unicodedata.normalize(n[0], s)
            elif n[0] == "StripAccents":
                s = "".join(c for c in s if unicodedata.category(c) != "Mn")
        return s

    def _model(self, word):
        if self.model[0] == "wordpiece":
            return wordpiece(word, self.vocab, self.model[1], self.model[2], self.model[3])
        _, unk, fuse, ignore = self.model
        if self.pre[0] == "bytelevel":
            chars = [BYTE_CHAR[b] for b in word.encode("utf-8")]
        else:
            chars = list(word)
        if ignore and "".join(chars) in self.vocab:
            return [self.vocab["".join(chars)]]
        ids, unk_open = [], False
        for ch in chars:
            if ch in self.vocab:
                ids.append(self.vocab[ch])
                unk_open = False
            elif unk:
                if not (fuse and unk_open):
                    ids.append(self.vocab[unk])
                unk_open = True
        if not ids:
            return []
        out = bpe_merge_all(ids, self.merges)
        if not unk and all(ch in self.vocab for ch in chars):
            classic = [self.vocab[t] for t in bpe_classic(chars, self.ranks)]
            assert classic == out, (word, classic, out)
        return out

    def _pretokenize(self, s):
        if self.pre[0] == "bert":
            return bert_pretokenize(s)
        if self.pre[0] == "bytelevel":
            return bytelevel_pretokenize(s, self.pre[1], self.pre[2])
        return [s] if s else []

    def encode(self, text):
        """content ids, no special tokens"""
        ids = []
        for piece, aid in self._split_added(text, False):
            if aid is not None:
                ids.append(aid)
                continue
            ns = self._normalize(piece)
            for p2, aid2 in self._split_added(ns, True):
                if aid2 is not None:
                    ids.append(aid2)
                    continue
                for w in self._pretokenize(p2):
                    ids.extend(self._model(w))
        return ids

    def encode_model(self, text, max_len, policy="head_tail"):
        ids = self.encode(text)
        budget = max_len - len(self.prefix) - len(self.suffix)
        if len(ids) > budget:
            if policy == "head":
                ids = ids[:budget]
            elif policy == "tail":
                ids = ids[len(ids) - budget:]
            else:
                h = (budget + 1) // 2
                t = budget // 2
                ids = ids[:h] + (ids[len(ids) - t:] if t else [])
        return self.prefix + ids + self.suffix

    def pad_id(self):
        for s in ["[PAD]", "<pad>", "<|padding|>"]:
            for a in self.added:
                if a[0] == s:
                    return a[1]
            if s in self.vocab:
                return self.vocab[s]
        return 0


# ---------------------------------------------------------------------------
# safetensors

ST_DTYPES = {"F32": (4, "float32"), "F16": (2, "float16"), "BF16": (2, "bfloat16"),
             "F64": (8, "float64"), "I64": (8, "int64"), "I32": (4, "int32"), "I8": (1, "int8")}


def _torch():
    import torch
    return torch


def save_safetensors(path, tensors, dtype="F32", metadata=None):
    """tensors: dict name -> torch tensor, written as dtype (a safetensors
    dtype of ST_DTYPES, or a dict name -> dtype)"""
    torch = _torch()
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        dt = dtype[name] if isinstance(dtype, dict) else dtype
        t = tensors[name].detach().to(getattr(torch, ST_DTYPES[dt][1])).contiguous().cpu()
        nbytes = t.numel() * t.element_size()
        blob = ctypes.string_at(t.data_ptr(), nbytes) if nbytes else b""
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + nbytes]}
        blobs.append(blob)
        off += nbytes
    header["__metadata__"] = metadata or {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """name -> float64 torch tensor"""
    torch = _torch()
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    buf = bytearray(data)
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        dt = getattr(torch, ST_DTYPES[e["dtype"]][1])
        cnt = (end - b) // ST_DTYPES[e["dtype"]][0]
        t = torch.frombuffer(buf, dtype=dt, count=cnt, offset=base + b) if cnt else torch.zeros(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).to(torch.float64)
    return out


# ---------------------------------------------------------------------------
# Models (float64 by default: the oracle)

def model_kind(cfg):
    if cfg.get("switchyard_heads"):
        return "multi"
    arch = (cfg.get("architectures") or [""])[0]
    if "TokenClassification" in arch:
        return "token"
    if "SequenceClassification" in arch:
        return "sequence"
    return "embedding"


def gelu(x):
    return 0.5 * x * (1.0 + _torch().erf(x / math.sqrt(2.0)))


def act_fn(name):
    torch = _torch()
    if name in ("gelu", None):
        return gelu
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "relu":
        return torch.relu
    if name in ("silu", "swish"):
        return lambda x: x * torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh
    raise ValueError(name)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    y = (x - mu) / (var + eps).sqrt() * w
    return y + b if b is not None else y


def linear(x, W, b=None):
    y = x @ W.t()
    return y + b if b is not None else y


def attention(q, k, v, key_mask, extra_mask=None):
    """q,k,v: [B, nh, T, hd]; key_mask [B, T] (1 valid)"""
    torch = _torch()
    hd = q.shape[-1]
    s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    allow = key_mask[:, None, None, :].bool()
    if extra_mask is not None:
        allow = allow & extra_mask
    s = s.masked_fill(~allow, float("-inf"))
    p = torch.softmax(s, -1)
    p = torch.nan_to_num(p, nan=0.0)
    return p @ v


def split_heads(x, nh):
    B, T, H = x.shape
    return x.view(B, T, nh, H // nh).transpose(1, 2)


def merge_heads(x):
    B, nh, T, hd = x.shape
    return x.transpose(1, 2).reshape(B, T, nh * hd)


def masked_mean(h, mask):
    m = mask.to(h.dtype)[..., None]
    return (h * m).sum(1) / m.sum(1).clamp(min=1)


def _get(W, *names):
    for n in names:
        if n in W:
            return W[n]
    return None


def bert_forward(cfg, W, ids, mask):
    torch = _torch()
    distil = cfg["model_type"] == "distilbert"
    pfx = "distilbert." if distil else "bert."
    if not any(k.startswith(pfx) for k in W):
        pfx = ""
    H = cfg["dim"] if distil else cfg["hidden_size"]
    nh = cfg["n_heads"] if distil else cfg["num_attention_heads"]
    L = cfg["n_layers"] if distil else cfg["num_hidden_layers"]
    eps = 1e-12 if distil else cfg.get("layer_norm_eps", 1e-12)
    act = act_fn(cfg.get("activation" if distil else "hidden_act", "gelu"))
    B, T = ids.shape
    e = W[pfx + "embeddings.word_embeddings.weight"][ids]
    e = e + W[pfx + "embeddings.position_embeddings.weight"][torch.arange(T)][None]
    if not distil and pfx + "embeddings.token_type_embeddings.weight" in W:
        e = e + W[pfx + "embeddings.token_type_embeddings.weight"][0][None, None]
    x = layer_norm(e, _get(W, pfx + "embeddings.LayerNorm.weight", pfx + "embeddings.LayerNorm.gamma"),
                   _get(W, pfx + "embeddings.LayerNorm.bias", pfx + "embeddings.LayerNorm.beta"), eps)
    for i in range(L):
        if distil:
            p = pfx + "transformer.layer.%d." % i
            q = linear(x, W[p + "attention.q_lin.weight"], W[p + "attention.q_lin.bias"])
            k = linear(x, W[p + "attention.k_lin.weight"], W[p + "attention.k_lin.bias"])
            v = linear(x, W[p + "attention.v_lin.weight"], W[p + "attention.v_lin.bias"])
            a = merge_heads(attention(split_heads(q, nh), split_heads(k, nh), split_heads(v, nh), mask))
            a = linear(a, W[p + "attention.out_lin.weight"], W[p + "attention.out_lin.bias"])
            x = layer_norm(x + a, W[p + "sa_layer_norm.weight"], W[p + "sa_layer_norm.bias"], eps)
            f = linear(act(linear(x, W[p + "ffn.lin1.weight"], W[p + "ffn.lin1.bias"])),
                       W[p + "ffn.lin2.weight"], W[p + "ffn.lin2.bias"])
            x = layer_norm(x + f, W[p + "output_layer_norm.weight"], W[p + "output_layer_norm.bias"], eps)
        else:
            p = pfx + "encoder.layer.%d." % i
            q = linear(x, W[p + "attention.self.query.weight"], W[p + "attention.self.query.bias"])
            k = linear(x, W[p + "attention.self.key.weight"], W[p + "attention.self.key.bias"])
            v = linear(x, W[p + "attention.self.value.weight"], W[p + "attention.self.value.bias"])
            a = merge_heads(attention(split_heads(q, nh), split_heads(k, nh), split_heads(v, nh), mask))
            a = linear(a, W[p + "attention.output.dense.weight"], W[p + "attention.output.dense.bias"])
            x = layer_norm(x + a, W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
            f = linear(act(linear(x, W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"])),
                       W[p + "output.dense.weight"], W[p + "output.dense.bias"])
            x = layer_norm(x + f, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    out = {"hidden": x, "embedding": masked_mean(x, mask)}
    kind = model_kind(cfg)
    if kind == "sequence":
        if distil:
            pooled = torch.relu(linear(x[:, 0], W["pre_classifier.weight"], W["pre_classifier.bias"]))
        else:
            pooled = torch.tanh(linear(x[:, 0], W[pfx + "pooler.dense.weight"], W[pfx + "pooler.dense.bias"]))
        out["logits"] = linear(pooled, W["classifier.weight"], W["classifier.bias"])
    elif kind == "token":
        out["logits"] = linear(x, W["classifier.weight"], W["classifier.bias"])
    elif kind == "multi":
        multi_heads(cfg, W, x, mask, out)
    return out


def multi_heads(cfg, W, x, mask, out):
    """switchyard multi-head checkpoints: per head, pool (sequence: masked
    mean or CLS), optional tanh(dense), linear. out["heads"][name] = logits
    ([B, L] or [B, T, L]); out["logits"] = every head's logits flattened per
    sequence and concatenated, in the config's order (what the C engine's
    golden test compares)."""
    torch = _torch()
    out["heads"] = {}
    flat = []
    for h in cfg["switchyard_heads"]:
        name = h["name"]
        if h.get("kind", "sequence") == "sequence":
            z = x[:, 0] if h.get("pooling", "mean") == "cls" else masked_mean(x, mask)
        else:
            z = x
        if "heads.%s.dense.weight" % name in W:
            z = torch.tanh(linear(z, W["heads.%s.dense.weight" % name], W.get("heads.%s.dense.bias" % name)))
        lg = linear(z, W["heads.%s.weight" % name], W.get("heads.%s.bias" % name))
        out["heads"][name] = lg
        flat.append(lg.reshape(lg.shape[0], -1))
    out["logits"] = torch.cat(flat, dim=1)


def rope(x, theta):
    """x: [B, nh, T, hd]; rotate_half convention (ModernBERT, GPT-NeoX)"""
    torch = _torch()
    T, hd = x.shape[2], x.shape[3]
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    f = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]
    emb = torch.cat([f, f], -1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
    rot = torch.cat([-x2, x1], -1)
    return x * cos + rot * sin


def modernbert_forward(cfg, W, ids, mask):
    torch = _torch()
    pfx = "model." if any(k.startswith("model.") for k in W) else ""
    H, nh, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    eps = cfg.get("norm_eps", 1e-5)
    every = cfg.get("global_attn_every_n_layers", 3)
    window = cfg.get("local_attention", 128)
    act = act_fn(cfg.get("hidden_activation", "gelu"))
    B, T = ids.shape

    def ln(x, name):
        return layer_norm(x, W[name + ".weight"], W.get(name + ".bias"), eps)

    def lin(x, name):
        return linear(x, W[name + ".weight"], W.get(name + ".bias"))

    x = ln(W[pfx + "embeddings.tok_embeddings.weight"][ids], pfx + "embeddings.norm")
    pos = torch.arange(T)
    local_mask = ((pos[:, None] - pos[None, :]).abs() <= window // 2)[None, None]
    for i in range(L):
        p = pfx + "layers.%d." % i
        is_global = i % every == 0
        theta = cfg.get("global_rope_theta", 160000.0) if is_global else cfg.get("local_rope_theta", 10000.0)
        h = x if i == 0 else ln(x, p + "attn_norm")
        qkv = lin(h, p + "attn.Wqkv").view(B, T, 3, nh, H // nh)
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))
        q, k = rope(q, theta), rope(k, theta)
        a = merge_heads(attention(q, k, v, mask, None if is_global else local_mask))
        x = x + lin(a, p + "attn.Wo")
        h = ln(x, p + "mlp_norm")
        inp, gate = lin(h, p + "mlp.Wi").chunk(2, dim=-1)
        x = x + lin(act(inp) * gate, p + "mlp.Wo")
    x = ln(x, pfx + "final_norm")
    out = {"hidden": x, "embedding": masked_mean(x, mask)}
    kind = model_kind(cfg)
    cact = act_fn(cfg.get("classifier_activation", "gelu"))

    def head(z):
        return ln(cact(lin(z, "head.dense")), "head.norm")

    if kind == "sequence":
        pooled = x[:, 0] if cfg.get("classifier_pooling", "cls") == "cls" else masked_mean(x, mask)
        out["logits"] = lin(head(pooled), "classifier")
    elif kind == "token":
        out["logits"] = lin(head(x), "classifier")
    return out


def forward(cfg, W, ids, mask):
    if cfg["model_type"] == "modernbert":
        return modernbert_forward(cfg, W, ids, mask)
    return bert_forward(cfg, W, ids, mask)


def max_len_of(cfg, tok_cap=None):
    m = cfg.get("max_position_embeddings", 512)
    return min(m, tok_cap) if tok_cap else m


class Model:
    def __init__(self, model_dir, dtype=None):
        torch = _torch()
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        W = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        dt = dtype or torch.float64
        self.W = {k: v.to(dt) for k, v in W.items()}
        self.tok = Tokenizer(model_dir)
        self.max_len = max_len_of(self.cfg)

    def batch(self, texts, policy="head_tail"):
        torch = _torch()
        seqs = [self.tok.encode_model(t, self.max_len, policy) for t in texts]
        T = max(len(s) for s in seqs)
        pad = self.tok.pad_id()
        ids = torch.tensor([s + [pad] * (T - len(s)) for s in seqs])
        mask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in seqs])
        return seqs, ids, mask

    def run(self, texts, policy="head_tail"):
        seqs, ids, mask = self.batch(texts, policy)
        with _torch().no_grad():
            return seqs, forward(self.cfg, self.W, ids, mask)


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    cmd, d = argv[1], argv[2]
    if cmd == "tokenize":
        t = Tokenizer(d)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        print(" ".join(map(str, t.encode_model(" ".join(argv[3:]), max_len_of(cfg)))))
        return 0
    if cmd == "run":
        m = Model(d)
        seqs, out = m.run(argv[3:])
        labels = m.cfg.get("id2label") or {}
        for i, s in enumerate(seqs):
            print("ids", s)
            if "logits" in out:
                lg = out["logits"][i]
                print("logits", [round(float(v), 6) for v in lg.flatten()[:32]])
                if lg.dim() == 1:
                    print("label", labels.get(str(int(lg.argmax())), int(lg.argmax())))
        return 0
    if cmd == "bench":
        import time
        torch = _torch()
        threads = 1
        if "--threads" in argv:
            threads = int(argv[argv.index("--threads") + 1])
        torch.set_num_threads(threads)
        m = Model(d, dtype=torch.float32)
        for n in (16, 128, 512):
            n = min(n, m.max_len)
            ids = torch.randint(5, 100, (1, n))
            mask = torch.ones(1, n, dtype=torch.long)
            ts = []
            with torch.no_grad():
                for it in range(25 if n <= 128 else 10):
                    t0 = time.perf_counter()
                    forward(m.cfg, m.W, ids, mask)
                    ts.append((time.perf_counter() - t0) * 1e3)
            ts = sorted(ts[2:])
            print("pytorch %4d tokens: p50 %.2f ms  p90 %.2f ms  (threads %d)" %
                  (n, ts[len(ts) // 2], ts[int(len(ts) * 0.9)], threads))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
