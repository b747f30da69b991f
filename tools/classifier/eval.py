#!/usr/bin/python3
"""Evaluates switchyard's multi-head classifier model (models/default) on the
held-out data: category accuracy on category/dev.jsonl (per class and the
most frequent confusions), jailbreak recall and false-positive rate on the
held-out jailbreak split (and on the held-out PII texts, benign prompts
carrying personal data), PII entity precision/recall/F1 per type on the
held-out PII split. The splits are tools/train/sydata.py's, the ones
tools/train/train.py never trains on. Prints figures; exits 0.

    eval.py --data DATA_DIR [--model models/default] [--engine torch|c]
            [--cli BUILD/classifier/switchyard-classify] [--threshold 0.5] [--limit N]
    eval.py --pii-prompts tools/classifier/pii_prompts.jsonl [--engine c ...]

--engine torch: the PyTorch forward of tools/train/symodel.py over the shipped
files, tokenized by tools/train/sytok.py (BERT tokenization, as the C engine).
--engine c: the C engine, through `switchyard-classify --jsonl MODEL_DIR`
(one {"text"} per line in, one {"heads": ...} per line out, byte offsets,
converted here to characters).
Matching rules: see tools/train/syeval.py (exact type + exact span, gold
span stripped of surrounding whitespace).
"""
import argparse
import json
import os
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "train"))
import sydata  # noqa: E402
import syeval  # noqa: E402


def torch_engine(model_dir, threads):
    import torch
    import symodel
    import sytok
    torch.set_num_threads(threads)
    model = symodel.load_dir(model_dir)
    tok = sytok.Tokenizer(os.path.join(model_dir, "vocab.txt"))
    return lambda texts: syeval.torch_predict(model, tok, texts)


def byte_to_char(text):
    """byte offset -> character offset table for a UTF-8 text"""
    m = []
    for i, c in enumerate(text):
        m += [i] * len(c.encode("utf-8"))
    m.append(len(text))
    return m


def c_engine(model_dir, cli, threads):
    if not cli:
        for b in (os.path.join(here, "..", "..", "build"), "build"):
            p = os.path.join(b, "classifier", "switchyard-classify")
            if os.path.exists(p):
                cli = p
                break
    if not cli or not os.path.exists(cli):
        sys.exit("eval.py: switchyard-classify not found (give --cli)")
    helptext = subprocess.run([cli, "--help"], capture_output=True, text=True).stdout
    if "--jsonl" not in helptext:
        sys.exit("eval.py: %s has no --jsonl mode yet: use --engine torch" % cli)

    def run(texts):
        inp = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
        p = subprocess.run([cli, "--model", model_dir, "--jsonl", "-t", str(threads)], input=inp.encode("utf-8"),
                           capture_output=True, env=env)
        if p.returncode != 0:
            sys.exit("eval.py: %s failed (%d): %s" % (cli, p.returncode, p.stderr.decode(errors="replace")[-2000:]))
        lines = [ln for ln in p.stdout.decode("utf-8").split("\n") if ln.strip()]
        if len(lines) != len(texts):
            sys.exit("eval.py: %d texts in, %d lines out" % (len(texts), len(lines)))
        out = []
        for t, ln in zip(texts, lines):
            r = json.loads(ln)
            if "error" in r:
                sys.exit("eval.py: the engine failed on %r: %s" % (t[:80], r["error"]))
            pii = r.get("heads", {}).get("pii")
            if pii is not None:
                m = byte_to_char(t)
                for s in pii.get("spans", []):
                    s["start"], s["end"] = m[s["start"]], m[s["end"]]
            out.append(r)
        return out
    return run


def compare(a):
    """both engines on the same texts: token counts, sequence scores, spans"""
    texts = []
    for task in ("category", "jailbreak", "pii"):
        texts += [r["text"] for r in sydata.load(a.data, task, "heldout")[:a.compare]]
    pt = torch_engine(a.model, a.threads)(texts)
    pc = c_engine(a.model, a.cli, a.threads)(texts)
    ntok = nlab = nspan = 0
    worst = wspan = 0.0
    for t, x, y in zip(texts, pt, pc):
        ntok += x["tokens"] != y["tokens"]
        for name, hx in x["heads"].items():
            hy = y["heads"][name]
            if "scores" in hx:
                worst = max(worst, max(abs(u - v) for u, v in zip(hx["scores"], hy["scores"])))
                nlab += hx["label"] != hy["label"]
            else:
                sx = [(s["type"], s["start"], s["end"]) for s in hx["spans"]]
                sy = [(s["type"], s["start"], s["end"]) for s in hy["spans"]]
                if sx == sy:
                    wspan = max([wspan] + [abs(u["score"] - v["score"]) for u, v in zip(hx["spans"], hy["spans"])])
                else:
                    nspan += 1
                    if nspan <= 5:
                        d = sorted(set(sx) ^ set(sy))
                        print("spans differ: %r (%d vs %d spans): first differences %s" % (t[:80], len(sx), len(sy),
                                                                                            d[:4]))
    print("%d texts: token counts differ in %d, labels differ in %d, PII spans differ in %d; "
          "largest score difference %.2e (sequence heads), %.2e (PII spans)" % (len(texts), ntok, nlab, nspan, worst,
                                                                                 wspan))
    return 1 if ntok or nlab or nspan else 0


