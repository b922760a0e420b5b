#!/usr/bin/env bash
# Memory bombs against the CLI: a 168-byte model whose constants, folded at plan time, would
# take 4 GiB, and the older fold-huge-constant finding, must stop at the session's memory
# budget (ei_limits.session_bytes, 2 GiB) with a message that names it, inside an address
# space of 3 GiB (ulimit -v), without a crash or a sanitizer report.
#
# Usage: tests/cli/budget.sh CLI_BINARY
set -u
CLI=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
passed=0
failed=0
for model in fold-chain-session-budget fold-huge-constant; do
    err=$( (ulimit -v $((3 << 20)); "$CLI" info "$ROOT/tests/fuzz/regressions/$model.onnx") 2>&1 >/dev/null)
    rc=$?
    if [ $rc -eq 1 ] && grep -q "ei_limits.session_bytes" <<<"$err" && ! grep -q "Sanitizer\|runtime error" <<<"$err"; then
        passed=$((passed + 1)); echo "ok    $model stops at the session budget"
    else
        failed=$((failed + 1)); echo "FAIL  $model: exit $rc: $err"
    fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
