#!/usr/bin/env bash
# Error behaviour of the edgeinfer CLI: every bad model, bad input file and bad command line must
# give a non-zero exit status and exactly one line on stderr, "edgeinfer: <file>: <message>",
# whose message names the problem (checked by key words), and never a crash or a sanitizer report.
# A few successful calls are checked too, so that a tool failing everything cannot pass.
#
# Usage: tests/cli/errors.sh CLI_BINARY     (e.g. build/edgeinfer or build/edgeinfer-asan)
# Fixtures are generated into build/cli-fixtures/ by tests/cli/make_fixtures.py.
# Prints one line per check and ends with "N passed, M failed"; exits 1 if any check failed.

set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 CLI_BINARY" >&2
    exit 2
fi
CLI=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FX="$ROOT/build/cli-fixtures"
PYTHON=/usr/bin/python3

if [ ! -x "$CLI" ]; then
    echo "errors.sh: $CLI is not an executable" >&2
    exit 2
fi
if ! "$PYTHON" "$ROOT/tests/cli/make_fixtures.py" "$FX"; then
    echo "errors.sh: could not generate the fixtures in $FX" >&2
    exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/edgeinfer-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

passed=0
failed=0
OUT="$TMP/stdout"
ERR="$TMP/stderr"

pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL  $1: $2"
    sed 's/^/      stderr: /' "$ERR" | head -n 20
}

# Fails the check when stderr holds a sanitizer report; prints nothing otherwise.
sanitizer_report() {
    grep -E -q 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' "$ERR"
}

# expect_error NAME STATUS 'KEYWORD|ALTERNATIVE' ... -- ARGS...
#   runs CLI ARGS, wants exit status STATUS, one stderr line starting "edgeinfer: ", and each
#   keyword (an extended regex, case-insensitive) somewhere in that line.
expect_error() {
    local name=$1 want=$2
    shift 2
    local keys=()
    while [ "$1" != "--" ]; do keys+=("$1"); shift; done
    shift
    "$CLI" "$@" >"$OUT" 2>"$ERR"
    local status=$?
    local lines
    lines=$(wc -l <"$ERR")
    if sanitizer_report; then fail "$name" "sanitizer report"; return; fi
    if [ "$status" -ge 128 ]; then fail "$name" "killed by signal $((status - 128))"; return; fi
    if [ "$status" -ne "$want" ]; then fail "$name" "exit status $status, expected $want"; return; fi
    if [ "$lines" -ne 1 ]; then fail "$name" "$lines lines on stderr, expected exactly 1"; return; fi
    if ! grep -q '^edgeinfer: ' "$ERR"; then fail "$name" "stderr does not start with 'edgeinfer: '"; return; fi
    local k
    for k in "${keys[@]}"; do
        if ! grep -E -i -q -- "$k" "$ERR"; then fail "$name" "stderr lacks /$k/"; return; fi
    done
    pass "$name"
}

# expect_ok NAME 'STDOUT REGEX' ... -- ARGS...: exit 0, empty stderr, stdout matches every regex.
expect_ok() {
    local name=$1
    shift
    local keys=()
    while [ "$1" != "--" ]; do keys+=("$1"); shift; done
    shift
    "$CLI" "$@" >"$OUT" 2>"$ERR"
    local status=$?
    if sanitizer_report; then fail "$name" "sanitizer report"; return; fi
    if [ "$status" -ne 0 ]; then fail "$name" "exit status $status, expected 0"; return; fi
    if [ -s "$ERR" ]; then fail "$name" "unexpected output on stderr"; return; fi
    local k
    for k in "${keys[@]}"; do
        if ! grep -E -q -- "$k" "$OUT"; then
            fail "$name" "stdout lacks /$k/"
            sed 's/^/      stdout: /' "$OUT" | head -n 20
            return
        fi
    done
    pass "$name"
}

# (a) a malformed model: random bytes
expect_error "info: random bytes as a model" 1 'random\.onnx' 'malformed|corrupt|invalid|truncated' -- \
    info "$FX/random.onnx"
