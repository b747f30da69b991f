"""The embedded default classifier in PyTorch: a BERT encoder (post-LN,
erf GELU, learned positions; token type 0, or with config.json
"switchyard_token_types": "case" each token's case type, sytok.case_type) with switchyard's multi-head
format on top (config.json "switchyard_heads"; weights heads.<name>.*):
sequence heads over the masked mean (or [CLS]) of the final hidden states,
with an optional tanh dense layer, and token heads over every position.

Used by tools/train/train.py (training, export) and by
tools/classifier/eval.py --engine torch (inference over the shipped files).
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "classifier"))
import ref  # noqa: E402


class Layer(nn.Module):
    def __init__(self, H, nh, I, eps, drop):
        super().__init__()
        self.nh = nh
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.attn_out = nn.Linear(H, H)
        self.ln1 = nn.LayerNorm(H, eps=eps)
        self.inter = nn.Linear(H, I)
        self.out = nn.Linear(I, H)
        self.ln2 = nn.LayerNorm(H, eps=eps)
        self.drop = nn.Dropout(drop)

    def forward(self, x, bias):
        B, T, H = x.shape
        nh, hd = self.nh, H // self.nh

        def split(t):
            return t.view(B, T, nh, hd).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
        a = self.drop(torch.softmax(s, -1)) @ v
        a = a.transpose(1, 2).reshape(B, T, H)
        x = self.ln1(x + self.drop(self.attn_out(a)))
        f = self.out(F.gelu(self.inter(x)))
        return self.ln2(x + self.drop(f))


class Model(nn.Module):
    def __init__(self, cfg, drop=0.1):
        super().__init__()
        self.cfg = cfg
        H, V, P = cfg["hidden_size"], cfg["vocab_size"], cfg["max_position_embeddings"]
        eps = cfg.get("layer_norm_eps", 1e-12)
        self.word = nn.Embedding(V, H)
        self.pos = nn.Embedding(P, H)
        self.ttype = nn.Embedding(cfg.get("type_vocab_size", 2), H)
        self.ln = nn.LayerNorm(H, eps=eps)
        self.drop = nn.Dropout(drop)
        self.layers = nn.ModuleList(Layer(H, cfg["num_attention_heads"], cfg["intermediate_size"], eps, drop)
                                    for _ in range(cfg["num_hidden_layers"]))
        self.heads = nn.ModuleDict()
        self.dense = nn.ModuleDict()
        for h in cfg["switchyard_heads"]:
            self.heads[h["name"]] = nn.Linear(H, len(h["labels"]))
            if h.get("dense"):
                self.dense[h["name"]] = nn.Linear(H, H)
        self.mlm = None
        self.lexical = None   # (head, weight, sylex.Model): mixed in at inference (syeval)
        self.transitions = {}   # token head -> [labels + 1, labels] log-probabilities (syeval Viterbi)
        self.crf = None   # (head, encoder weight, sycrf.Model): the token head's word CRF (syeval)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def encode(self, ids, mask, pos_offset=None, types=None):
        B, T = ids.shape
        pos = torch.arange(T)[None].expand(B, T)
        if pos_offset is not None:
            pos = pos + pos_offset[:, None]
        x = self.word(ids) + self.pos(pos) + (self.ttype(types) if types is not None else self.ttype.weight[0])
        x = self.drop(self.ln(x))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * -1e9
        for layer in self.layers:
            x = layer(x, bias)
        return x

    def head(self, name, x, mask):
        """logits of one head: [B, labels] (sequence) or [B, T, labels] (token)"""
        spec = next(h for h in self.cfg["switchyard_heads"] if h["name"] == name)
        if spec["kind"] == "sequence":
            if spec.get("pooling", "mean") == "cls":
                z = x[:, 0]
            else:
                m = mask.to(x.dtype)[..., None]
                z = (x * m).sum(1) / m.sum(1).clamp(min=1)
        else:
            z = x
        if name in self.dense:
            z = torch.tanh(self.dense[name](z))
        return self.heads[name](self.drop(z))

    def state_for_export(self):
        """HF BERT names + heads.<name>.*"""
        W, p = {}, "bert."
        W[p + "embeddings.word_embeddings.weight"] = self.word.weight
        W[p + "embeddings.position_embeddings.weight"] = self.pos.weight
        W[p + "embeddings.token_type_embeddings.weight"] = self.ttype.weight
        W[p + "embeddings.LayerNorm.weight"] = self.ln.weight
        W[p + "embeddings.LayerNorm.bias"] = self.ln.bias
        for i, L in enumerate(self.layers):
            q = p + "encoder.layer.%d." % i
            for name, mod in [("attention.self.query", L.query), ("attention.self.key", L.key),
                              ("attention.self.value", L.value), ("attention.output.dense", L.attn_out),
                              ("attention.output.LayerNorm", L.ln1), ("intermediate.dense", L.inter),
                              ("output.dense", L.out), ("output.LayerNorm", L.ln2)]:
                W[q + name + ".weight"] = mod.weight
                W[q + name + ".bias"] = mod.bias
        for name, mod in self.heads.items():
            W["heads.%s.weight" % name] = mod.weight
            W["heads.%s.bias" % name] = mod.bias
        for name, mod in self.dense.items():
            W["heads.%s.dense.weight" % name] = mod.weight
            W["heads.%s.dense.bias" % name] = mod.bias
        for name, t in self.transitions.items():
            W["heads.%s.transitions" % name] = t
        return W

    def load_exported(self, W):
        own = self.state_for_export()
        with torch.no_grad():
            for k, t in own.items():
                t.copy_(W[k].to(t.dtype))


def public_config(cfg):
    """config.json as shipped: a plain BertConfig + switchyard_heads (the
    training-only "dense" flag is implied by the weights)"""
    out = {k: v for k, v in cfg.items() if k != "switchyard_heads"}
    out["switchyard_heads"] = [{k: v for k, v in h.items() if k != "dense"} for h in cfg["switchyard_heads"]]
    return out


def load_dir(model_dir):
    """Model (eval mode, f32) from a shipped directory"""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    W = ref.load_safetensors(os.path.join(model_dir, "model.safetensors"))
    for h in cfg["switchyard_heads"]:
        h["dense"] = ("heads.%s.dense.weight" % h["name"]) in W
    m = Model(cfg)
    for h in cfg["switchyard_heads"]:
        k = "heads.%s.transitions" % h["name"]
        if k in W:
            m.transitions[h["name"]] = torch.zeros(W[k].shape)
    m.load_exported(W)
    m.eval()
    lx = cfg.get("switchyard_lexical")
    if lx:
        import sylex
        m.lexical = (lx["head"], float(lx.get("weight", 1.0)), sylex.Model(os.path.join(model_dir, lx["file"])))
    cx = cfg.get("switchyard_token_crf")
    if cx:
        import sycrf
        m.crf = (cx["head"], float(cx.get("encoder_weight", 0.0)), sycrf.Model(os.path.join(model_dir, cx["file"])))
    return m


def save_dir(model, model_dir, vocab):
    """writes the directory's four files, each replaced atomically (a
    reader never sees a half-written file)"""
    os.makedirs(model_dir, exist_ok=True)

    def put(name, text):
        tmp = os.path.join(model_dir, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, os.path.join(model_dir, name))
    put("config.json", json.dumps(public_config(model.cfg), indent=2, ensure_ascii=False) + "\n")
    put("vocab.txt", "\n".join(vocab) + "\n")
    put("tokenizer_config.json", json.dumps({
        "do_lower_case": True, "tokenize_chinese_chars": True, "strip_accents": None,
        "model_max_length": model.cfg["max_position_embeddings"], "tokenizer_class": "BertTokenizer"},
        indent=2) + "\n")
    tmp = os.path.join(model_dir, ".model.safetensors.tmp")
    ref.save_safetensors(tmp, model.state_for_export(), dtype="F16",
                         metadata={"format": "pt", "producer": "switchyard tools/train/train.py"})
    os.replace(tmp, os.path.join(model_dir, "model.safetensors"))
