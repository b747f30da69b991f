#!/usr/bin/python3
"""Per-head, per-kind figures for a switchyard classifier model on the dev
sets of tools/classifier/devsets/ (or any folder of JSONL rows of the same
shape), through the C engine (`switchyard-classify --jsonl MODEL_DIR`):

- category: accuracy per kind and overall, a confusion matrix (gold rows,
  predicted columns) over all category rows;
- jailbreak: recall per attack kind (and per `attack` sub-kind), the rate
  flagged per benign kind (false-positive rate) at --jb-threshold; every
  category and PII row counts as benign too;
- PII: exact type + span precision/recall/F1 overall and per type for
  spans scored >= --pii-threshold, and the rate at which an entity of each
  expected type is found at all (per prompt and type).

Rows: {"kind", "text" | "messages", "label"} (category / jailbreak files:
the file name says the head) or {"kind", "text", "entities": [{"type",
"start", "end"}]} (character offsets) for pii*.jsonl.

Conversations ("messages") are fed as the frontend does
(frontend/stage_classify.c, classify_prompt_text): the last --turns user
messages, newest first, joined by "\\n" (default 1: the last user turn only,
the frontend's classify_turns default; 0: every user turn, what
include_history does for the guards). System and assistant turns are never
read.

    evaluate.py [--devsets DIR] [--model DIR] [--cli PATH] [--turns N]
                [--jb-threshold 0.7] [--pii-threshold 0.5] [--calibrate FPR]
                [--json OUT]

--calibrate FPR: also prints the lowest jailbreak threshold whose rate
flagged on all benign rows is <= FPR (and the recall per attack kind at it),
and the PII threshold with the best exact F1. Both are chosen on dev sets:
report them as such, never as test figures. Exits 0 (1 on a malformed row).
"""
import argparse
import collections
import glob
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))


def classify(cli, model, threads, texts):
    """one {"heads": ...} per text from `switchyard-classify --jsonl` (PII offsets: bytes, made characters here;
    eval.py's c_engine does the same but needs PyTorch to import)"""
    if not cli:
        cli = os.path.join(here, "..", "..", "build", "classifier", "switchyard-classify")
    if not os.path.exists(cli):
        sys.exit("evaluate.py: %s not found (build it, or give --cli)" % cli)
    data = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts).encode("utf-8")
    p = subprocess.run([cli, "--jsonl", "-t", str(threads), model], input=data, capture_output=True,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS=str(threads)))
    lines = p.stdout.decode("utf-8").splitlines()
    if p.returncode != 0 or len(lines) != len(texts):
        sys.exit("evaluate.py: %s exited %d with %d lines for %d texts: %s" % (
            cli, p.returncode, len(lines), len(texts), p.stderr.decode(errors="replace")[-1500:]))
    out = []
    for t, ln in zip(texts, lines):
        r = json.loads(ln)
        if "error" in r:
            sys.exit("evaluate.py: the engine failed on %r: %s" % (t[:80], r["error"]))
        ch = [i for i, c in enumerate(t) for _ in c.encode("utf-8")] + [len(t)]
        for s in r.get("heads", {}).get("pii", {}).get("spans", []):
            s["start"], s["end"] = ch[s["start"]], ch[s["end"]]
        out.append(r)
    return out


def prompt_text(row, turns):
    """the text the frontend classifies for this row (see the docstring)"""
    if "text" in row:
        return row["text"]
    users = []
    for m in row["messages"]:
        if m.get("role") != "user":
            continue
        c = m.get("content")
        if isinstance(c, list):
            c = "\n".join(p.get("text", "") if isinstance(p, dict) else p for p in c
                          if isinstance(p, str) or p.get("type") in ("text", "input_text"))
        if c:
            users.append(c)
    n = len(users) if turns == 0 else min(turns, len(users))
    return "\n".join(reversed(users[len(users) - n:]))


def read_rows(devsets):
    rows = []
    for path in sorted(glob.glob(os.path.join(devsets, "*.jsonl"))):
        head = os.path.basename(path).split(".")[0].split("_")[0]
        if head not in ("category", "jailbreak", "pii"):
            continue
        for i, ln in enumerate(open(path, encoding="utf-8")):
            if not ln.strip():
                continue
            r = json.loads(ln)
            r["head"] = head
            ok = "kind" in r and ("text" in r or "messages" in r) and (
                "entities" in r if head == "pii" else "label" in r)
            if not ok:
                sys.exit("evaluate.py: %s:%d: a row needs kind, text or messages, and %s" % (
                    path, i + 1, "entities" if head == "pii" else "label"))
            rows.append(r)
    return rows


def pct(a, b):
    return "%5.1f %%" % (100.0 * a / b) if b else "    -  "


