#!/usr/bin/python3
"""Export the end-to-end test models and their inputs.

Usage: export_models.py OUTDIR [NAME ...]

Writes, for each model NAME (default: all of them):
  OUTDIR/NAME.onnx        opset 13 unless noted, input "input", output "output"
  OUTDIR/NAME.input.npy   a fixed input: float32 from a seeded normal distribution, or seeded int64 token ids

  mobilenet_v2  torchvision MobileNetV2, input [1, 3, 224, 224]
  resnet18      torchvision ResNet-18,   input [1, 3, 224, 224]
  mlp           Linear 64->128, ReLU, Linear 128->64, ReLU, Linear 64->10;
                input [batch, 64] with a dynamic batch dimension named "batch" (the file holds 4)

and a wider set of architectures, each small enough to run in well under a second:

  squeezenet1_1        torchvision SqueezeNet 1.1 (Fire modules: Concat, ceil-mode MaxPool), [1, 3, 96, 96]
  shufflenet_v2_x0_5   torchvision ShuffleNetV2 0.5x (channel shuffle: Reshape/Transpose, Split), [1, 3, 96, 96]
  mnasnet0_5           torchvision MNASNet 0.5 (depthwise 3x3 and 5x5), [1, 3, 96, 96]
  efficientnet_b0      torchvision EfficientNet-B0 (SiLU, squeeze-excitation with Sigmoid/Mul), [1, 3, 112, 112]
  googlenet            torchvision GoogLeNet, no auxiliary heads, its own weight init (Inception
                       branches), [1, 3, 96, 96]
  regnet_y_400mf       torchvision RegNetY-400MF (grouped conv, squeeze-excitation), [1, 3, 96, 96]
  mobilenet_v3_small   torchvision MobileNetV3-Small (HardSwish, HardSigmoid), [1, 3, 96, 96], opset 14
  densenet121          torchvision DenseNet-121 with 10 classes (dense Concat, AvgPool), [1, 3, 64, 64]
  text_transformer     token embedding (Gather) + learned positions, 2 TransformerEncoder layers (GELU),
                       LayerNorm, per-token Linear; int64 token ids [1, seq] in [0, 1000) with a dynamic
                       sequence dimension named "seq" (the file holds 24)
  lstm                 2-layer LSTM 16->32 + per-step Linear 32->5, opset 14;
                       input [1, seq, 16] with "seq" dynamic (the file holds 20)
  gru                  bidirectional GRU 16->24 + per-step Linear 48->5, opset 14;
                       input [1, seq, 16] with "seq" dynamic (the file holds 20)
  unet                 two-level UNet: ConvTranspose and bilinear Resize (align_corners False, by scale
                       and by size) upsampling, Concat skips; input [1, 3, 64, 64], output [1, 3, 64, 64]
  audio_conv1d         1-D convolutions (strided, dilated, grouped), BatchNorm, Max/AvgPool, global mean,
                       Linear; input [1, 1, 4000]
  dynamic_reshape      small CNN whose head rearranges by the runtime shape (view/transpose/flatten on
                       x.shape), exported without constant folding so the Shape/Gather/Unsqueeze/Concat/
                       Reshape chains stay in the graph; input [batch, 3, 32, 32] (the file holds 2)
  causal_lm            decoder-only language model: token and position (Range) embeddings, 2 pre-norm
                       TransformerEncoder layers under a causal mask (Trilu), LayerNormalization,
                       LogSoftmax over a 500-token vocabulary, opset 17; int64 ids [batch, seq] with both
                       dims dynamic (the file holds [2, 16])
  swin_mini            torchvision SwinTransformer, 2 stages of 2 blocks, embed dim 32, window 4 (shifted
                       windows: Pad, Where masks, relative position bias), [1, 3, 64, 64]
  convnext_mini        torchvision ConvNeXt, 2 stages of 2 blocks at 32 and 64 channels (7x7 depthwise
                       conv, channels-last LayerNorm, layer scale 0.5 so the blocks do not vanish), [1, 3, 64, 64]
  maxvit_mini          torchvision MaxVit, 2 stages of 1 block (MBConv with squeeze-excitation, block and
                       grid attention with Einsum relative bias), [1, 3, 64, 64]
  raft_small           torchvision RAFT-small, 2 flow updates (InstanceNorm, correlation pyramid,
                       GridSample, ConvGRU), opset 16; the two frames stacked on channels,
                       input [1, 6, 128, 128], output the final flow [1, 2, 128, 128]
  roi_heads            two-stage detector head: a stride-4 conv backbone, 6 fixed proposals pooled with
                       torchvision roi_align (aligned, RoiAlign) and roi_pool (MaxRoiPool), a Linear
                       classifier, opset 16; input [1, 3, 64, 64], output [6, 5]

The weights are random (torch.manual_seed(0) before each model is built, weights=None for
torchvision), so nothing is downloaded; the tests compare this runtime against onnxruntime on the
same file, which needs no trained weights. BatchNorm running statistics are drawn at random too:
left at their defaults (mean 0, var 1, scale 1, shift 0) every BatchNorm would be an identity
and a mistake in folding or applying it would go unnoticed.

Uses the TorchScript-based exporter (torch.onnx.export with dynamo=False where torch knows that
argument), with constant folding on unless a model says otherwise. Each file is written to a
temporary name and renamed, so a stopped run leaves no truncated model behind.
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


class TextTransformer(torch.nn.Module):
    """Token ids [batch, seq] -> per-token logits [batch, seq, classes]."""

    def __init__(self, vocab=1000, dim=64, heads=4, ff=128, layers=2, max_len=128, classes=8):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Parameter(torch.randn(max_len, dim) * 0.1)
        # Sequence-first layout (torch's default): the batch-first one would take torch's fused
        # inference path, which has no ONNX export.
        layer = torch.nn.TransformerEncoderLayer(dim, heads, ff, dropout=0.0, activation="gelu")
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, classes)

    def forward(self, ids):
        x = self.embed(ids) + self.pos[:ids.shape[1]]
        x = self.encoder(x.transpose(0, 1)).transpose(0, 1)
        return self.head(self.norm(x))


class LSTMTagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(16, 32, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(32, 5)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


class GRUTagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.GRU(16, 24, batch_first=True, bidirectional=True)
        self.head = torch.nn.Linear(48, 5)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def conv_bn_relu(cin, cout, dims=2, **kw):
    conv = torch.nn.Conv2d if dims == 2 else torch.nn.Conv1d
    bn = torch.nn.BatchNorm2d if dims == 2 else torch.nn.BatchNorm1d
    return torch.nn.Sequential(conv(cin, cout, bias=False, **kw), bn(cout), torch.nn.ReLU())


class UNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = torch.nn.Sequential(conv_bn_relu(3, 8, kernel_size=3, padding=1),
                                        conv_bn_relu(8, 8, kernel_size=3, padding=1))
        self.enc2 = torch.nn.Sequential(conv_bn_relu(8, 16, kernel_size=3, padding=1),
                                        conv_bn_relu(16, 16, kernel_size=3, padding=1))
        self.mid = conv_bn_relu(16, 32, kernel_size=3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.up2 = torch.nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2)
        self.dec2 = conv_bn_relu(32, 16, kernel_size=3, padding=1)
        self.up1 = torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dec1 = conv_bn_relu(24, 8, kernel_size=3, padding=1)
        self.out = torch.nn.Conv2d(8, 3, kernel_size=1)

    def forward(self, x):
        e1 = self.enc1(x)                       # [1, 8, H, W]
        e2 = self.enc2(self.pool(e1))           # [1, 16, H/2, W/2]
        m = self.mid(self.pool(e2))             # [1, 32, H/4, W/4]
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        # A second bilinear resize, by output size rather than by scale.
        coarse = torch.nn.functional.interpolate(m[:, :3], size=x.shape[2:], mode="bilinear",
                                                 align_corners=False)
        return self.out(d1) + coarse


class AudioConv1d(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            conv_bn_relu(1, 16, dims=1, kernel_size=9, stride=2, padding=4),
            torch.nn.MaxPool1d(4),
            conv_bn_relu(16, 32, dims=1, kernel_size=5, dilation=2, padding=4),
            torch.nn.AvgPool1d(3, stride=2, padding=1),
            conv_bn_relu(32, 32, dims=1, kernel_size=3, padding=1, groups=4),
            torch.nn.MaxPool1d(3, stride=2, ceil_mode=True),
            conv_bn_relu(32, 64, dims=1, kernel_size=3, padding=1))
        self.head = torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=2))


class DynamicReshape(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            conv_bn_relu(3, 8, kernel_size=3, padding=1), torch.nn.MaxPool2d(2),
            conv_bn_relu(8, 16, kernel_size=3, padding=1), torch.nn.MaxPool2d(2))
        self.proj = torch.nn.Linear(16, 16)
        self.fc = torch.nn.Linear(16 * 8 * 8, 12)

    def forward(self, x):
        x = self.features(x)                              # [b, 16, 8, 8]
        b, c, h, w = x.shape
        t = self.proj(x.view(b, c, h * w).transpose(1, 2))  # [b, h*w, c]
        t = t.transpose(1, 2).reshape(b, -1, h, w) + x
        y = self.fc(torch.flatten(t, 1))                  # [b, 12]
        return y.view(x.size(0), 3, -1).softmax(-1)


class CausalLM(torch.nn.Module):
    """Token ids [batch, seq] -> next-token log-probabilities [batch, seq, vocab]."""

    def __init__(self, vocab=500, dim=64, heads=4, ff=128, layers=2, max_len=128):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Embedding(max_len, dim)
        # The attention mask keeps torch off its fused inference path, which has no ONNX export.
        layer = torch.nn.TransformerEncoderLayer(dim, heads, ff, dropout=0.0, batch_first=True, norm_first=True)
        self.decoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(dim, vocab)

    def forward(self, ids):
        n = ids.shape[1]
        x = self.embed(ids) + self.pos(torch.arange(n).unsqueeze(0))
        mask = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        return self.head(self.decoder(x, mask=mask)).log_softmax(-1)


def swin_mini():
    from torchvision.models.swin_transformer import SwinTransformer
    return SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                           window_size=[4, 4], num_classes=10)


def convnext_mini():
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    return ConvNeXt([CNBlockConfig(32, 64, 2), CNBlockConfig(64, None, 2)], layer_scale=0.5, num_classes=10)


def maxvit_mini():
    from torchvision.models.maxvit import MaxVit
    return MaxVit(input_size=(64, 64), stem_channels=16, partition_size=4, block_channels=[32, 64],
                  block_layers=[1, 1], head_dim=16, stochastic_depth_prob=0.0, num_classes=10)


class RaftSmall(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.raft = torchvision.models.optical_flow.raft_small(weights=None)

    def forward(self, frames):
        return self.raft(frames[:, :3], frames[:, 3:], num_flow_updates=2)[-1]


class RoiHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Sequential(conv_bn_relu(3, 16, kernel_size=3, stride=2, padding=1),
                                            conv_bn_relu(16, 32, kernel_size=3, stride=2, padding=1))
        # (batch index, x1, y1, x2, y2) in input pixels: fractional, half-pixel, single-pixel,
        # partly outside and inverted proposals.
        self.register_buffer("proposals", torch.tensor([
            [0, 4.0, 6.0, 40.0, 30.0], [0, 10.5, 2.5, 22.5, 60.5], [0, 0.0, 0.0, 63.0, 63.0],
            [0, 30.0, 30.0, 31.0, 31.0], [0, 50.0, -8.0, 80.0, 20.0], [0, 20.0, 40.0, 12.0, 33.0]]))
        self.classifier = torch.nn.Linear(2 * 32 * 4 * 4, 5)

    def forward(self, x):
        f = self.backbone(x)
        a = torchvision.ops.roi_align(f, self.proposals, (4, 4), spatial_scale=0.25, sampling_ratio=2,
                                      aligned=True)
        p = torchvision.ops.roi_pool(f, self.proposals, (4, 4), spatial_scale=0.25)
        return self.classifier(torch.cat([a, p], 1).flatten(1))


def tv(name, **kw):
    return lambda: getattr(torchvision.models, name)(weights=None, **kw)


class Spec:
    """How to export one model: its constructor, input shape and dynamic axes of the input, the
    opset, whether constant folding is on, and the input's kind ("normal" floats or int64 token ids
    below `vocab`)."""

    def __init__(self, build, shape, dyn=None, opset=OPSET, fold=True, vocab=None):
        self.build, self.shape, self.dyn = build, shape, dyn
        self.opset, self.fold, self.vocab = opset, fold, vocab


MODELS = {
    "mobilenet_v2": Spec(tv("mobilenet_v2"), [1, 3, 224, 224]),
    "resnet18": Spec(tv("resnet18"), [1, 3, 224, 224]),
    "mlp": Spec(MLP, [4, 64], {0: "batch"}),
    "squeezenet1_1": Spec(tv("squeezenet1_1"), [1, 3, 96, 96]),
    "shufflenet_v2_x0_5": Spec(tv("shufflenet_v2_x0_5"), [1, 3, 96, 96]),
    "mnasnet0_5": Spec(tv("mnasnet0_5"), [1, 3, 96, 96]),
    "efficientnet_b0": Spec(tv("efficientnet_b0"), [1, 3, 112, 112]),
    "googlenet": Spec(tv("googlenet", aux_logits=False, init_weights=True), [1, 3, 96, 96]),
    "regnet_y_400mf": Spec(tv("regnet_y_400mf"), [1, 3, 96, 96]),
    "mobilenet_v3_small": Spec(tv("mobilenet_v3_small"), [1, 3, 96, 96], opset=14),
    "densenet121": Spec(tv("densenet121", num_classes=10), [1, 3, 64, 64]),
    "text_transformer": Spec(TextTransformer, [1, 24], {1: "seq"}, vocab=1000),
    "lstm": Spec(LSTMTagger, [1, 20, 16], {1: "seq"}, opset=14),
    "gru": Spec(GRUTagger, [1, 20, 16], {1: "seq"}, opset=14),
    "unet": Spec(UNet, [1, 3, 64, 64]),
    "audio_conv1d": Spec(AudioConv1d, [1, 1, 4000]),
    "dynamic_reshape": Spec(DynamicReshape, [2, 3, 32, 32], {0: "batch"}, fold=False),
    "causal_lm": Spec(CausalLM, [2, 16], {0: "batch", 1: "seq"}, opset=17, vocab=500),
    "swin_mini": Spec(swin_mini, [1, 3, 64, 64]),
    "convnext_mini": Spec(convnext_mini, [1, 3, 64, 64]),
    "maxvit_mini": Spec(maxvit_mini, [1, 3, 64, 64]),
    "raft_small": Spec(RaftSmall, [1, 6, 128, 128], opset=16),
    "roi_heads": Spec(RoiHeads, [1, 3, 64, 64], opset=16),
}


def export_kwargs():
    # Newer torch versions default to (or offer) the dynamo-based exporter, which needs
    # onnxscript; ask for the TorchScript one explicitly wherever the argument exists.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        return {"dynamo": False}
    return {}


def export_one(name, outdir):
    spec = MODELS[name]
    torch.manual_seed(0)
    model = spec.build()
    randomize_batchnorm(model)
    model.eval()

    rng = np.random.default_rng(0)
    if spec.vocab:
        x = rng.integers(0, spec.vocab, spec.shape, dtype=np.int64)
    else:
        x = rng.standard_normal(spec.shape, dtype=np.float32)

    onnx_path = os.path.join(outdir, name + ".onnx")
    npy_path = os.path.join(outdir, name + ".input.npy")
    tmp_onnx = onnx_path + ".tmp"
    tmp_npy = npy_path + ".tmp"

    dynamic_axes = None
    if spec.dyn:
        dynamic_axes = {"input": spec.dyn, "output": spec.dyn}
    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(x),), tmp_onnx,
                          input_names=["input"], output_names=["output"],
                          opset_version=spec.opset, do_constant_folding=spec.fold,
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
          f"onnx {onnx.__version__}, opset {OPSET} unless noted")
    for name in names:
        start = time.monotonic()
        export_one(name, args.outdir)
        print(f"  {name}: exported in {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