expect_error "run: random bytes as a model" 1 'random\.onnx' 'malformed|corrupt|invalid|truncated' -- \
    run "$FX/random.onnx" -o "$TMP/out"

# (b) a truncated model: a valid model cut in half, inside its weights
expect_error "info: truncated model" 1 'truncated\.onnx' 'truncated|corrupt|malformed' -- \
    info "$FX/truncated.onnx"
expect_error "run: truncated model" 1 'truncated\.onnx' 'truncated|corrupt|malformed' -- \
    run "$FX/truncated.onnx" -o "$TMP/out"

# (c) an op this build does not have: the message names the op and the node
expect_error "info: unknown op" 1 'unknown_op\.onnx' 'FooBar' 'mystery_node' -- info "$FX/unknown_op.onnx"
expect_error "run: unknown op" 1 'unknown_op\.onnx' 'FooBar' 'mystery_node' -- \
    run "$FX/unknown_op.onnx" -o "$TMP/out"
expect_error "bench: unknown op" 1 'FooBar' 'mystery_node' -- bench "$FX/unknown_op.onnx" --runs 2

# (d) an input name the model does not have
expect_error "run: unknown input name" 1 'x_ok\.npy' "'nope'" "inputs: 'x'" -- \
    run "$FX/good.onnx" -i "nope=$FX/x_ok.npy" -o "$TMP/out"

# a missing input with --strict (without it, missing inputs get the documented fill)
expect_error "run --strict: missing input" 1 "'x'" 'missing' -- \
    run "$FX/good.onnx" --strict -o "$TMP/out"

# (e) a .npy with the wrong dims for a fixed-dim input: input name, expected and actual dims
expect_error "run: wrong input shape" 1 'x_shape\.npy' "'x'" '\[2,3\]' '\[3,2\]' -- \
    run "$FX/good.onnx" -i "x=$FX/x_shape.npy" -o "$TMP/out"
expect_error "bench: wrong input shape" 1 'x_shape\.npy' "'x'" '\[2,3\]' '\[3,2\]' -- \
    bench "$FX/good.onnx" -i "x=$FX/x_shape.npy"

# (f) a .npy with the wrong dtype
expect_error "run: wrong input dtype" 1 'x_dtype\.npy' "'x'" 'float32' 'int64' -- \
    run "$FX/good.onnx" -i "x=$FX/x_dtype.npy" -o "$TMP/out"

# hostile or unsupported .npy files
expect_error "npy: truncated header" 1 'x_trunc_header\.npy' 'truncated' -- \
    run "$FX/good.onnx" -i "x=$FX/x_trunc_header.npy" -o "$TMP/out"
expect_error "npy: data shorter than the shape" 1 'x_short_data\.npy' 'short' '\(2, 3\)' -- \
    run "$FX/good.onnx" -i "x=$FX/x_short_data.npy" -o "$TMP/out"
expect_error "npy: absurd shape" 1 'x_absurd_shape\.npy' 'too large' -- \
    run "$FX/good.onnx" -i "x=$FX/x_absurd_shape.npy" -o "$TMP/out"
expect_error "npy: fortran order" 1 'x_fortran\.npy' 'fortran_order' -- \
    run "$FX/good.onnx" -i "x=$FX/x_fortran.npy" -o "$TMP/out"
expect_error "npy: not a .npy file" 1 'x_not_npy\.npy' 'not a \.npy' -- \
    run "$FX/good.onnx" -i "x=$FX/x_not_npy.npy" -o "$TMP/out"
expect_error "npy: missing file" 1 'missing\.npy' 'no such file' -- \
    run "$FX/good.onnx" -i "x=$FX/missing.npy" -o "$TMP/out"

# missing or unusable files
expect_error "missing model file" 1 'nothing-here\.onnx' 'no such file' -- info "$FX/nothing-here.onnx"
expect_error "a directory as the model" 1 'cli-fixtures' -- info "$FX"
: >"$TMP/empty.onnx"
expect_error "empty model file" 1 'empty\.onnx' -- info "$TMP/empty.onnx"
expect_error "output dir is a file" 1 'good\.onnx' -- run "$FX/slash.onnx" -o "$FX/good.onnx"

