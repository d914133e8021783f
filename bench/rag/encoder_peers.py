#!/usr/bin/env python3
"""The local encoder's peer for bench/rag/encoder.sh: ONNX Runtime on the same weights.

  encoder_peers.py texts OUTDIR
      Writes OUTDIR/long.txt (python-faq answers, whitespace folded: 200+ WordPiece tokens, cut
      at 256 like sentence-transformers) and OUTDIR/short.txt (python-faq questions), one text
      per line, from $SEXTANT_DATA_DIR/python-faq.
  encoder_peers.py ort --model DIR --texts FILE [--batch 32] [--seconds 5] [--vectors OURS.f32]
                   [--onnx CACHE.onnx] [--fused]
      Builds an ONNX graph of the BERT encoder from DIR/model.safetensors (once, cached in --onnx),
      runs it on ONNX Runtime with one thread (all graph optimisations on; --fused first runs
      onnxruntime.transformers.optimizer for BERT, which fuses attention, GELU and LayerNorm), and
      prints one JSON line: texts/s (tokenising, padding per batch, mean pooling and normalising
      included, as sentence-transformers does) and, given --vectors, the lowest and mean cosine
      between its embeddings and Sextant's.

pip: numpy onnx onnxruntime tokenizers safetensors sympy (bench/rag/encoder.sh makes a venv).
"""
import argparse
import json
import os
import re
import sys
import time

import numpy as np


def make_texts(outdir):
    data = os.environ.get("SEXTANT_DATA_DIR") or os.path.join(os.path.dirname(__file__), "../../../shared/data")
    with open(os.path.join(data, "python-faq", "python_faq_qa.json")) as f:
        qa = json.load(f)
    fold = lambda s: re.sub(r"\s+", " ", s).strip()
    longs = [fold(x["answer"]) for x in qa if len(x["answer"].split()) >= 150][:64]
    shorts = [fold(x["question"]) for x in qa][:64]
    os.makedirs(outdir, exist_ok=True)
    for name, texts in (("long.txt", longs), ("short.txt", shorts)):
        with open(os.path.join(outdir, name), "w") as f:
            f.write("\n".join(texts) + "\n")
    print(f"{outdir}: {len(longs)} long, {len(shorts)} short texts", file=sys.stderr)