def pii_prompts(a):
    """the expected entities of each prompt against the spans scored >= 0.5"""
    rows = sydata.read_jsonl(a.pii_prompts)
    predict = torch_engine(a.model, a.threads) if a.engine == "torch" else c_engine(a.model, a.cli, a.threads)
    right = found = total = other = 0
    for r, p in zip(rows, predict([r["text"] for r in rows])):
        t = r["text"]
        want = {tuple(e) for e in r["entities"]}
        got = {(x["type"], t[x["start"]:x["end"]]) for x in p["heads"]["pii"]["spans"] if x["score"] >= 0.5}
        right += want == got
        found += len(want & got)
        total += len(want)
        other += len(got - want)
        if want != got:
            print("  %r: missing %s, other %s" % (t[:60], sorted(want - got), sorted(got - want)))
    print("%d of %d prompts exactly right; %d of %d expected entities found, %d other spans (score >= 0.5)" % (
        right, len(rows), found, total, other))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", metavar="DATA_DIR",
                    help="a data directory of your own: category/, jailbreak/, pii/ (tools/train/README.md)")
    ap.add_argument("--model", default=os.path.join(here, "..", "..", "models", "default"))
    ap.add_argument("--engine", choices=["torch", "c"], default="torch")
    ap.add_argument("--cli")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.5, help="jailbreak score threshold")
    ap.add_argument("--limit", type=int, default=0, help="at most N rows per task (quick look)")
    ap.add_argument("--category-parts", action="store_true",
                    help="instead: category accuracy of the encoder and the lexical expert apart, and of their "
                         "product at several weights (PyTorch engine)")
    ap.add_argument("--compare", type=int, default=0, metavar="N",
                    help="instead: run both engines on N held-out texts of each task and print their differences")
    ap.add_argument("--pii-prompts", metavar="FILE",
                    help="instead: the PII spans scored >= 0.5 on hand-written prompts ({\"text\", \"entities\": "
                         "[[type, substring]]} per line, e.g. tools/classifier/pii_prompts.jsonl) against the "
                         "expected ones (no --data needed)")
    a = ap.parse_args()
    if a.pii_prompts:
        return pii_prompts(a)
    if not a.data:
        ap.error("--data is required")
    if a.compare:
        return compare(a)
    if a.category_parts:
        rows = sydata.load(a.data, "category", "heldout")
        enc, lex, grid = syeval.category_parts(a.model, rows[:a.limit] if a.limit else rows)
        print("category (category/dev.jsonl, %d rows): encoder alone %.4f, lexical alone %.4f" % (
            len(rows), enc, lex))
        for w, acc in grid:
            print("  product at weight %.2f: %.4f" % (w, acc))
        return 0
    predict = torch_engine(a.model, a.threads) if a.engine == "torch" else c_engine(a.model, a.cli, a.threads)

    def rows_of(task):
        r = sydata.load(a.data, task, "heldout")
        return r[:a.limit] if a.limit else r

    print("model %s, engine %s" % (os.path.normpath(a.model), a.engine))
    t0 = time.time()
    rows = rows_of("category")
    cm = syeval.category_metrics(rows, predict([r["text"] for r in rows]))
    print("\ncategory (category/dev.jsonl, %d rows): accuracy %.4f" % (cm["n"], cm["accuracy"]))
    for c, (acc, n) in cm["per_class"].items():
        print("  %-18s %.3f  (%d)" % (c, acc, n))
    conf = sorted(((v, y, g) for (y, g), v in cm["confusion"].items() if y != g), reverse=True)[:10]
    print("  most frequent confusions (gold -> predicted):")
    for v, y, g in conf:
        print("    %-18s -> %-18s %d" % (y, g, v))

    rows = rows_of("jailbreak")
    preds = predict([r["text"] for r in rows])
    jm = syeval.jailbreak_metrics(rows, preds, a.threshold)
    print("\njailbreak (held-out %d%% of jailbreak/train.jsonl: %d jailbreak, %d benign), threshold %.2f:"
          % (sydata.HOLDOUT_PERCENT["jailbreak"], jm["jailbreak"], jm["benign"], a.threshold))
    print("  recall %.4f (%d/%d)  false-positive rate %.4f (%d/%d)" % (
        jm["recall"], jm["tp"], jm["jailbreak"], jm["fpr"], jm["fp"], jm["benign"]))
    for th in (0.3, 0.5, 0.7, 0.9):
        m = syeval.jailbreak_metrics(rows, preds, th)
        print("    at %.1f: recall %.4f  fpr %.4f" % (th, m["recall"], m["fpr"]))

    rows = rows_of("pii")
    preds = predict([r["text"] for r in rows])
    fp = sum(syeval.jailbreak_score(p) >= a.threshold for p in preds)
    print("  benign prompts with personal data (the %d held-out PII texts) scored jailbreak: %d (%.2f%%)" % (
        len(rows), fp, 100.0 * fp / max(1, len(rows))))
    pm = syeval.pii_metrics(rows, preds)
    print("\npii (held-out %d%% of pii/train.jsonl: %d rows, %d entities), exact type + span:" % (
        sydata.HOLDOUT_PERCENT["pii"], len(rows), pm["entities"]))
    print("  overall precision %.4f recall %.4f F1 %.4f" % (pm["precision"], pm["recall"], pm["f1"]))
    print("  (overlap matching, same type: precision %.4f recall %.4f F1 %.4f)" % pm["overlap"])
    for th in (0.5, 0.7):   # spans the classifier process keeps at pii_threshold th (0.5: its default)
        kept = [{"heads": {"pii": {"spans": [x for x in p["heads"]["pii"]["spans"] if x["score"] >= th]}}}
                for p in preds]
        m = syeval.pii_metrics(rows, kept)
        print("  spans scored >= %.1f only (pii_threshold %.1f): precision %.4f recall %.4f F1 %.4f" % (
            th, th, m["precision"], m["recall"], m["f1"]))
    for t, (p, r, f, n) in sorted(pm["per_type"].items(), key=lambda kv: -kv[1][3]):
        print("  %-18s P %.3f R %.3f F1 %.3f  (%d gold)" % (t, p, r, f, n))
    print("\n(%.0f s)" % (time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
