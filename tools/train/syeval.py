"""Predictions and metrics of the embedded default classifier, shared by
tools/train/train.py (progress) and tools/classifier/eval.py (the figures).

A prediction per text is a dict as the C CLI's --jsonl mode prints it:
{"heads": {"category": {"label", "score", "scores"}, "jailbreak": {...},
"pii": {"spans": [{"type", "start", "end", "score"}]}}} with *character*
offsets here (eval.py converts the C engine's byte offsets).

PII spans from token tags, by word (the C engine, classifier/clf_spans.c,
uses the same rule): a word is a run of tokens each glued to the one
before it (it starts where that one ends, and the characters on both sides
of the seam are word characters: ASCII letters or digits, or any non-ASCII
character), so "yefimov" = "ye" "##fim" "##ov" is one word and "905-674"
is three. A word takes its first token's tag. B-X starts an entity; I-X
continues an X entity or starts one; O ends it. The span runs from the
first word's start to the last word's end; its score is the lowest first-
token probability in it. An EMAIL_ADDRESS span holding an '@' is widened to
the whole address around it (complete_email).
Entity matching: a predicted entity counts as correct when its type and its
[start, end) equal a gold entity's, the gold span taken with surrounding
whitespace stripped.
"""
import collections

import torch

import sydata
import sytok


def _wordish(c):
    return not c.isascii() or c.isalnum()


def word_firsts(text, starts, ends):
    """per token: True when it starts a word (see above)"""
    out = []
    for i, (s, e) in enumerate(zip(starts, ends)):
        glued = (i > 0 and s == ends[i - 1] and e > s and s > 0 and s < len(text)
                 and _wordish(text[s]) and _wordish(text[s - 1]))
        out.append(not glued)
    return out


_EMAIL_LOCAL = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


def complete_email(text, s, e):
    """an EMAIL_ADDRESS span holding an '@' widened to the whole address
    (as classifier/clf_spans.c): (start, end)"""
    at = text.find("@", s, e)
    if at < 0:
        return s, e
    a, b = at, at + 1
    while a > 0 and text[a - 1] in _EMAIL_LOCAL:
        a -= 1
    while b < len(text) and text[b] in _EMAIL_DOMAIN:
        b += 1
    while b > at + 1 and text[b - 1] in ".-":
        b -= 1
    return (a, b) if a < at and b > at + 1 else (s, e)


def spans_from_tags(labels, probs, starts, ends, text):
    """labels: tag strings per content token; returns [{"type","start","end","score"}]"""
    out, cur = [], None
    for lab, p, s, e, first in zip(labels, probs, starts, ends, word_firsts(text, starts, ends)):
        if not first:
            if cur is not None:
                cur["end"] = max(cur["end"], e)
            continue
        typ = lab[2:] if lab[:2] in ("B-", "I-") else None
        if typ is not None and lab[0] == "I" and cur is not None and cur["type"] == typ:
            cur["end"] = e
            cur["score"] = min(cur["score"], p)
            continue
        if cur is not None:
            out.append(cur)
        cur = {"type": typ, "start": s, "end": e, "score": p} if typ is not None else None
    if cur is not None:
        out.append(cur)
    for x in out:
        if x["type"] == "EMAIL_ADDRESS":
            x["start"], x["end"] = complete_email(text, x["start"], x["end"])
    return out


def viterbi(logp, firsts, trans):
    """tag index per token: the words' first tokens (firsts) get the best
    path of sum(log p) + sum(log transition) (trans [L + 1, L], row L the
    start), the other tokens their argmax; as classifier/clf_spans.c"""
    import numpy as np
    out = [int(k) for k in logp.argmax(1)]
    W = [i for i, f in enumerate(firsts) if f]
    if not W:
        return out
    L = logp.shape[1]
    dp = trans[L] + logp[W[0]]
    bp = []
    for i in W[1:]:
        s = dp[:, None] + trans[:L]
        bp.append(s.argmax(0))
        dp = s.max(0) + logp[i]
    j = int(np.argmax(dp))
    for k in range(len(W) - 1, -1, -1):
        out[W[k]] = j
        if k > 0:
            j = int(bp[k - 1][j])
    return out


