#!/bin/sh
# Retrains the three demo models and rewrites everything they commit under models/<name>/:
# model.onnx, golden/, test_x.npy, test_y.npy, metrics.json and the demo assets. Needs
# /usr/bin/python3 with torch, onnx and scikit-learn, Debian's dataset-fashion-mnist, and node
# with onnxruntime-node installed (npm ci), which produces the reference outputs.
# PYTHON overrides the interpreter. Takes a few minutes, nearly all of it Fashion-MNIST.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
for name in digits cancer fashion; do
	echo "== models/$name"
	"$PYTHON" "models/$name/train.py"
done
