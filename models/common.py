"""Helpers shared by the trainers in models/<name>/train.py.

Each trainer builds one small model on a public data set that ships with the machine
(scikit-learn's bundled data, Debian's dataset-fashion-mnist), exports it to ONNX and writes the
files the tests and the demo read: model.onnx, golden/input.npy + golden/output.npy, test_x.npy +
test_y.npy and metrics.json. Everything here is deterministic for a given seed and thread count.

onnxruntime is the reference for the golden outputs and for the exported model's accuracy. It is
run through node (tests/models/reference.mjs with onnxruntime-node from node_modules), the same
build the JS tests use, rather than through a Python wheel the machine does not have.
"""

import json
import os
import random
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import onnx
import torch

REPO = Path(__file__).resolve().parent.parent
OPSET = 13
REFERENCE_CLI = REPO / 'tests' / 'models' / 'reference.mjs'


def make_deterministic(seed, threads):
    """Seeds every generator a trainer touches and pins torch's thread count, since the order
    of floating-point reductions (and so the trained weights) depends on it."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    torch.use_deterministic_algorithms(True)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def export_onnx(model, example, path, input_name, output_name):
    """Exports `model` (in eval mode) with the TorchScript-based exporter, opset 13, constant
    folding on, and a dynamic first dimension named "batch" on the input and the output. The file
    is written under a temporary name and renamed, so a stopped run leaves no truncated model."""
    model.eval()
    path = Path(path)
    tmp = path.with_name(path.name + '.tmp')
    with torch.no_grad():
        torch.onnx.export(
            model, example, str(tmp),
            input_names=[input_name], output_names=[output_name],
            dynamic_axes={input_name: {0: 'batch'}, output_name: {0: 'batch'}},
            opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(str(tmp)), full_check=True)
    os.replace(tmp, path)


def run_onnxruntime(model_path, x, output_name, batch=1000):
    """Runs the model on onnxruntime-node, `batch` rows at a time, and returns the named output
    for all of `x` (float32, first dimension = batch)."""
    if shutil.which('node') is None:
        raise RuntimeError('node is not on PATH; it runs onnxruntime-node for the reference outputs')
    outs = []
    with tempfile.TemporaryDirectory(prefix='edgeinfer-models-') as tmp:
        in_path = Path(tmp) / 'input.npy'
        out_dir = Path(tmp) / 'out'
        for start in range(0, len(x), batch):
            np.save(in_path, np.ascontiguousarray(x[start:start + batch], dtype=np.float32))
            r = subprocess.run(['node', str(REFERENCE_CLI), str(model_path), str(in_path), str(out_dir)],
                               cwd=REPO, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f'onnxruntime-node failed on {model_path}:\n{r.stderr}{r.stdout}')
            outs.append(np.load(out_dir / f'{output_name}.npy'))
    return np.concatenate(outs)


def accuracy(probs, labels):
    return float((np.asarray(probs).argmax(axis=1) == np.asarray(labels)).mean())


def pick_golden(probs, n=8):
    """Indices of n rows for the golden files: the n/2 least confident (the largest probability
    is smallest, so the outputs are not all 0 and 1 and a small error shows), then the first
    rows that are not among them. Sorted, so the golden input keeps the test set's order."""
    probs = np.asarray(probs)
    unsure = [int(i) for i in np.argsort(probs.max(axis=1), kind='stable')[:n // 2]]
    rest = [i for i in range(len(probs)) if i not in unsure][:n - len(unsure)]
    return sorted(unsure + rest)


def write_golden(model_dir, model_path, x, output_name):
    """golden/input.npy is `x`; golden/output.npy is onnxruntime's output on it."""
    golden = Path(model_dir) / 'golden'
    golden.mkdir(exist_ok=True)
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = run_onnxruntime(model_path, x, output_name)
    np.save(golden / 'input.npy', x)
    np.save(golden / 'output.npy', y.astype(np.float32))
    return y


def write_json(path, obj):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')


def _png_chunk(kind, data):
    body = kind + data
    return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body) & 0xffffffff)


def write_png_gray(path, pixels):
    """Writes a 2-D uint8 array as an 8-bit greyscale PNG (no interlace, filter type 0 on every
    row), which is all the sample images need."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim != 2:
        raise ValueError(f'write_png_gray: expected a 2-D array, got shape {pixels.shape}')
    h, w = pixels.shape
    raw = b''.join(b'\x00' + pixels[row].tobytes() for row in range(h))
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)  # depth 8, greyscale, deflate, filter 0, no interlace
    png = (b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', ihdr)
           + _png_chunk(b'IDAT', zlib.compress(raw, 9)) + _png_chunk(b'IEND', b''))
    Path(path).write_bytes(png)


def file_sizes(model_dir):
    """Sizes in bytes of every file under model_dir, by path relative to it."""
    model_dir = Path(model_dir)
    return {str(p.relative_to(model_dir)): p.stat().st_size
            for p in sorted(model_dir.rglob('*')) if p.is_file()}


def report(model_dir, metrics):
    """Writes metrics.json and prints the metrics and the size of every file in model_dir."""
    write_json(model_dir / 'metrics.json', metrics)
    for k, v in metrics.items():
        print(f'{k}: {v}')
    for name, size in file_sizes(model_dir).items():
        print(f'  {size:>9}  {name}')