def build_onnx(model_dir, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = load_file(os.path.join(model_dir, "model.safetensors"))
    pre = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
    H, heads, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    hd, eps = H // heads, cfg.get("layer_norm_eps", 1e-12)
    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    def linear(x, name, out):
        wt = init(name + ".w", w[pre + name + ".weight"].T.astype(np.float32))
        b = init(name + ".b", w[pre + name + ".bias"].astype(np.float32))
        return node("Add", [node("MatMul", [x, wt], out + "_mm"), b], out)

    def norm(x, name, out):
        g = init(name + ".g", w[pre + name + ".weight"])
        b = init(name + ".beta", w[pre + name + ".bias"])
        return node("LayerNormalization", [x, g, b], out, axis=-1, epsilon=eps)

    init("word", w[pre + "embeddings.word_embeddings.weight"])
    init("pos", w[pre + "embeddings.position_embeddings.weight"])
    init("type0", w[pre + "embeddings.token_type_embeddings.weight"][0])
    init("ax12", np.array([1, 2], dtype=np.int64))
    init("neg", np.array(-10000.0, dtype=np.float32))
    init("onef", np.array(1.0, dtype=np.float32))
    init("half", np.array(0.5, dtype=np.float32))
    init("rsqrt2", np.array(1 / np.sqrt(2), dtype=np.float32))
    init("scale", np.array(1 / np.sqrt(hd), dtype=np.float32))
    init("shape4", np.array([0, 0, heads, hd], dtype=np.int64))
    init("shape3", np.array([0, 0, H], dtype=np.int64))
    init("zero1", np.array([0], dtype=np.int64))
    seq = node("Shape", ["input_ids"], "seq", start=1, end=2)  # [S], 1-D
    x = node("Add", [node("Gather", ["word", "input_ids"], "we"), node("Slice", ["pos", "zero1", seq, "zero1"], "pe")], "e1")
    x = norm(node("Add", [x, "type0"], "e2"), "embeddings.LayerNorm", "x0")
    maskf = node("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    bias = node("Mul", [node("Sub", ["onef", maskf], "inv"), "neg"], "mb")
    bias = node("Unsqueeze", [bias, "ax12"], "mask_bias")
    for l in range(L):
        p = f"encoder.layer.{l}."
        heads_of = lambda t, perm, out: node("Transpose", [node("Reshape", [t, "shape4"], out + "_r")], out, perm=perm)
        q = heads_of(linear(x, p + "attention.self.query", f"q{l}"), [0, 2, 1, 3], f"qh{l}")
        k = heads_of(linear(x, p + "attention.self.key", f"k{l}"), [0, 2, 3, 1], f"kh{l}")
        v = heads_of(linear(x, p + "attention.self.value", f"v{l}"), [0, 2, 1, 3], f"vh{l}")
        s = node("Add", [node("Mul", [node("MatMul", [q, k], f"s{l}"), "scale"], f"ss{l}"), "mask_bias"], f"sm{l}")
        pr = node("Softmax", [s], f"p{l}", axis=-1)
        ctx = node("Transpose", [node("MatMul", [pr, v], f"c{l}")], f"ct{l}", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "shape3"], f"cr{l}")
        a = linear(ctx, p + "attention.output.dense", f"ao{l}")
        x = norm(node("Add", [a, x], f"ar{l}"), p + "attention.output.LayerNorm", f"xa{l}")
        i = linear(x, p + "intermediate.dense", f"i{l}")
        g = node("Mul", [node("Mul", [i, "half"], f"gh{l}"),
                         node("Add", ["onef", node("Erf", [node("Mul", [i, "rsqrt2"], f"gs{l}")], f"ge{l}")], f"g1{l}")],
                 f"g{l}")
        o = linear(g, p + "output.dense", f"o{l}")
        x = norm(node("Add", [o, x], f"or{l}"), p + "output.LayerNorm", f"x{l + 1}")
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        nodes, "bert",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", H])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return cfg


def run_ort(args):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    path = args.onnx or os.path.join(os.path.dirname(os.path.abspath(args.texts)), "minilm.onnx")
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    if not os.path.exists(path):
        build_onnx(args.model, path)
    if args.fused:
        fused = path.replace(".onnx", "-fused.onnx")
        if not os.path.exists(fused):
            from onnxruntime.transformers import optimizer
            opt = optimizer.optimize_model(path, model_type="bert", num_heads=cfg["num_attention_heads"],
                                           hidden_size=cfg["hidden_size"], opt_level=0)
            opt.save_model_to_file(fused)
        path = fused
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok.enable_truncation(args.max_tokens)
    tok.enable_padding()
    texts = [t for t in open(args.texts).read().split("\n") if t]

    def embed_all():
        out = []
        for b in range(0, len(texts), args.batch):
            enc = tok.encode_batch(texts[b:b + args.batch])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            h = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            m = mask[:, :, None].astype(np.float32)
            v = (h * m).sum(1) / m.sum(1)
            out.append(v / np.linalg.norm(v, axis=1, keepdims=True))
        return np.concatenate(out)

    vecs = embed_all()
    done, start = 0, time.perf_counter()
    while True:
        embed_all()
        done += len(texts)
        elapsed = time.perf_counter() - start
        if elapsed >= args.seconds:
            break
    line = {"engine": "onnxruntime " + ort.__version__ + (" fused" if args.fused else ""), "texts": len(texts),
            "batch": args.batch, "threads": 1, "max_tokens": args.max_tokens,
            "texts_per_s": done / elapsed, "seconds": elapsed}
    if args.vectors:
        ours = np.fromfile(args.vectors, dtype=np.float32).reshape(vecs.shape)
        cos = (ours * vecs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(vecs, axis=1)
        line["cosine_to_sextant_min"] = float(cos.min())
        line["cosine_to_sextant_mean"] = float(cos.mean())
    print(json.dumps(line), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("texts")
    t.add_argument("outdir")
    o = sub.add_parser("ort")
    o.add_argument("--model", required=True)
    o.add_argument("--texts", required=True)
    o.add_argument("--batch", type=int, default=32)
    o.add_argument("--seconds", type=float, default=5)
    o.add_argument("--max-tokens", type=int, default=256)
    o.add_argument("--vectors")
    o.add_argument("--onnx")
    o.add_argument("--fused", action="store_true")
    args = ap.parse_args()
    if args.cmd == "texts":
        make_texts(args.outdir)
    else:
        if args.batch < 1 or args.seconds < 0:
            ap.error("--batch must be >= 1 and --seconds >= 0")
        run_ort(args)


if __name__ == "__main__":
    main()
