#!/usr/bin/python3
"""Write the small models and .npy files that tests/cli/errors.sh feeds to the CLI.

Usage: make_fixtures.py OUTDIR

Everything is deterministic (fixed seeds), so a failure reproduces exactly:
  good.onnx          y = Relu(x + b), x float32 [2,3], b a [3] initializer; node names set
  symbolic.onnx      the same graph with x [batch,3] (a named symbolic dim)
  slash.onnx         one Relu whose output is named "block/out:0" (file name mapping)
  shape_arith.onnx   x [batch,2,3] reshaped to [batch,6] through Shape -> Gather -> Concat ->
                     Reshape: the shape arithmetic folds, so the plan stays static
  unknown_op.onnx    one node of op type "FooBar" named "mystery_node"
  random.onnx        512 random bytes
  truncated.onnx     the first half of a valid model with a 4 KiB initializer
  x_ok.npy           float32 [2,3], the input good.onnx expects
  x_shape.npy        float32 [3,2] (wrong dims)
  x_dtype.npy        int64 [2,3] (wrong dtype)
  x_trunc_header.npy a .npy cut inside its header
  x_short_data.npy   a .npy whose data is shorter than its shape says
  x_absurd_shape.npy a header claiming shape (10**18, 10**18)
  x_fortran.npy      a [2,3] array saved with fortran_order True
  x_not_npy.npy      text, not a .npy file
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def save_model(graph, path):
    model = helper.make_model(graph, producer_name="edgeinfer-tests",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.save(model, path)
    return model


def add_relu_graph(input_dims):
    b = numpy_helper.from_array(np.array([0.5, -1.0, 2.0], dtype=np.float32), name="b")
    nodes = [
        helper.make_node("Add", ["x", "b"], ["sum"], name="add_bias"),
        helper.make_node("Relu", ["sum"], ["y"], name="relu_out"),
    ]
    return helper.make_graph(
        nodes, "add_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, input_dims)],
        initializer=[b])


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)  # noqa: E731

    save_model(add_relu_graph([2, 3]), p("good.onnx"))
    save_model(add_relu_graph(["batch", 3]), p("symbolic.onnx"))

    save_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["block/out:0"], name="relu")], "slash",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("block/out:0", TensorProto.FLOAT, [2, 3])]), p("slash.onnx"))

    save_model(helper.make_graph(
        [helper.make_node("Shape", ["x"], ["s"], name="shape"),
         helper.make_node("Gather", ["s", "zero"], ["b"], name="batch", axis=0),
         helper.make_node("Concat", ["b", "minus_one"], ["new_shape"], name="concat", axis=0),
         helper.make_node("Reshape", ["x", "new_shape"], ["r"], name="reshape"),
         helper.make_node("Relu", ["r"], ["y"], name="relu")], "shape_arith",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 6])],
        initializer=[numpy_helper.from_array(np.array([0], np.int64), name="zero"),
                     numpy_helper.from_array(np.array([-1], np.int64), name="minus_one")]), p("shape_arith.onnx"))

    save_model(helper.make_graph(
        [helper.make_node("FooBar", ["x"], ["y"], name="mystery_node")], "unknown_op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])]), p("unknown_op.onnx"))

    rng = np.random.default_rng(1234)
    with open(p("random.onnx"), "wb") as f:
        f.write(rng.integers(0, 256, 512, dtype=np.uint8).tobytes())

    w = numpy_helper.from_array(rng.standard_normal((32, 32)).astype(np.float32), name="w")
    big = helper.make_model(helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")], "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])],
        initializer=[w]), opset_imports=[helper.make_opsetid("", OPSET)])
    big.ir_version = 8
    data = big.SerializeToString()
    with open(p("truncated.onnx"), "wb") as f:
        f.write(data[:len(data) // 2])

    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    np.save(p("x_ok.npy"), x)
    np.save(p("x_shape.npy"), x.reshape(3, 2))
    np.save(p("x_dtype.npy"), np.arange(6, dtype=np.int64).reshape(2, 3))
    np.save(p("x_fortran.npy"), np.asfortranarray(x))

    with open(p("x_ok.npy"), "rb") as f:
        ok = f.read()
    with open(p("x_trunc_header.npy"), "wb") as f:
        f.write(ok[:40])
    with open(p("x_short_data.npy"), "wb") as f:
        f.write(ok[:-8])

    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000000, 1000000000000000000), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(p("x_absurd_shape.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("ascii") + b"\0" * 16)

    with open(p("x_not_npy.npy"), "w") as f:
        f.write("0.5, 1.5, 2.5\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
