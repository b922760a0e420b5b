#!/usr/bin/python3
"""Quantize a float32 CNN into the QDQ int8 form onnxruntime's static quantizer writes, for the int8
benchmark (tests/bench/int8.mjs); not a general tool.

Usage:
  qdq_quantize.py calib MODEL.onnx OUT.onnx           every node output becomes a graph output, so a
                                                       runtime can record activation ranges
  qdq_quantize.py quant MODEL.onnx OUT.onnx RANGES.json
                                                       RANGES.json: {value: [min, max]} of those runs

Weights of Conv and Gemm: int8, symmetric, per output channel (scale max|w| / 127). Activations:
uint8, asymmetric, per tensor, from the recorded [min, max] widened to include 0. Every activation
gets QuantizeLinear -> DequantizeLinear after its producer, except a Conv or Gemm output read only
by a Relu or Clip (the activation's output gets it instead); biases become int32
DequantizeLinear(scale x_scale * w_scale). The graph output keeps its name.
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

mode, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
m = onnx.load(src)
g = m.graph
# Constant nodes -> initializers
inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
for n in list(g.node):
    if n.op_type == 'Constant':
        inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
consts = set(inits)
acts = []
for n in g.node:
    if n.op_type == 'Constant': continue
    for o in n.output:
        acts.append(o)
if mode == 'calib':
    have = {o.name for o in g.output}
    for a in acts:
        if a not in have: g.output.append(helper.make_tensor_value_info(a, TensorProto.FLOAT, None))
    onnx.save(m, dst); sys.exit()
ranges = json.load(open(sys.argv[4]))
readers = {}
for n in g.node:
    for i in n.input: readers.setdefault(i, []).append(n)
prod = {o: n for n in g.node for o in n.output}
def fold_act(v):
    # a Conv/Gemm output read only by Relu/Clip: the activation's output gets the QDQ
    p = prod.get(v); r = readers.get(v, [])
    return p is not None and p.op_type in ('Conv', 'Gemm') and len(r) == 1 and r[0].op_type in ('Relu', 'Clip')
new_inits, new_nodes = [], []
qparams = {}
def aq(v):
    lo, hi = ranges[v]; lo, hi = min(lo, 0.0), max(hi, 0.0)
    s = np.float32((hi - lo) / 255.0) if hi > lo else np.float32(1.0)
    z = int(np.clip(np.round(-lo / s), 0, 255))
    return s, z
out_names = {o.name for o in g.output}
rename = {}
to_q = [g.input[0].name] + [a for a in acts if a not in consts and not fold_act(a) and a in ranges]
for v in to_q:
    s, z = aq(v); qparams[v] = (s, z)
    new_inits += [numpy_helper.from_array(np.array(s, np.float32), v + '_s'), numpy_helper.from_array(np.array(z, np.uint8), v + '_z')]
    src_v = v
    if v in out_names:
        src_v = v + '_raw'; prod[v].output[list(prod[v].output).index(v)] = src_v
    new_nodes.append((v, [helper.make_node('QuantizeLinear', [src_v, v + '_s', v + '_z'], [v + '_q']),
                          helper.make_node('DequantizeLinear', [v + '_q', v + '_s', v + '_z'], [v if v in out_names else v + '_dq'])]))
    if v not in out_names:
        for n in readers.get(v, []):
            for k, i in enumerate(n.input):
                if i == v: n.input[k] = v + '_dq'
# weights
for n in g.node:
    if n.op_type not in ('Conv', 'Gemm'): continue
    wname = n.input[1]; w = inits[wname].astype(np.float32)
    trans_b = any(a.name == 'transB' and a.i for a in n.attribute)
    axis = 0 if (n.op_type == 'Conv' or trans_b) else 1
    red = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.abs(w).max(axis=red); sw = (np.maximum(amax, 1e-8) / 127.0).astype(np.float32)
    shp = [1] * w.ndim; shp[axis] = -1
    wq = np.clip(np.round(w / sw.reshape(shp)), -127, 127).astype(np.int8)
    new_inits += [numpy_helper.from_array(wq, wname + '_q'), numpy_helper.from_array(sw, wname + '_ws'),
                  numpy_helper.from_array(np.zeros(sw.shape, np.int8), wname + '_wz')]
    new_nodes.append((None, [helper.make_node('DequantizeLinear', [wname + '_q', wname + '_ws', wname + '_wz'], [wname + '_dqw'], axis=axis)]))
    n.input[1] = wname + '_dqw'
    if len(n.input) > 2 and n.input[2]:
        bname = n.input[2]; b = inits[bname].astype(np.float32)
        xin = n.input[0][:-3] if n.input[0].endswith('_dq') else n.input[0]
        sx = qparams[xin][0]; sb = (sx * sw).astype(np.float32)
        bq = np.round(b / sb).astype(np.int32)
        new_inits += [numpy_helper.from_array(bq, bname + '_bq'), numpy_helper.from_array(sb, bname + '_bs')]
        new_nodes.append((None, [helper.make_node('DequantizeLinear', [bname + '_bq', bname + '_bs'], [bname + '_dqb'], axis=0)]))
        n.input[2] = bname + '_dqb'
# assemble in topological order: QDQ right after the producer
nodes = []
after = {}
for v, ns in new_nodes: after.setdefault(v, []).extend(ns)
nodes += after.get(None, []) + after.get(g.input[0].name, [])
for n in g.node:
    nodes.append(n)
    for o in n.output: nodes += after.get(o, [])
    for o in n.output:
        if o.endswith('_raw'): nodes += after.get(o[:-4], [])
del g.node[:]; g.node.extend(nodes)
used = {i for n in nodes for i in n.input}
keep = [i for i in g.initializer if i.name in used]
del g.initializer[:]; g.initializer.extend(keep + new_inits)
onnx.checker.check_model(m)
onnx.save(m, dst)
print('wrote', dst, len(nodes), 'nodes')
