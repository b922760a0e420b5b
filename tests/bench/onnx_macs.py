#!/usr/bin/python3
"""Multiply-accumulates of ONNX models: Conv, ConvTranspose, Gemm and MatMul, from the shapes
ONNX shape inference gives (every shape must be known; a symbolic input dim counts as 1, as in
the benchmark's inputs). Shape arithmetic that inference cannot see through (Shape -> Gather ->
Div -> Slice, as torch exports chunk()) is evaluated with numpy and the inference run again.
Prints one JSON object {file: macs}.

Usage: onnx_macs.py MODEL.onnx ...
"""

import json
import math
import sys

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference


def shapes_of(graph):
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = vi.type.tensor_type
        dims = t.shape.dim
        if t.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = [d.dim_value for d in dims]
    return shapes


def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


SHAPE_OPS = {
    "Gather": lambda n, x: np.take(x[0], x[1], axis=attr(n, "axis", 0)),
    "Add": lambda n, x: x[0] + x[1],
    "Sub": lambda n, x: x[0] - x[1],
    "Mul": lambda n, x: x[0] * x[1],
    "Div": lambda n, x: x[0] // x[1] if x[0].dtype.kind == "i" else x[0] / x[1],
    "Unsqueeze": lambda n, x: np.expand_dims(x[0], tuple(x[1].tolist())),
    "Concat": lambda n, x: np.concatenate(x, axis=attr(n, "axis", 0)),
    "Cast": lambda n, x: x[0].astype(onnx.helper.tensor_dtype_to_np_dtype(attr(n, "to", 1))),
}


def fold_shape_arithmetic(model):
    """Replaces Shape of known shapes, Constant, and the ops of SHAPE_OPS on known values by
    initializers; returns whether anything changed."""
    graph = model.graph
    shapes = shapes_of(graph)
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    keep, changed = [], False
    for n in graph.node:
        value = None
        if n.op_type == "Constant" and n.attribute[0].name == "value":
            value = numpy_helper.to_array(n.attribute[0].t)
        elif n.op_type == "Shape" and n.input[0] in shapes and len(n.attribute) == 0:
            value = np.array(shapes[n.input[0]], dtype=np.int64)
        elif n.op_type in SHAPE_OPS and all(i in values for i in n.input):
            value = np.asarray(SHAPE_OPS[n.op_type](n, [values[i] for i in n.input]))
        if value is None:
            keep.append(n)
            continue
        values[n.output[0]] = value
        graph.initializer.append(numpy_helper.from_array(value, n.output[0]))
        changed = True
    del graph.node[:]
    graph.node.extend(keep)
    return changed


def model_macs(path):
    model = onnx.load(path)
    for vi in model.graph.input:
        for d in vi.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_value = 1
    model = shape_inference.infer_shapes(model)
    while fold_shape_arithmetic(model):
        model = shape_inference.infer_shapes(model)
    graph = model.graph
    shapes = shapes_of(graph)

    def shape(name, node):
        if name not in shapes:
            raise SystemExit(f"{path}: node '{node.name}' ({node.op_type}): shape of '{name}' unknown")
        return shapes[name]

    total = 0
    for n in graph.node:
        if n.op_type == "Conv":  # output [N, M, ...] x weight [M, C/group, k...] without M
            total += math.prod(shape(n.output[0], n)) * math.prod(shape(n.input[1], n)[1:])
        elif n.op_type == "ConvTranspose":  # input [N, C, ...] x weight [C, M/group, k...] without C
            total += math.prod(shape(n.input[0], n)) * math.prod(shape(n.input[1], n)[1:])
        elif n.op_type == "Gemm":
            a = shape(n.input[0], n)
            k = a[0] if attr(n, "transA", 0) else a[1]
            total += math.prod(shape(n.output[0], n)) * k
        elif n.op_type == "MatMul":
            a = shape(n.input[0], n)
            total += math.prod(shape(n.output[0], n)) * a[-1]
    return total


if __name__ == "__main__":
    print(json.dumps({p: model_macs(p) for p in sys.argv[1:]}))