def jailbreak_figures(rows, preds, th, out):
    attack = collections.defaultdict(lambda: [0, 0])
    benign = collections.defaultdict(lambda: [0, 0])
    for r, p in zip(rows, preds):
        s = p["heads"]["jailbreak"]["scores"][p["jb_index"]]
        is_attack = r["head"] == "jailbreak" and r["label"] == "jailbreak"
        key = r["kind"] if r["head"] == "jailbreak" else "%s:%s" % (r["head"], r["kind"])
        d = attack if is_attack else benign
        for k in [key] + (["%s/%s" % (key, r["attack"])] if is_attack and "attack" in r else []):
            d[k][0] += s >= th
            d[k][1] += 1
    print("\njailbreak at threshold %.3f: recall per attack kind" % th)
    for k in sorted(attack):
        print("  %-34s %s  (%d of %d)" % (k, pct(*attack[k]), attack[k][0], attack[k][1]))
    print("jailbreak: flagged per benign kind (false-positive rate)")
    for k in sorted(benign):
        print("  %-34s %s  (%d of %d)" % (k, pct(*benign[k]), benign[k][0], benign[k][1]))
    tb = [sum(v[i] for v in benign.values()) for i in (0, 1)]
    ta = [sum(v[i] for k, v in attack.items() if "/" not in k) for i in (0, 1)]
    print("  %-34s %s  (%d of %d); all attacks recall %s" % ("all benign rows", pct(*tb), tb[0], tb[1], pct(*ta)))
    out["jailbreak"] = {"threshold": th, "recall": {k: v[0] / v[1] for k, v in attack.items()},
                        "flagged": {k: v[0] / v[1] for k, v in benign.items()}}


def calibrate_jailbreak(rows, preds, fpr):
    ben, att = [], collections.defaultdict(list)
    for r, p in zip(rows, preds):
        s = p["heads"]["jailbreak"]["scores"][p["jb_index"]]
        if r["head"] == "jailbreak" and r["label"] == "jailbreak":
            for k in [r["kind"]] + (["%s/%s" % (r["kind"], r["attack"])] if "attack" in r else []):
                att[k].append(s)
        else:
            ben.append(s)
    ben.sort(reverse=True)
    allowed = int(fpr * len(ben))  # benign rows that may score at or over the threshold
    # the lowest threshold flagging at most `allowed` benign rows: just over the (allowed+1)-th highest score
    th = min(1.0, ben[allowed] + 1e-6) if allowed < len(ben) else 0.0
    flagged = sum(s >= th for s in ben)
    print("\ncalibrated jailbreak threshold for <= %.1f %% of %d benign rows flagged: %.6f (flags %d, %s)" % (
        100 * fpr, len(ben), th, flagged, pct(flagged, len(ben)).strip()))
    for k in sorted(att):
        print("  recall at it, %-20s %s" % (k, pct(sum(s >= th for s in att[k]), len(att[k]))))
    return th


def pii_spans(p, th):
    return {(s["type"], s["start"], s["end"]) for s in p["heads"]["pii"]["spans"] if s["score"] >= th}


def pii_counts(rows, preds, th):
    tp, fp, fn = collections.Counter(), collections.Counter(), collections.Counter()
    found = collections.defaultdict(lambda: [0, 0])
    for r, p in zip(rows, preds):
        t = r["text"]
        gold = set()
        for e in r["entities"]:
            s, x = e["start"], e["end"]
            while s < x and t[s].isspace():
                s += 1
            while x > s and t[x - 1].isspace():
                x -= 1
            gold.add((e["type"], s, x))
        got = pii_spans(p, th)
        for g in gold:
            (tp if g in got else fn)[g[0]] += 1
        for g in got - gold:
            fp[g[0]] += 1
        for ty in {g[0] for g in gold}:
            found[ty][0] += any(g[0] == ty for g in got)
            found[ty][1] += 1
    return tp, fp, fn, found


def f1(tp, fp, fn):
    pr = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    return pr, rc, (2 * pr * rc / (pr + rc) if pr + rc else 0.0)


