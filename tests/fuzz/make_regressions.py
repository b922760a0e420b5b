#!/usr/bin/python3
"""Write the hand-built hostile models of tests/fuzz/regressions (checked in; run again only to
add a case). Each file is named by what it checks; tests/unit/test_hostile.c states the outcome
each one must have, and the fuzz targets replay them all under ASan/UBSan.

Usage: make_regressions.py OUTDIR
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BIG = 1 << 40
HUGE = (1 << 63) - 1


def save(out, name, nodes, inputs, outputs, inits=(), opset=13):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, producer_name="edgeinfer-hostile",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())


def f32(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name=name)


def unary_on_empty(out, name, op, dims, **attrs):
    """op over a declared input whose element count is 0 but whose other dims are huge."""
    save(out, name, [helper.make_node(op, ["x"], ["y"], **attrs)], [f32("x", dims)], [f32("y", None)])


def folded_empty(out, name, op, dims, **attrs):
    """op over a folded constant (ConstantOfShape) whose element count is 0, other dims huge."""
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c"]),
             helper.make_node(op, ["c"], ["y"], **attrs)]
    save(out, name, nodes, [], [f32("y", None)], [i64("shape", dims)])


def main(argv):
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    # zero-element tensors whose other dims are huge: refused where the shape is born
    unary_on_empty(out, "empty-huge-dims-averagepool-input", "AveragePool", [0, BIG, BIG, BIG],
                   kernel_shape=[2, 2])
    unary_on_empty(out, "empty-huge-dims-softmax-axis0-input", "Softmax", [0, HUGE, HUGE], axis=0)
    folded_empty(out, "empty-huge-dims-softmax-axis0-folded", "Softmax", [0, HUGE, HUGE], axis=0)
    folded_empty(out, "empty-huge-dims-logsoftmax-folded", "LogSoftmax", [BIG, 0, BIG], axis=2)
    folded_empty(out, "empty-huge-dims-averagepool-folded", "AveragePool", [0, BIG, BIG, BIG],
                 kernel_shape=[2, 2])
    # zero-element tensors with a large outer extent: ops must not loop over the empty rows
    for op, attrs in [("Softmax", {"axis": -1}), ("LogSoftmax", {"axis": -1}), ("Hardmax", {"axis": -1}),
                      ("LpNormalization", {"axis": -1}), ("LRN", {"size": 3})]:
        unary_on_empty(out, "empty-rows-%s" % op.lower(), op, [1 << 29, 1, 0] if op != "LRN" else
                       [1 << 27, 4, 0, 1], **attrs)
    nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=-1)]
    save(out, "empty-rows-topk", nodes, [f32("x", [1 << 28, 0])],
         [f32("v", None), helper.make_tensor_value_info("i", TensorProto.INT64, None)], [i64("k", [0])])
    nodes = [helper.make_node("CumSum", ["x", "axis"], ["y"])]
    save(out, "empty-rows-cumsum", nodes, [f32("x", [1 << 29, 0])], [f32("y", None)], [i64("axis", [1])])
    # pads near 2^31 on the quantized convolutions (plain Conv checks them)
    for op in ("ConvInteger", "QLinearConv"):
        u8 = lambda n, d: helper.make_tensor_value_info(n, TensorProto.UINT8, d)
        inits = [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.uint8), "w"),
                 numpy_helper.from_array(np.array(0, np.uint8), "zp"),
                 numpy_helper.from_array(np.array(1, np.float32), "sc")]
        ins = ["x", "w"] if op == "ConvInteger" else ["x", "sc", "zp", "w", "sc", "zp", "sc", "zp"]
        nodes = [helper.make_node(op, ins, ["y"], pads=[2**31 - 1, 2**31 - 1, 2**31 - 1, 2**31 - 1])]
        save(out, "pads-near-2^31-%s" % op.lower(), nodes, [u8("x", [1, 1, 2, 2])],
             [helper.make_tensor_value_info("y", TensorProto.INT32 if op == "ConvInteger" else TensorProto.UINT8,
                                            None)], inits)

    # attributes of the wrong type are errors naming the attribute
    wrong = [("Gather", {"axis": 1.0}, ["x", "idx"]), ("Transpose", {"perm": [1.0, 0.0]}, ["x"]),
             ("Transpose", {"perm": ["a", "b"]}, ["x"]), ("LeakyRelu", {"alpha": [0.1, 0.2]}, ["x"])]
    for op, attrs, ins in wrong:
        kind = helper.make_attribute(*next(iter(attrs.items()))).type
        name = "attr-wrong-type-%s-%s-%s" % (op.lower(), next(iter(attrs)),
                                             onnx.AttributeProto.AttributeType.Name(kind).lower())
        save(out, name, [helper.make_node(op, ins, ["y"], **attrs)], [f32("x", [2, 2])], [f32("y", None)],
             [i64("idx", [0])])
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads="1")]
    save(out, "attr-wrong-type-conv-pads-string", nodes, [f32("x", [1, 1, 3, 3])], [f32("y", None)],
         [numpy_helper.from_array(np.ones((1, 1, 2, 2), np.float32), "w")])
    # ConvTranspose with output_shape and no auto_pad: the spec's derived padding (begin = total - total/2)
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_shape=[6, 6])]
    save(out, "convtranspose-output-shape-derived-pads", nodes, [f32("x", [1, 1, 3, 3])], [f32("y", [1, 1, 6, 6])],
         [numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")])

    # memory: constants folded at plan time count against the session's budget
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c"]), helper.make_node("Add", ["c", "c"], ["d"]),
             helper.make_node("Add", ["d", "c"], ["e"]), helper.make_node("Add", ["e", "d"], ["y"])]
    save(out, "fold-chain-session-budget", nodes, [], [f32("y", None)], [i64("shape", [1 << 28])])
    # loops: nested Loops of 100 x 100 body runs (with a budget of 1,000 the run fails)
    def loop(name, body_nodes, out):
        """A Loop of m trips carrying v; body_nodes compute v_out from v (and may loop themselves)."""
        body = helper.make_graph(body_nodes + [helper.make_node("Identity", ["c"], ["c_out"])], name + "_body",
                                 [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                                  helper.make_tensor_value_info("c", TensorProto.BOOL, []), f32("v", [1])],
                                 [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []), f32("v_out", [1])])
        return helper.make_node("Loop", ["m", "", "v"], [out], body=body)
    inner = loop("inner", [helper.make_node("Identity", ["v"], ["v_out"])], "v_out")
    outer = loop("outer", [inner], "y")
    save(out, "loop-nest-iteration-budget", [outer], [f32("v", [1])], [f32("y", [1])], [i64("m", 100)])
    # 3,000 x 3,000 body runs (within the default budget): a run long enough to cancel, for the JS
    # tests (too slow to replay under the sanitizers)
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js", "fixtures")
    os.makedirs(fixtures, exist_ok=True)
    save(fixtures, "loop-nest-long-running", [outer], [f32("v", [1])], [f32("y", [1])], [i64("m", 3000)])
    # messages that name the real problem
    for v in (0, -1):
        save(out, "opset-%d-import" % v, [helper.make_node("Relu", ["x"], ["y"])], [f32("x", [2])], [f32("y", [2])],
             opset=v)
    nodes = [helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"])]
    save(out, "pad-opset18-axes", nodes, [f32("x", [2, 3])], [f32("y", [2, 5])],
         [i64("pads", [1, 1]), i64("axes", [-1])], opset=18)
    nodes = [helper.make_node("Einsum", ["x"], ["y"], equation="i\u00e9->i")]
    save(out, "einsum-utf8-label", nodes, [f32("x", [2, 2])], [f32("y", None)])

    # a float16 output declared by the model stays float16 (initializer and Constant)
    half = numpy_helper.from_array(np.array([1.0, 2.0], np.float16), "c")
    f16 = helper.make_tensor_value_info("y", TensorProto.FLOAT16, [2])
    save(out, "float16-initializer-output", [helper.make_node("Identity", ["c"], ["y"])], [], [f16], [half])
    save(out, "float16-constant-output", [helper.make_node("Constant", [], ["y"], value=half)], [], [f16])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
