#!/usr/bin/python3
"""Trains the handwritten-digits CNN and writes everything in models/digits/.

Data: scikit-learn's load_digits (1,797 8x8 images, values 0..16 = ink pixels counted in each
4x4 block of a 32x32 bitmap). 20% held out, stratified, random_state 0.

Writes model.onnx (input "image" [batch,1,8,8] float32 in 0..1, output "probs" [batch,10]),
golden/input.npy + golden/output.npy, test_x.npy (the whole held-out split, already scaled,
float32 [N,1,8,8]) + test_y.npy (uint8 [N]), samples.json (held-out digits for the demo) and
metrics.json. Usage: /usr/bin/python3 models/digits/train.py
"""

import json
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import common  # noqa: E402

SEED = 0
EPOCHS = 40
BATCH = 32
LR = 2e-3


class DigitsNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(),   # [N,16,8,8]
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),  # [N,32,8,8]
            torch.nn.MaxPool2d(2))                                   # [N,32,4,4]
        self.classifier = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(32 * 4 * 4, 64), torch.nn.ReLU(),
            torch.nn.Dropout(0.25),
            torch.nn.Linear(64, 10))

    def logits(self, x):
        return self.classifier(self.features(x))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def main():
    common.make_deterministic(SEED, threads=1)
    digits = load_digits()
    images = digits.images.astype(np.float32)  # [1797, 8, 8], 0..16
    labels = digits.target.astype(np.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=SEED)

    x_all = (images / 16.0).astype(np.float32)[:, None, :, :]
    x_train, y_train = torch.from_numpy(x_all[idx_train]), torch.from_numpy(labels[idx_train])
    x_test, y_test = x_all[idx_test], labels[idx_test]

    model = DigitsNet()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps = EPOCHS * ((len(x_train) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
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
            sched.step()
            total += loss.item() * len(b)
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            print(f'epoch {epoch + 1}/{EPOCHS}: train loss {total / len(x_train):.4f}', flush=True)
    train_seconds = time.perf_counter() - t0
    train_cpu_seconds = time.process_time() - c0

    model.eval()
    with torch.no_grad():
        torch_probs = model(torch.from_numpy(x_test)).numpy()
    torch_acc = common.accuracy(torch_probs, y_test)

    model_path = HERE / 'model.onnx'
    common.export_onnx(model, torch.zeros(1, 1, 8, 8), model_path, 'image', 'probs')
    ort_probs = common.run_onnxruntime(model_path, x_test, 'probs')
    ort_acc = common.accuracy(ort_probs, y_test)

    np.save(HERE / 'test_x.npy', x_test)
    np.save(HERE / 'test_y.npy', y_test.astype(np.uint8))
    common.write_golden(HERE, model_path, x_test[common.pick_golden(ort_probs)], 'probs')

    # One held-out digit per class, raw 0..16 values in row-major order, for the demo.
    samples = []
    for digit in range(10):
        i = idx_test[np.flatnonzero(y_test == digit)[0]]
        samples.append({'label': int(digit), 'pixels': [int(v) for v in digits.images[i].reshape(-1)]})
    lines = ',\n'.join('  ' + json.dumps(s, separators=(', ', ': ')) for s in samples)
    (HERE / 'samples.json').write_text('[\n' + lines + '\n]\n', encoding='utf-8')

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