def crf_tags(crf, logp, text, starts, ends):
    """tag and score per content token with a word CRF (model.crf: head,
    encoder weight a, sycrf.Model): a word's first token gets the Viterbi
    path of CRF emission + a * encoder log-probability + CRF transition,
    its score the marginal probability of its tag under the CRF; the other
    tokens their encoder argmax and its probability (as
    classifier/clf_spans.c clf_token_tags)"""
    import numpy as np
    _, a, m = crf
    firsts = [f and e > s for f, s, e in zip(word_firsts(text, starts, ends), starts, ends)]
    _, em = m.emissions(text, starts, ends)
    x = a * logp if a else np.zeros_like(logp)
    W = [i for i, f in enumerate(firsts) if f]
    x[W] += em
    k = viterbi(x, firsts, m.transitions)
    k = [j if f else int(logp[t].argmax()) for t, (j, f) in enumerate(zip(k, firsts))]
    probs = [float(np.exp(logp[t, j])) for t, j in enumerate(k)]
    if W:   # a word's score: the marginal probability of its tag (forward-backward)
        tr, e, L = m.transitions, x[W], x.shape[1]
        al, be = np.zeros_like(e), np.zeros_like(e)
        al[0] = tr[L] + e[0]
        for w in range(1, len(W)):
            al[w] = np.logaddexp.reduce(al[w - 1][:, None] + tr[:L], axis=0) + e[w]
        for w in range(len(W) - 2, -1, -1):
            be[w] = np.logaddexp.reduce(tr[:L] + (e[w + 1] + be[w + 1])[None, :], axis=1)
        Z = np.logaddexp.reduce(al[-1])
        for w, t in enumerate(W):
            probs[t] = float(np.exp(al[w, k[t]] + be[w, k[t]] - Z))
    return k, probs


def torch_predict(model, tok, texts, max_len=512, batch=32):
    """predictions (see above) of a symodel.Model over texts"""
    heads = model.cfg["switchyard_heads"]
    preds = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    model.eval()
    with torch.no_grad():
        for b in range(0, len(order), batch):
            idx = order[b:b + batch]
            enc = [tok.encode_model(texts[i], max_len) for i in idx]
            T = max(len(e[0]) for e in enc)
            ids = torch.tensor([e[0] + [tok.pad] * (T - len(e[0])) for e in enc])
            mask = torch.tensor([[1] * len(e[0]) + [0] * (T - len(e[0])) for e in enc])
            types = None
            if model.cfg.get("switchyard_token_types") == "case":
                types = torch.tensor([sytok.case_types(texts[i], e[1], e[2]) + [0] * (T - len(e[0]))
                                      for i, e in zip(idx, enc)])
            x = model.encode(ids, mask, types=types)
            outs = {}
            for h in heads:
                lg = model.head(h["name"], x, mask)
                if model.lexical is not None and model.lexical[0] == h["name"]:
                    lp = torch.tensor(model.lexical[2].logprobs([texts[i] for i in idx]), dtype=lg.dtype)
                    lg = torch.log_softmax(lg, -1) + model.lexical[1] * lp
                outs[h["name"]] = torch.softmax(lg, -1)
            for j, i in enumerate(idx):
                r = {}
                for h in heads:
                    P = outs[h["name"]][j]
                    if h["kind"] == "sequence":
                        k = int(P.argmax())
                        r[h["name"]] = {"label": h["labels"][k], "score": float(P[k]), "scores": P.tolist()}
                    else:
                        n = len(enc[j][0])
                        st, en = enc[j][1][1:n - 1], enc[j][2][1:n - 1]
                        Pj = P[1:n - 1]
                        tr = model.transitions.get(h["name"])
                        if model.crf is not None and model.crf[0] == h["name"]:
                            k, probs = crf_tags(model.crf, torch.log(Pj).double().numpy(), texts[i], st, en)
                            labs = [h["labels"][x] for x in k]
                            r[h["name"]] = {"spans": spans_from_tags(labs, probs, st, en, texts[i])}
                            continue
                        if tr is not None:
                            k = viterbi(torch.log(Pj).double().numpy(), word_firsts(texts[i], st, en),
                                        tr.double().numpy())
                        else:
                            k = Pj.argmax(-1).tolist()
                        labs = [h["labels"][x] for x in k]
                        probs = [float(Pj[t, x]) for t, x in enumerate(k)]
                        r[h["name"]] = {"spans": spans_from_tags(labs, probs, st, en, texts[i])}
                preds[i] = {"heads": r, "tokens": len(enc[j][0])}
    return preds


