"""BERT tokenization with character offsets, and the WordPiece vocabulary
learner of the embedded default classifier (tools/train).

The tokenization is the one the C engine runs for a `vocab.txt` +
`tokenizer_config.json` (do_lower_case) model, i.e. Hugging Face's
BertNormalizer (clean text, CJK spacing, NFD + drop Mn, lower case),
BertPreTokenizer (split on White_Space, each punctuation character alone)
and greedy longest-match WordPiece with `##` continuations and [UNK] for a
word that cannot be covered. tools/classifier/ref.py is the oracle both are
checked against (`train.py check-tokenizer`); this one also gives each
token's span in the original text (character offsets, end exclusive).

The vocabulary learner is BPE over word counts in WordPiece's notation (a
continuation symbol is `##x`), as Hugging Face's WordPieceTrainer does; the
learned tokens are then used by greedy longest match.
"""
import collections
import heapq
import os
import re
import sys
import unicodedata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "classifier"))
import ref  # noqa: E402

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_SPECIAL_RE = re.compile("|".join(re.escape(t) for t in sorted(SPECIALS, key=len, reverse=True)))


def normalize_with_map(text):
    """BertNormalizer(lowercase) char by char: (normalized str, list of the
    original index of each normalized character)"""
    out, idx = [], []
    for i, c in enumerate(text):
        if c in "\t\n\r" or ref.is_white_space(c):
            piece = " "
        elif ord(c) == 0 or ord(c) == 0xFFFD or ref.is_other(c):
            continue
        elif ref.is_cjk(ord(c)):
            piece = " " + c + " "
        else:
            piece = c
        if not piece.isascii():
            piece = "".join(x for x in unicodedata.normalize("NFD", piece) if unicodedata.category(x) != "Mn")
        piece = "".join(x.lower() for x in piece)
        for x in piece:
            out.append(x)
            idx.append(i)
    return "".join(out), idx


def pretokenize_spans(s):
    """BertPreTokenizer: list of (start, end) in s"""
    words, start = [], -1
    for i, c in enumerate(s):
        if ref.is_white_space(c):
            if start >= 0:
                words.append((start, i))
                start = -1
        elif ref.is_bert_punct(c):
            if start >= 0:
                words.append((start, i))
                start = -1
            words.append((i, i + 1))
        elif start < 0:
            start = i
    if start >= 0:
        words.append((start, len(s)))
    return words


def _is_upper(c):
    """the engine's upper-case test (classifier/clf_tokenizer.c): ASCII A-Z,
    Latin-1 U+00C0-U+00DE but U+00D7, even code points of Latin
    Extended-A U+0100-U+017F"""
    o = ord(c)
    return 65 <= o <= 90 or (0xC0 <= o <= 0xDE and o != 0xD7) or (0x100 <= o <= 0x17F and o % 2 == 0)


def _is_lower(c):
    o = ord(c)
    return 97 <= o <= 122 or (0xDF <= o <= 0xFF and o != 0xF7) or (0x100 <= o <= 0x17F and o % 2 == 1)


CASE_TYPES = 3


def case_type(piece):
    """token type of a token from its original characters ("case" token
    types): 2 when it has two or more letters, all upper case ("NASA",
    "##CH"); 1 when its first character is an upper-case letter ("Lang",
    "D"); else 0 (lower case, digits, punctuation, the specials)"""
    if not piece or not _is_upper(piece[0]):
        return 0
    letters = [c for c in piece if _is_upper(c) or _is_lower(c)]
    if len(letters) >= 2 and all(_is_upper(c) for c in letters):
        return 2
    return 1


def case_types(text, starts, ends):
    return [case_type(text[a:b]) if b > a else 0 for a, b in zip(starts, ends)]


def words_of(text):
    s, _ = normalize_with_map(text)
    return [s[a:b] for a, b in pretokenize_spans(s)]


