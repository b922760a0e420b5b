#!/usr/bin/python3
"""Export the end-to-end test models and their inputs.

Usage: export_models.py OUTDIR [NAME ...]

Writes, for each model NAME (default: all of them):
  OUTDIR/NAME.onnx        opset 13, input "input", output "output"
  OUTDIR/NAME.input.npy   a fixed float32 input drawn from a seeded normal distribution

  mobilenet_v2  torchvision MobileNetV2, input [1, 3, 224, 224]
  resnet18      torchvision ResNet-18,   input [1, 3, 224, 224]
  mlp           Linear 64->128, ReLU, Linear 128->64, ReLU, Linear 64->10;
                input [batch, 64] with a dynamic batch dimension named "batch" (the file holds 4)

The weights are random (torch.manual_seed(0) before each model is built, weights=None for
torchvision), so nothing is downloaded; the tests compare this runtime against onnxruntime on the
same file, which needs no trained weights. BatchNorm running statistics are drawn at random too:
left at their defaults (mean 0, var 1, scale 1, shift 0) every BatchNorm would be an identity
and a mistake in folding or applying it would go unnoticed.

Uses the TorchScript-based exporter (torch.onnx.export with dynamo=False where torch knows that
argument), with constant folding on. Each file is written to a temporary name and renamed, so a
stopped run leaves no truncated model behind.
"""

import argparse
import inspect
import os
import sys
import time

import numpy as np
import onnx
import torch
import torchvision

OPSET = 13


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(64, 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 64), torch.nn.ReLU(),
            torch.nn.Linear(64, 10))

    def forward(self, x):
        return self.layers(x)


def randomize_batchnorm(model):
    """Give every BatchNorm non-trivial statistics, from torch's (already seeded) generator."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n) * 0.1)
                m.running_var.copy_(torch.rand(n) + 0.5)
                m.weight.copy_(torch.rand(n) + 0.5)
                m.bias.copy_(torch.randn(n) * 0.1)


# name -> (constructor, input shape, dynamic axes of the input)
MODELS = {
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), [1, 3, 224, 224], None),
    "resnet18": (lambda: torchvision.models.resnet18(weights=None), [1, 3, 224, 224], None),
    "mlp": (MLP, [4, 64], {0: "batch"}),
}


def export_kwargs():
    # Newer torch versions default to (or offer) the dynamo-based exporter, which needs
    # onnxscript; ask for the TorchScript one explicitly wherever the argument exists.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        return {"dynamo": False}
    return {}


def export_one(name, outdir):
    build, shape, dyn = MODELS[name]
    torch.manual_seed(0)
    model = build()
    randomize_batchnorm(model)
    model.eval()

    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)

    onnx_path = os.path.join(outdir, name + ".onnx")
    npy_path = os.path.join(outdir, name + ".input.npy")
    tmp_onnx = onnx_path + ".tmp"
    tmp_npy = npy_path + ".tmp"

    dynamic_axes = None
    if dyn:
        dynamic_axes = {"input": dyn, "output": dyn}
    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(x),), tmp_onnx,
                          input_names=["input"], output_names=["output"],
                          opset_version=OPSET, do_constant_folding=True,
                          dynamic_axes=dynamic_axes, **export_kwargs())
        expected = model(torch.from_numpy(x)).numpy()

    m = onnx.load(tmp_onnx)
    onnx.checker.check_model(m)
    with open(tmp_npy, "wb") as f:
        np.save(f, x)
    os.replace(tmp_onnx, onnx_path)
    os.replace(tmp_npy, npy_path)

    ops = sorted({n.op_type for n in m.graph.node})
    print(f"  {name}: {len(m.graph.node)} nodes, ops {', '.join(ops)}; "
          f"input {list(x.shape)}, torch output {list(expected.shape)} "
          f"range [{expected.min():.4g}, {expected.max():.4g}]")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="models to export (default: all): " + ", ".join(MODELS))
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)} (known: {', '.join(MODELS)})")
    names = args.names or list(MODELS)

    os.makedirs(args.outdir, exist_ok=True)
    print(f"export_models: torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"onnx {onnx.__version__}, opset {OPSET}")
    for name in names:
        start = time.monotonic()
        export_one(name, args.outdir)
        print(f"  {name}: exported in {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
