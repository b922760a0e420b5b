#!/usr/bin/python3
"""Export the benchmark models (random weights) through tests/models/export_models.py.

Usage: export_bench_models.py OUTDIR

  mobilenet_v2, resnet18, squeezenet1_1, shufflenet_v2_x1_0, efficientnet_b0
                    torchvision architectures, input [1, 3, 224, 224]
  mlp_b1, mlp_b256  the MLP of export_models.py (64 -> 128 -> 64 -> 10, ReLU), batch 1 and 256
  transformer       2 pre-norm encoder blocks, d_model 128, 4 heads, feed-forward 512 with GELU,
                    final LayerNorm; input [1, 64, 128] (seq 64), opset 17 (LayerNormalization)

tests/bench/tfjs_models.mjs builds the same architectures with TF.js ops; the bench checks that
both sides count the same multiply-accumulates.
"""

import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))

import torch  # noqa: E402

import export_models as em  # noqa: E402

D, HEADS, FF, SEQ, LAYERS = 128, 4, 512, 64, 2


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(D)
        self.qkv = torch.nn.Linear(D, 3 * D)
        self.proj = torch.nn.Linear(D, D)
        self.ln2 = torch.nn.LayerNorm(D)
        self.fc1 = torch.nn.Linear(D, FF)
        self.fc2 = torch.nn.Linear(FF, D)

    def forward(self, x):  # x: [1, SEQ, D]
        hd = D // HEADS
        q, k, v = self.qkv(self.ln1(x)).reshape(1, SEQ, 3, HEADS, hd).permute(2, 0, 3, 1, 4)
        att = torch.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd)), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(1, SEQ, D)
        x = x + self.proj(y)
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x))))


class Transformer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = torch.nn.Sequential(*[Block() for _ in range(LAYERS)])
        self.ln = torch.nn.LayerNorm(D)

    def forward(self, x):
        return self.ln(self.blocks(x))


IMAGE = [1, 3, 224, 224]
BENCH = {
    "mobilenet_v2": em.Spec(em.tv("mobilenet_v2"), IMAGE),
    "resnet18": em.Spec(em.tv("resnet18"), IMAGE),
    "squeezenet1_1": em.Spec(em.tv("squeezenet1_1"), IMAGE),
    "shufflenet_v2_x1_0": em.Spec(em.tv("shufflenet_v2_x1_0"), IMAGE),
    "efficientnet_b0": em.Spec(em.tv("efficientnet_b0"), IMAGE),
    "mlp_b1": em.Spec(em.MLP, [1, 64]),
    "mlp_b256": em.Spec(em.MLP, [256, 64]),
    "transformer": em.Spec(Transformer, [1, SEQ, D], opset=17),
}


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    os.makedirs(argv[0], exist_ok=True)
    em.MODELS.update(BENCH)
    for name in BENCH:
        em.export_one(name, argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