LEXICAL_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def category_parts(model_dir, rows, weights=LEXICAL_WEIGHTS):
    """the category head's two experts apart (a model directory with
    switchyard_lexical): (encoder accuracy, lexical accuracy, [(weight,
    accuracy of the product)]) on rows"""
    import numpy as np
    import symodel
    model = symodel.load_dir(model_dir)
    lex = model.lexical[2]
    model.lexical = None
    tok = sytok.Tokenizer(model_dir + "/vocab.txt")
    texts = [r["text"] for r in rows]
    P = np.array([p["heads"]["category"]["scores"] for p in torch_predict(model, tok, texts)])
    L = lex.logprobs(texts)
    y = np.array([sydata.CATEGORIES.index(r["category"]) for r in rows])
    return ((P.argmax(1) == y).mean(), (L.argmax(1) == y).mean(),
            [(w, ((np.log(P + 1e-12) + w * L).argmax(1) == y).mean()) for w in weights])


CRF_ENCODER_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)


def crf_parts(model_dir, rows, weights=CRF_ENCODER_WEIGHTS):
    """PII metrics on rows of a model directory with switchyard_token_crf for
    a grid of encoder weights, and of the encoder alone (weight None):
    [(weight, pii_metrics)]"""
    import symodel
    model = symodel.load_dir(model_dir)
    tok = sytok.Tokenizer(model_dir + "/vocab.txt")
    texts = [r["text"] for r in rows]
    crf, out = model.crf, []
    model.crf = None
    out.append((None, pii_metrics(rows, torch_predict(model, tok, texts))))
    for w in weights:
        model.crf = (crf[0], w, crf[2])
        out.append((w, pii_metrics(rows, torch_predict(model, tok, texts))))
    return out


def category_metrics(rows, preds):
    labels = sydata.CATEGORIES
    conf = collections.Counter()
    ok = 0
    for r, p in zip(rows, preds):
        y, g = r["category"], p["heads"]["category"]["label"]
        conf[(y, g)] += 1
        ok += y == g
    per = {}
    for c in labels:
        n = sum(v for (y, _), v in conf.items() if y == c)
        per[c] = (conf[(c, c)] / n if n else float("nan"), n)
    return {"accuracy": ok / max(1, len(rows)), "n": len(rows), "per_class": per, "confusion": conf}


def jailbreak_metrics(rows, preds, threshold=0.5):
    tp = fn = fp = tn = 0
    for r, p in zip(rows, preds):
        h = p["heads"]["jailbreak"]
        s = h["scores"][1] if "scores" in h else (h["score"] if h["label"] == "jailbreak" else 1 - h["score"])
        if r["label"] == "jailbreak":
            tp += s >= threshold
            fn += s < threshold
        else:
            fp += s >= threshold
            tn += s < threshold
    return {"recall": tp / max(1, tp + fn), "fpr": fp / max(1, fp + tn), "threshold": threshold,
            "jailbreak": tp + fn, "benign": fp + tn, "tp": tp, "fp": fp}


def jailbreak_score(p):
    h = p["heads"]["jailbreak"]
    return h["scores"][1] if "scores" in h else (h["score"] if h["label"] == "jailbreak" else 1 - h["score"])


def gold_spans(r):
    out = set()
    for s in r["spans"]:
        a, b = s["start"], s["end"]
        t = r["text"]
        while a < b and t[a].isspace():
            a += 1
        while b > a and t[b - 1].isspace():
            b -= 1
        if b > a:
            out.add((s["type"], a, b))
    return out


def pii_metrics(rows, preds):
    tp, fp, fn = collections.Counter(), collections.Counter(), collections.Counter()
    op = og = npred = 0   # overlap matching: predictions / gold entities touched by one of the same type
    for r, p in zip(rows, preds):
        g = gold_spans(r)
        q = {(s["type"], s["start"], s["end"]) for s in p["heads"]["pii"]["spans"]}
        for x in q:
            (tp if x in g else fp)[x[0]] += 1
        for x in g - q:
            fn[x[0]] += 1
        npred += len(q)
        op += sum(any(y[0] == x[0] and y[1] < x[2] and x[1] < y[2] for y in g) for x in q)
        og += sum(any(y[0] == x[0] and y[1] < x[2] and x[1] < y[2] for y in q) for x in g)

    def prf(a, b, c):
        pr = a / (a + b) if a + b else 0.0
        rc = a / (a + c) if a + c else 0.0
        return pr, rc, (2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    per = {t: prf(tp[t], fp[t], fn[t]) + (tp[t] + fn[t],) for t in sorted(set(tp) | set(fp) | set(fn))}
    P, R, F = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    ng = sum(tp.values()) + sum(fn.values())
    oP, oR = op / max(1, npred), og / max(1, ng)
    return {"precision": P, "recall": R, "f1": F, "per_type": per, "entities": ng,
            "overlap": (oP, oR, 2 * oP * oR / (oP + oR) if oP + oR else 0.0)}
