"""Data of the embedded default classifier: the labelled sets under a data
directory (DATA_DIR: category/, jailbreak/, pii/; tools/train/README.md
says what is in them), and the held-out splits the
training tool (tools/train/train.py) never sees and the evaluation tool
(tools/classifier/eval.py) measures on. Both import this module, so they
agree on the split.

The split is a deterministic function of the text alone (SHA-256), so it is
the same on every machine and run, and duplicate texts fall on one side.
"""
import hashlib
import json
import os

CATEGORIES = ["biology", "business", "chemistry", "computer science", "economics", "engineering", "health",
              "history", "law", "math", "other", "philosophy", "physics", "psychology"]
JAILBREAK_LABELS = ["benign", "jailbreak"]
PII_TYPES = ["PERSON", "STREET_ADDRESS", "GPE", "ORGANIZATION", "CREDIT_CARD", "DATE_TIME", "TITLE",
             "PHONE_NUMBER", "AGE", "NRP", "EMAIL_ADDRESS", "ZIP_CODE", "DOMAIN_NAME", "IBAN_CODE", "US_SSN",
             "IP_ADDRESS", "US_DRIVER_LICENSE"]
PII_LABELS = ["O"] + [p + t for t in PII_TYPES for p in ("B-", "I-")]

HOLDOUT_PERCENT = {"jailbreak": 20, "pii": 20}


def bucket(text, salt):
    """0..99 from the text, stable across runs and machines"""
    h = hashlib.sha256((salt + "\0" + text).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little") % 100


def is_heldout(task, text):
    return bucket(text, task) < HOLDOUT_PERCENT[task]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load(data_dir, task, part):
    """task: category | jailbreak | pii; part: train | heldout.
    category heldout is category/dev.jsonl; category train is
    category/train.jsonl + extra_gsm8k_train.jsonl. Rows as in the files."""
    if task == "category":
        if part == "heldout":
            return read_jsonl(os.path.join(data_dir, "category", "dev.jsonl"))
        rows = read_jsonl(os.path.join(data_dir, "category", "train.jsonl"))
        extra = os.path.join(data_dir, "category", "extra_gsm8k_train.jsonl")
        if os.path.exists(extra):
            rows += read_jsonl(extra)
        return rows
    rows = read_jsonl(os.path.join(data_dir, task, "train.jsonl"))
    want = part == "heldout"
    return [r for r in rows if is_heldout(task, r["text"]) == want]
