#!/usr/bin/python3
"""Random-weight BERT models of candidate shapes for the embedded default
classifier, to time with switchyard-classify-bench before training.

    shape_bench.py OUT_DIR H L HEADS I [VOCAB]    writes OUT_DIR/h{H}-l{L}-i{I}
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "classifier"))
import gen_testdata  # noqa: E402


def main(argv):
    import torch
    out, H, L, nh, I = argv[1], int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5])
    V = int(argv[6]) if len(argv) > 6 else 16000
    wp = gen_testdata.build_wordpiece_vocab(lower=True)
    wp += ["[unused%d]" % i for i in range(V - len(wp))]
    id2label, label2id = gen_testdata.labels(["c%d" % i for i in range(14)])
    cfg = {"architectures": ["BertForSequenceClassification"], "model_type": "bert",
           "vocab_size": len(wp), "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": nh,
           "intermediate_size": I, "hidden_act": "gelu", "max_position_embeddings": 512,
           "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
           "id2label": id2label, "label2id": label2id}
    g = torch.Generator().manual_seed(7)
    W = gen_testdata.bert_weights(cfg, g, "sequence")
    W = {k: v * 0.1 if v.dim() == 2 else v for k, v in W.items()}
    name = "h%d-l%d-i%d" % (H, L, I)
    gen_testdata.write_model(out, name, cfg, W, {"vocab.txt": "\n".join(wp) + "\n"}, "F16")
    print(os.path.join(out, name))


if __name__ == "__main__":
    main(sys.argv)
