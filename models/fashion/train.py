#!/usr/bin/python3
"""Trains the Fashion-MNIST CNN and writes everything in models/fashion/.

Data: Fashion-MNIST from Debian's dataset-fashion-mnist package (/usr/share/datasets/
fashion-mnist; FASHION_MNIST_DIR overrides it): 60,000 training and 10,000 test images, 28x28
greyscale, object light on a black background. The model is trained on the 60,000 training
images and measured on the official 10,000 test images.

Writes model.onnx (input "image" [batch,1,28,28] float32 in 0..1, output "probs" [batch,10]),
golden/input.npy + golden/output.npy, test_x.npy (the first 2,000 official test images, uint8
[2000,28,28]) + test_y.npy (uint8 [2000]), labels.json, samples/<label>.png (the first test
image of each class) and metrics.json. Trains on 2 threads.
Usage: /usr/bin/python3 models/fashion/train.py
"""

import gzip
import os
import re
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import common  # noqa: E402

DATA_DIR = Path(os.environ.get('FASHION_MNIST_DIR', '/usr/share/datasets/fashion-mnist'))
LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
          'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
SEED = 0
THREADS = 2
EPOCHS = 12
BATCH = 128
LR = 3e-3
WEIGHT_DECAY = 1e-4
TEST_COMMITTED = 2000  # test images kept in test_x.npy


def read_idx(path, magic, dims):
    """Reads an IDX file (the MNIST container: big-endian magic and sizes, then uint8 data)."""
    raw = gzip.open(path).read()
    header = np.frombuffer(raw, dtype='>u4', count=1 + dims)
    if header[0] != magic:
        raise ValueError(f'{path}: magic {header[0]:#x}, expected {magic:#x}')
    shape = tuple(int(d) for d in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + dims))
    if data.size != np.prod(shape):
        raise ValueError(f'{path}: {data.size} bytes of data for shape {shape}')
    return data.reshape(shape)


def load(split):
    images = read_idx(DATA_DIR / f'{split}-images-idx3-ubyte.gz', 0x803, 3)
    labels = read_idx(DATA_DIR / f'{split}-labels-idx1-ubyte.gz', 0x801, 1)
    assert len(images) == len(labels)
    return images, labels


def to_input(images):
    """uint8 [N,28,28] -> the model's float32 [N,1,28,28] in 0..1."""
    return (images.astype(np.float32) / 255.0)[:, None, :, :]


def slug(label):
    """File name for a class: 'T-shirt/top' -> 't-shirt_top', 'Ankle boot' -> 'ankle_boot'."""
    return re.sub(r'[^a-z0-9-]+', '_', label.lower()).strip('_')


class FashionNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 5, stride=2, padding=2), torch.nn.ReLU(),  # [N,16,14,14]
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),           # [N,32,14,14]
            torch.nn.MaxPool2d(2),                                            # [N,32,7,7]
            torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(),           # [N,64,7,7]
            torch.nn.MaxPool2d(2))                                            # [N,64,3,3]
        self.classifier = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(64 * 3 * 3, 64), torch.nn.ReLU(),
            torch.nn.Linear(64, 10))

    def logits(self, x):
        return self.classifier(self.features(x))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def predict(model, x, batch=1000):
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i:i + batch])).numpy()
                               for i in range(0, len(x), batch)])


def main():
    common.make_deterministic(SEED, THREADS)
    train_images, train_labels = load('train')
    test_images, test_labels = load('t10k')
    x_train = torch.from_numpy(to_input(train_images))
    y_train = torch.from_numpy(train_labels.astype(np.int64))
    x_test = to_input(test_images)

    model = FashionNet()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
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
            xb = x_train[b]
            # Mirror half the batch: nearly all the data set's shoes point one way, photos need not.
            flip = torch.rand(len(b), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = torch.nn.functional.cross_entropy(model.logits(xb), y_train[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(b)
        print(f'epoch {epoch + 1}/{EPOCHS}: train loss {total / len(x_train):.4f} '
              f'({time.perf_counter() - t0:.0f} s)', flush=True)
    train_seconds = time.perf_counter() - t0
    train_cpu_seconds = time.process_time() - c0

    torch_probs = predict(model, x_test)
    model_path = HERE / 'model.onnx'
    common.export_onnx(model, torch.zeros(1, 1, 28, 28), model_path, 'image', 'probs')
    ort_probs = common.run_onnxruntime(model_path, x_test, 'probs')

    n = TEST_COMMITTED
    np.save(HERE / 'test_x.npy', np.ascontiguousarray(test_images[:n]))
    np.save(HERE / 'test_y.npy', test_labels[:n].astype(np.uint8))
    common.write_golden(HERE, model_path, x_test[common.pick_golden(ort_probs)], 'probs')
    common.write_json(HERE / 'labels.json', LABELS)

    samples = HERE / 'samples'
    samples.mkdir(exist_ok=True)
    for k, label in enumerate(LABELS):
        i = int(np.flatnonzero(test_labels == k)[0])
        common.write_png_gray(samples / f'{slug(label)}.png', test_images[i])

    metrics = {
        'parameters': common.count_params(model),
        'train_samples': len(x_train), 'test_samples': len(x_test), 'test_samples_committed': n,
        'epochs': EPOCHS, 'threads': THREADS, 'train_seconds': round(train_seconds, 1),
        'train_cpu_seconds': round(train_cpu_seconds, 1),
        'accuracy_torch': round(common.accuracy(torch_probs, test_labels), 6),
        'accuracy_onnxruntime': round(common.accuracy(ort_probs, test_labels), 6),
        'accuracy_torch_committed': round(common.accuracy(torch_probs[:n], test_labels[:n]), 6),
        'accuracy_onnxruntime_committed': round(common.accuracy(ort_probs[:n], test_labels[:n]), 6),
        'max_abs_diff_torch_vs_onnxruntime': float(np.abs(torch_probs - ort_probs).max()),
    }
    common.report(HERE, metrics)


if __name__ == '__main__':
    main()