def pii_figures(rows, preds, th, out):
    tp, fp, fn, found = pii_counts(rows, preds, th)
    T = (sum(tp.values()), sum(fp.values()), sum(fn.values()))
    pr, rc, f = f1(*T)
    print("\nPII (%d prompts), spans scored >= %.3f, exact type + span:" % (len(rows), th))
    print("  %-18s %6s %6s %6s  %5s %5s %5s  %s" % ("type", "prec", "recall", "F1", "tp", "fp", "fn",
                                                    "expected type found"))
    print("  %-18s %6.3f %6.3f %6.3f  %5d %5d %5d  %s" % ("all", pr, rc, f, T[0], T[1], T[2], pct(
        sum(v[0] for v in found.values()), sum(v[1] for v in found.values()))))
    per = {}
    for ty in sorted(set(tp) | set(fp) | set(fn)):
        p_, r_, f_ = f1(tp[ty], fp[ty], fn[ty])
        per[ty] = f_
        print("  %-18s %6.3f %6.3f %6.3f  %5d %5d %5d  %s" % (ty, p_, r_, f_, tp[ty], fp[ty], fn[ty],
                                                            pct(*found[ty]) if ty in found else ""))
    out["pii"] = {"threshold": th, "tp": T[0], "fp": T[1], "fn": T[2], "precision": pr, "recall": rc, "f1": f, "f1_per_type": per,
                  "found_rate": sum(v[0] for v in found.values()) / max(1, sum(v[1] for v in found.values()))}


def category_figures(rows, preds, out):
    labels = preds[0]["cat_labels"] if preds else []
    per = collections.defaultdict(lambda: [0, 0])
    conf = collections.Counter()
    for r, p in zip(rows, preds):
        got = p["heads"]["category"]["label"]
        per[r["kind"]][0] += got == r["label"]
        per[r["kind"]][1] += 1
        conf[(r["label"], got)] += 1
    print("\ncategory accuracy per kind")
    for k in sorted(per):
        print("  %-34s %s  (%d of %d)" % (k, pct(*per[k]), per[k][0], per[k][1]))
    tot = [sum(v[i] for v in per.values()) for i in (0, 1)]
    print("  %-34s %s  (%d of %d)" % ("all category rows", pct(*tot), tot[0], tot[1]))
    short = [lb[:4] for lb in labels]
    print("\ncategory confusion matrix (rows: expected, columns: predicted)")
    print("  %-17s" % "" + " ".join("%4s" % s for s in short))
    for g in labels:
        if not any(conf[(g, x)] for x in labels):
            continue
        print("  %-17s" % g + " ".join("%4s" % (conf[(g, x)] or ".") for x in labels))
    out["category"] = {"accuracy": {k: v[0] / v[1] for k, v in per.items()}, "overall": tot[0] / max(1, tot[1])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devsets", default=os.path.join(here, "devsets"))
    ap.add_argument("--model", default=os.path.join(here, "..", "..", "models", "default"))
    ap.add_argument("--cli", help="switchyard-classify (default: build/classifier/switchyard-classify)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--turns", type=int, default=1, help="user turns read of a conversation, newest first; 0: all")
    ap.add_argument("--jb-threshold", type=float, default=0.7, help="prompt_guard.threshold (default 0.7)")
    ap.add_argument("--pii-threshold", type=float, default=0.5, help="classifier.pii_model.threshold (default 0.5)")
    ap.add_argument("--calibrate", type=float, metavar="FPR", help="choose thresholds on the dev sets (see above)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    a = ap.parse_args()
    rows = read_rows(a.devsets)
    if not rows:
        sys.exit("evaluate.py: no dev-set rows in %s" % a.devsets)
    preds = classify(a.cli, a.model, a.threads, [prompt_text(r, a.turns) for r in rows])
    with open(os.path.join(a.model, "config.json")) as f:
        heads = {h["name"]: h["labels"] for h in json.load(f).get("switchyard_heads", [])}
    for p in preds:
        p["cat_labels"] = heads.get("category", [])
        p["jb_index"] = heads["jailbreak"].index("jailbreak") if "jailbreak" in heads else 0
    by = collections.defaultdict(lambda: ([], []))
    for r, p in zip(rows, preds):
        by[r["head"]][0].append(r)
        by[r["head"]][1].append(p)
    print("model %s, dev sets %s: %d rows; conversations read as the last %s user turn(s), newest first" % (
        a.model, a.devsets, len(rows), a.turns or "all"))
    out = {}
    if "category" in heads and by["category"][0]:
        category_figures(*by["category"], out)
    if "jailbreak" in heads:
        jailbreak_figures(rows, preds, a.jb_threshold, out)
    if "pii" in heads and by["pii"][0]:
        pii_figures(*by["pii"], a.pii_threshold, out)
    if a.calibrate is not None:
        if "jailbreak" in heads:
            out["calibrated_jailbreak_threshold"] = calibrate_jailbreak(rows, preds, a.calibrate)
        if "pii" in heads and by["pii"][0]:
            best = max((f1(*[sum(c.values()) for c in pii_counts(*by["pii"], t / 100.0)[:3]])[2], t / 100.0)
                       for t in range(5, 100, 5))
            print("PII threshold with the best exact F1 on the dev set (steps of 0.05): %.2f (F1 %.3f)" % (
                best[1], best[0]))
            out["best_pii_threshold"] = best[1]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
