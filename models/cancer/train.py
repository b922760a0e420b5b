#!/usr/bin/python3
"""Trains the breast-cancer classifier and writes everything in models/cancer/.

Data: scikit-learn's load_breast_cancer (569 tumours, 30 measurements each; target 0 =
malignant, 1 = benign). 20% held out, stratified, random_state 0.

The standardisation is part of the model: the exported graph starts with Sub(mean) and
Div(std), both computed on the training split, so callers feed the raw measurements.

Writes model.onnx (input "features" [batch,30] float32, output "probs" [batch,2] in the order
malignant, benign), golden/input.npy + golden/output.npy, test_x.npy (the whole held-out split,
raw, float32 [N,30]) + test_y.npy (uint8 [N]), features.json (name and training-set
min/mean/std/max of every input column, for the demo's form) and metrics.json.
Usage: /usr/bin/python3 models/cancer/train.py
"""

import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import common  # noqa: E402

SEED = 0
EPOCHS = 60
BATCH = 32
LR = 3e-3
WEIGHT_DECAY = 1e-3


class CancerNet(torch.nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32))  # [30]
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32))    # [30]
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(30, 16), torch.nn.ReLU(),
            torch.nn.Linear(16, 2))

    def logits(self, x):
        return self.layers((x - self.mean) / self.std)

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def sig(v, digits=6):
    """A float rounded to `digits` significant digits, for a readable JSON file."""
    return float(f'{v:.{digits}g}')


def main():
    common.make_deterministic(SEED, threads=1)
    data = load_breast_cancer()
    x_all = data.data.astype(np.float32)         # [569, 30], raw measurements
    labels = data.target.astype(np.int64)        # 0 malignant, 1 benign
    assert list(data.target_names) == ['malignant', 'benign']
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=SEED)

    x_train_np = x_all[idx_train]
    mean = x_train_np.astype(np.float64).mean(axis=0)
    std = x_train_np.astype(np.float64).std(axis=0)
    x_train, y_train = torch.from_numpy(x_train_np), torch.from_numpy(labels[idx_train])
    x_test, y_test = x_all[idx_test], labels[idx_test]

    model = CancerNet(mean, std)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    gen = torch.Generator().manual_seed(SEED)

    t0, c0 = time.perf_counter(), time.process_time()
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(order), BATCH):
            b = order[i:i + BATCH]
            loss = torch.nn.functional.cross_entropy(model.logits(x_train[b]), y_train[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        if epoch % 20 == 19:
            print(f'epoch {epoch + 1}/{EPOCHS}: train loss {total / len(x_train):.4f}', flush=True)
    train_seconds = time.perf_counter() - t0
    train_cpu_seconds = time.process_time() - c0

    model.eval()
    with torch.no_grad():
        torch_probs = model(torch.from_numpy(x_test)).numpy()
    torch_acc = common.accuracy(torch_probs, y_test)

    model_path = HERE / 'model.onnx'
    common.export_onnx(model, torch.from_numpy(x_test[:1]), model_path, 'features', 'probs')
    ort_probs = common.run_onnxruntime(model_path, x_test, 'probs')
    ort_acc = common.accuracy(ort_probs, y_test)

    np.save(HERE / 'test_x.npy', x_test)
    np.save(HERE / 'test_y.npy', y_test.astype(np.uint8))
    common.write_golden(HERE, model_path, x_test[common.pick_golden(ort_probs)], 'probs')

    features = [
        {'name': str(name), 'min': sig(float(lo)), 'mean': sig(float(mu)),
         'std': sig(float(sd)), 'max': sig(float(hi))}
        for name, lo, mu, sd, hi in zip(data.feature_names, x_train_np.min(axis=0), mean, std,
                                        x_train_np.max(axis=0))]
    common.write_json(HERE / 'features.json', {
        'input': 'features', 'output': 'probs', 'classes': ['malignant', 'benign'],
        'features': features})

    metrics = {
        'parameters': common.count_params(model),
        'train_samples': len(idx_train), 'test_samples': len(idx_test),
        'epochs': EPOCHS, 'threads': 1, 'train_seconds': round(train_seconds, 1),
        'train_cpu_seconds': round(train_cpu_seconds, 1),
        'accuracy_torch': round(torch_acc, 6), 'accuracy_onnxruntime': round(ort_acc, 6),
        'max_abs_diff_torch_vs_onnxruntime': float(np.abs(torch_probs - ort_probs).max()),
    }
    common.report(HERE, metrics)


if __name__ == '__main__':
    main()