# command-line mistakes: exit status 2
expect_error "usage: no command" 2 'no command' --
expect_error "usage: unknown command" 2 "frobnicate" -- frobnicate "$FX/good.onnx"
expect_error "usage: no model" 2 'model' -- run
expect_error "usage: -i without =" 2 'NAME=FILE' -- run "$FX/good.onnx" -i "$FX/x_ok.npy"
expect_error "usage: input given twice" 2 "'x'" 'twice' -- \
    run "$FX/good.onnx" -i "x=$FX/x_ok.npy" -i "x=$FX/x_ok.npy"
expect_error "usage: --runs 0" 2 'runs' -- bench "$FX/good.onnx" --runs 0
expect_error "usage: --runs junk" 2 'runs' -- bench "$FX/good.onnx" --runs 12abc
expect_error "usage: unknown option" 2 "'--frob'" -- run "$FX/good.onnx" --frob
expect_error "usage: -o on info" 2 'info' -- info "$FX/good.onnx" -o "$TMP/out"
expect_error "usage: two models" 2 'unexpected argument' -- info "$FX/good.onnx" "$FX/slash.onnx"

# things that work (the tool must not fail everything)
expect_ok "--version" '^edgeinfer [0-9]+\.[0-9]+' -- --version
expect_ok "--help" 'usage: edgeinfer' '% 2000' -- --help
expect_ok "info: fixed dims" '\[2,3\]' 'Add +1' 'Relu +1' 'weights +12 bytes' 'arena +[0-9]+ bytes' \
    'unsupported ops: none' -- info "$FX/good.onnx"
expect_ok "info: symbolic dims" '\[batch,3\]' 'planned at first run \(symbolic input dims\)' -- \
    info "$FX/symbolic.onnx"
expect_ok "run: given input" 'output y: float32 \[2,3\]' -- run "$FX/good.onnx" -i "x=$FX/x_ok.npy" -o "$TMP/run1"
if "$PYTHON" - "$FX/x_ok.npy" "$TMP/run1/y.npy" <<'PY' >"$ERR" 2>&1; then pass "run: y.npy = relu(x + b)"; else fail "run: y.npy = relu(x + b)" "wrong or unreadable output"; fi
import sys
import numpy as np
x = np.load(sys.argv[1])
y = np.load(sys.argv[2])
want = np.maximum(x + np.array([0.5, -1.0, 2.0], np.float32), 0)
assert y.dtype == np.float32 and y.shape == (2, 3), (y.dtype, y.shape)
assert np.allclose(y, want, rtol=1e-6, atol=0), (y, want)
PY
expect_ok "run: filled symbolic input" 'input +x: float32 \[1,3\] \(filled\)' 'output y: float32 \[1,3\]' -- \
    run "$FX/symbolic.onnx" -o "$TMP/run2"
expect_ok "run: '/' and ':' in an output name" 'block/out:0' 'block_out_0\.npy' -- \
    run "$FX/slash.onnx" -o "$TMP/run3"
if [ -f "$TMP/run3/block_out_0.npy" ]; then pass "run: block_out_0.npy written"; else fail "run: block_out_0.npy written" "missing"; fi
expect_ok "bench" 'session create' 'median' 'p90' -- bench "$FX/good.onnx" --runs 5
# Shape -> Gather -> Concat -> Reshape on a symbolic batch folds at plan time: the plan is
# static (a planned arena), not node by node at each run (arena 0).
expect_ok "bench: shape arithmetic folds into a static plan" 'arena +[1-9][0-9]* bytes' -- \
    bench "$FX/shape_arith.onnx" --runs 3
expect_ok "run: shape arithmetic" 'output y: float32 \[1,6\]' -- run "$FX/shape_arith.onnx" -o "$TMP/run4"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