class Tokenizer:
    def __init__(self, vocab):
        """vocab: list of tokens (id = index) or a path to vocab.txt"""
        if isinstance(vocab, str):
            with open(vocab, encoding="utf-8") as f:
                vocab = f.read().split("\n")
            if vocab and vocab[-1] == "":
                vocab.pop()
        self.itos = list(vocab)
        self.vocab = {t: i for i, t in enumerate(self.itos)}
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self.pad = self.vocab["[PAD]"]
        self.mask = self.vocab["[MASK]"]
        self._cache = {}

    def _wordpiece(self, word):
        """list of (id, start, end) within the word"""
        r = self._cache.get(word)
        if r is not None:
            return r
        if len(word) > 100:
            r = [(self.unk, 0, len(word))]
        else:
            r, start = [], 0
            while start < len(word):
                end, cur = len(word), None
                while start < end:
                    sub = word[start:end]
                    if start > 0:
                        sub = "##" + sub
                    cur = self.vocab.get(sub)
                    if cur is not None:
                        break
                    end -= 1
                if cur is None:
                    r = [(self.unk, 0, len(word))]
                    break
                r.append((cur, start, end))
                start = end
        if len(self._cache) < 500000:
            self._cache[word] = r
        return r

    def encode(self, text):
        """content tokens, no [CLS]/[SEP] added: (ids, starts, ends),
        character offsets into text. The special tokens written literally
        in the text ("[SEP]", exact case) are those tokens, as Hugging
        Face's and the C engine's added tokens (not normalized)."""
        ids, st, en = [], [], []
        last = 0
        for mt in _SPECIAL_RE.finditer(text):
            self._encode_plain(text, last, mt.start(), ids, st, en)
            ids.append(self.vocab[mt.group(0)])
            st.append(mt.start())
            en.append(mt.end())
            last = mt.end()
        self._encode_plain(text, last, len(text), ids, st, en)
        return ids, st, en

    def _encode_plain(self, text, lo, hi, ids, st, en):
        if lo >= hi:
            return
        s, m = normalize_with_map(text[lo:hi])
        for a, b in pretokenize_spans(s):
            for tid, x, y in self._wordpiece(s[a:b]):
                ids.append(tid)
                st.append(lo + m[a + x])
                en.append(lo + m[a + y - 1] + 1)

    def encode_model(self, text, max_len, policy="head_tail"):
        """what the engine reads: [CLS] content [SEP], the content truncated
        as the C pipeline does (head_tail keeps ceil(b/2) + floor(b/2));
        offsets of the specials are (0, 0)"""
        ids, st, en = self.encode(text)
        budget = max_len - 2
        if len(ids) > budget:
            if policy == "head":
                keep = list(range(budget))
            else:
                h, t = (budget + 1) // 2, budget // 2
                keep = list(range(h)) + list(range(len(ids) - t, len(ids)))
            ids = [ids[i] for i in keep]
            st = [st[i] for i in keep]
            en = [en[i] for i in keep]
        return [self.cls] + ids + [self.sep], [0] + st + [0], [0] + en + [0]


def learn_vocab(texts, size, min_char_count=2, min_pair_count=2, log=None):
    """WordPiece vocabulary of at most `size` tokens learned from texts by
    BPE merges (WordPieceTrainer-style). Returns the token list, specials
    first ([PAD] = 0)."""
    counts = collections.Counter()
    for t in texts:
        counts.update(words_of(t))
    chars = collections.Counter()
    for w, n in counts.items():
        for c in w:
            chars[c] += n
    alphabet = sorted(c for c, n in chars.items() if n >= min_char_count)
    aset = set(alphabet)
    vocab = list(SPECIALS)
    seen = set(vocab)

    def add(t):
        if t not in seen:
            seen.add(t)
            vocab.append(t)
    for c in alphabet:
        add(c)
    for c in alphabet:
        if not ref.is_bert_punct(c) and not ref.is_cjk(ord(c)):
            add("##" + c)
    words, freqs = [], []
    for w, n in counts.items():
        if len(w) < 2 or len(w) > 100 or any(c not in aset for c in w):
            continue
        words.append([w[0]] + ["##" + c for c in w[1:]])
        freqs.append(n)
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for wi, sy in enumerate(words):
        for a, b in zip(sy, sy[1:]):
            pairs[(a, b)] += freqs[wi]
            where[(a, b)].add(wi)
    heap = [(-n, p) for p, n in pairs.items()]
    heapq.heapify(heap)
    while len(vocab) < size and heap:
        negn, p = heapq.heappop(heap)
        if pairs.get(p, 0) != -negn:
            continue
        if -negn < min_pair_count:
            break
        a, b = p
        new = a + b[2:]
        add(new)
        touched = collections.Counter()
        for wi in list(where.pop(p, ())):
            sy, f = words[wi], freqs[wi]
            for x, y in zip(sy, sy[1:]):
                pairs[(x, y)] -= f
                touched[(x, y)] += 0
            out, i = [], 0
            while i < len(sy):
                if i + 1 < len(sy) and sy[i] == a and sy[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(sy[i])
                    i += 1
            words[wi] = out
            for x, y in zip(out, out[1:]):
                pairs[(x, y)] += f
                where[(x, y)].add(wi)
                touched[(x, y)] += 0
        pairs.pop(p, None)
        for q in touched:
            n = pairs.get(q, 0)
            if n > 0:
                heapq.heappush(heap, (-n, q))
            else:
                pairs.pop(q, None)
        if log and len(vocab) % 2000 == 0:
            log("vocab %d tokens" % len(vocab))
    return vocab
