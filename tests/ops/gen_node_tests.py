#!/usr/bin/python3
"""Generate the ONNX backend node test suite into a directory.

Usage: gen_node_tests.py OUTDIR

Writes OUTDIR/node/test_xxx/{model.onnx, test_data_set_0/input_N.pb, output_N.pb}, the same
files as `python3 -m onnx.backend.test.cmd_tools generate-data -o OUTDIR`, using the onnx
package installed on the machine (Debian's python3-onnx 1.12). The suite is not checked in: it
is several thousand small files and is fully determined by the onnx version.

Differences from running the onnx tool directly:
- onnx 1.12's case generators still use numpy aliases (np.float, np.object, ...) that numpy
  1.24 removed, so they are put back before onnx is imported.
- The output is built in a sibling temporary folder and moved into place only when complete,
  so an interrupted run never leaves a half-written suite behind a Makefile stamp. Re-running
  replaces OUTDIR as a whole.
- numpy's global generator is seeded, so two runs write byte-identical files (many cases draw
  from np.random without a seed of their own).
- OUTDIR/real is dropped: its entries hold only a download address for a large model, and
  nothing is downloaded at test time. OUTDIR/simple (small multi-node models with data) stays.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

# Restore the aliases removed in numpy 1.24; they were plain builtins. Set unconditionally:
# probing with hasattr() makes numpy 1.24 print a FutureWarning per name.
for _name, _value in (("float", float), ("int", int), ("bool", bool),
                      ("object", object), ("complex", complex), ("str", str)):
    setattr(np, _name, _value)

import onnx  # noqa: E402  (must come after the aliases)
from onnx.backend.test import cmd_tools  # noqa: E402


def count_cases(root):
    node_dir = os.path.join(root, "node")
    if not os.path.isdir(node_dir):
        return 0
    return sum(1 for d in os.listdir(node_dir) if d.startswith("test_"))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="folder to (re)create; node cases go to OUTDIR/node")
    parser.add_argument("-t", "--op_type", default=None,
                        help="only cases that use this op type (as in onnx's tool)")
    args = parser.parse_args(argv)

    outdir = os.path.abspath(args.outdir)
    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)

    start = time.monotonic()
    np.random.seed(0)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(outdir) + ".tmp-", dir=parent)
    try:
        cmd_tools.generate_data(argparse.Namespace(output=tmp, op_type=args.op_type))
        shutil.rmtree(os.path.join(tmp, "real"), ignore_errors=True)
        if os.path.exists(outdir):
            shutil.rmtree(outdir)
        os.rename(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    n = count_cases(outdir)
    print(f"gen_node_tests: {n} node cases from onnx {onnx.__version__} "
          f"in {time.monotonic() - start:.1f}s -> {outdir}/node")
    if n == 0:
        print("gen_node_tests: no node cases were generated", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
