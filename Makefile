# edgeinfer: one flat Makefile.
#   make            native library and CLI in build/
#   make test       installs what is missing, then every test (native, sanitizers, wasm, browser)
#   make demo       builds everything and serves the demo on http://127.0.0.1:8080
#   make wasm       dist/: edgeinfer.wasm + JS loader
#   make bench      benchmarks side by side with onnxruntime
#   make conformance  the ONNX backend node suite, native
#   make fuzz       libFuzzer on the loader and runs, and the JS API fuzzer

CC      ?= gcc
PYTHON  := /usr/bin/python3
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALLCFLAGS := -std=c11 $(WARN) $(CFLAGS) -Iinclude -D_DEFAULT_SOURCE
LDLIBS  := -lm -pthread

B := build
LIB_SRC := $(sort $(wildcard src/loader/*.c src/graph/*.c src/ops/*.c src/kernels/*.c))
LIB_HDR := $(wildcard include/*.h src/*/*.h)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
ASAN_OBJ := $(LIB_SRC:%.c=$(B)/asan/%.o)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

ONNX_NODE := $(B)/onnx-node
CONF_LIST := tests/ops/passing.txt


.PHONY: fuzz-replay tsan conformance-update check-kernels all lib cli test check-native check-asan conformance conformance-asan setup wasm demo bench fuzz size clean models test-models

all: $(B)/libedgeinfer.a $(B)/edgeinfer

$(B)/obj/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(B)/asan/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -O1 $(SAN) -c $< -o $@

$(B)/libedgeinfer.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libedgeinfer-asan.a: $(ASAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

CLI_SRC := $(wildcard src/cli/*.c)
$(B)/edgeinfer: $(CLI_SRC) $(B)/libedgeinfer.a $(LIB_HDR)
	$(CC) $(ALLCFLAGS) -Isrc $(CLI_SRC) $(B)/libedgeinfer.a $(LDLIBS) -o $@

$(B)/edgeinfer-asan: $(CLI_SRC) $(B)/libedgeinfer-asan.a $(LIB_HDR)
	$(CC) $(ALLCFLAGS) -O1 $(SAN) -Isrc $(CLI_SRC) $(B)/libedgeinfer-asan.a $(LDLIBS) -o $@

# ---- tests ----
UNIT_SRC := $(wildcard tests/unit/*.c)
$(B)/unit_tests: $(UNIT_SRC) $(B)/libedgeinfer.a $(LIB_HDR)
	$(CC) $(ALLCFLAGS) -Isrc $(UNIT_SRC) $(B)/libedgeinfer.a $(LDLIBS) -o $@

$(B)/unit_tests-asan: $(UNIT_SRC) $(B)/libedgeinfer-asan.a $(LIB_HDR)
	$(CC) $(ALLCFLAGS) -O1 $(SAN) -Isrc $(UNIT_SRC) $(B)/libedgeinfer-asan.a $(LDLIBS) -o $@

# Kernel tests: each tests/kernels/test_*.c is a program comparing SIMD kernels with their scalar twins.
KTEST_SRC := $(wildcard tests/kernels/test_*.c)
KTEST_BIN := $(KTEST_SRC:tests/kernels/%.c=$(B)/kernels/%)
$(B)/kernels/%: tests/kernels/%.c $(B)/libedgeinfer.a $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Isrc $< $(B)/libedgeinfer.a $(LDLIBS) -o $@

check-kernels: $(KTEST_BIN)
	@set -e; for t in $(KTEST_BIN); do echo "$$t"; $$t; done

$(B)/conformance: tests/ops/conformance.c $(B)/libedgeinfer.a $(LIB_HDR)
	$(CC) $(ALLCFLAGS) -Isrc $< $(B)/libedgeinfer.a $(LDLIBS) -o $@

$(B)/conformance-asan: tests/ops/conformance.c $(B)/libedgeinfer-asan.a $(LIB_HDR)
	$(CC) $(ALLCFLAGS) -O1 $(SAN) -Isrc $< $(B)/libedgeinfer-asan.a $(LDLIBS) -o $@

$(ONNX_NODE)/.stamp: tests/ops/gen_node_tests.py
	rm -rf $(ONNX_NODE)
	$(PYTHON) tests/ops/gen_node_tests.py $(ONNX_NODE)
	touch $@

conformance: $(B)/conformance $(ONNX_NODE)/.stamp
	$(B)/conformance --suite $(ONNX_NODE)/node --expect $(CONF_LIST) --table
	$(B)/conformance --suite $(ONNX_NODE)/node --expect $(CONF_LIST) --threads 2

# Records the cases that pass now as the list CI holds the library to.
conformance-update: $(B)/conformance $(ONNX_NODE)/.stamp
	$(B)/conformance --suite $(ONNX_NODE)/node --write-passing $(CONF_LIST)

conformance-asan: $(B)/conformance-asan $(ONNX_NODE)/.stamp
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	$(B)/conformance-asan --suite $(ONNX_NODE)/node --expect $(CONF_LIST)

setup:
	bash tests/setup.sh

check-native: $(B)/unit_tests $(B)/edgeinfer $(ONNX_NODE)/.stamp check-kernels
	$(B)/unit_tests $(ONNX_NODE)/node
	bash tests/cli/errors.sh $(B)/edgeinfer
	bash tests/cli/budget.sh $(B)/edgeinfer

check-asan: $(B)/unit_tests-asan $(B)/edgeinfer-asan $(ONNX_NODE)/.stamp
	ASAN_OPTIONS=detect_leaks=1 $(B)/unit_tests-asan $(ONNX_NODE)/node
	bash tests/cli/errors.sh $(B)/edgeinfer-asan

$(B)/models/.stamp: tests/models/export_models.py
	mkdir -p $(B)/models
	$(PYTHON) tests/models/export_models.py $(B)/models
	touch $@

# Retrains the demo models (models/*/model.onnx, goldens, test splits); not part of make test.
models:
	bash models/train_all.sh

test-models: $(B)/edgeinfer $(B)/models/.stamp
	node --test tests/models/

test: setup
	$(MAKE) all
	$(MAKE) check-native
	$(MAKE) conformance
	$(MAKE) check-asan
	$(MAKE) conformance-asan
	$(MAKE) fuzz-replay
	$(MAKE) tsan
	$(MAKE) test-models
	$(MAKE) test-js
	$(MAKE) check-kernels-wasm
	$(MAKE) check-kernels-relaxed
	$(MAKE) test-browser
	$(MAKE) test-package

clean:
	rm -rf $(B) dist

# ---- fuzzing: libFuzzer with ASan and UBSan (halting), seeded with the node suite ----
#   make fuzz         each target in turn for FUZZ_SECONDS (nice'd): fuzz_model (bytes as a model:
#                     load, create, run), fuzz_run (a control block of input shapes and data, then
#                     a model: create and run twice), and the JS feed/Tensor API (fast-check)
#   make fuzz-replay  (in make test) every checked-in regression, then each libFuzzer target for
#                     FUZZ_BRIEF_RUNS executions from a fixed seed and an empty corpus (the same
#                     inputs on every machine, so make test cannot fail by chance), the JS one
#                     FUZZ_BRIEF s
#   make tsan         two threads creating and running sessions, under ThreadSanitizer
FUZZ_SECONDS ?= 600
FUZZ_BRIEF ?= 20
FUZZ_BRIEF_RUNS ?= 60000
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -D_DEFAULT_SOURCE -Iinclude
FUZZ_OBJ := $(LIB_SRC:%.c=$(B)/fuzzobj/%.o)
FUZZ_OPTS := -rss_limit_mb=4096 -timeout=30 -max_len=65536
FUZZ_REG := tests/fuzz/regressions
.SECONDARY: $(FUZZ_OBJ)

$(B)/fuzzobj/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	clang-14 $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	clang-14 $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJ) -lm -o $@

# Seeds: every node-suite model, and for fuzz_run the same behind a zero control block.
$(B)/fuzz-seeds/.stamp: $(ONNX_NODE)/.stamp
	rm -rf $(B)/fuzz-seeds && mkdir -p $(B)/fuzz-seeds/model $(B)/fuzz-seeds/run
	for d in $(ONNX_NODE)/node/*/; do n=$$(basename $$d); cp "$$d/model.onnx" $(B)/fuzz-seeds/model/$$n.onnx; \
	  { head -c 64 /dev/zero; cat "$$d/model.onnx"; } > $(B)/fuzz-seeds/run/$$n; done
	touch $@

fuzz-replay: $(B)/fuzz_model $(B)/fuzz_run $(B)/fuzz-seeds/.stamp wasm
	$(B)/fuzz_model $(FUZZ_OPTS) $(FUZZ_REG)/*.onnx
	$(B)/fuzz_run $(FUZZ_OPTS) $(FUZZ_REG)/run/*
	rm -rf $(B)/fuzz-brief && mkdir -p $(B)/fuzz-brief/model $(B)/fuzz-brief/run
	nice -n 15 $(B)/fuzz_model $(FUZZ_OPTS) -runs=$(FUZZ_BRIEF_RUNS) -seed=1 $(B)/fuzz-brief/model $(B)/fuzz-seeds/model
	nice -n 15 $(B)/fuzz_run $(FUZZ_OPTS) -runs=$(FUZZ_BRIEF_RUNS) -seed=1 $(B)/fuzz-brief/run $(B)/fuzz-seeds/run
	node tests/fuzz/fuzz_js.mjs --seconds $(FUZZ_BRIEF) --seed 1

fuzz: $(B)/fuzz_model $(B)/fuzz_run $(B)/fuzz-seeds/.stamp wasm
	mkdir -p $(B)/fuzz-corpus/model $(B)/fuzz-corpus/run
	nice -n 15 $(B)/fuzz_model $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) $(B)/fuzz-corpus/model $(B)/fuzz-seeds/model
	nice -n 15 $(B)/fuzz_run $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) $(B)/fuzz-corpus/run $(B)/fuzz-seeds/run
	nice -n 15 node tests/fuzz/fuzz_js.mjs --seconds $(FUZZ_SECONDS)

$(B)/tsan_sessions: tests/fuzz/tsan_sessions.c $(LIB_SRC) $(LIB_HDR)
	$(CC) $(ALLCFLAGS) -O1 -fsanitize=thread -pthread $< $(LIB_SRC) $(LDLIBS) -o $@

tsan: $(B)/tsan_sessions $(ONNX_NODE)/.stamp $(B)/models/.stamp
	TSAN_OPTIONS=halt_on_error=1 $(B)/tsan_sessions $(ONNX_NODE)/node $(B)/models/squeezenet1_1.onnx

# ==== WebAssembly build, JS loader and their tests ====
#   make wasm          dist/: edgeinfer.wasm (standalone, SIMD), edgeinfer-relaxed.wasm (the same with
#                      relaxed-SIMD madd in the GEMM/conv kernels; the loader picks it where the
#                      engine can run it) + edgeinfer.mjs, edgeinfer.js, edgeinfer-worker.js,
#                      edgeinfer.d.ts (written from web/ by web/build.mjs)
#   make size          bytes of the four wasm builds, edgeinfer.js and edgeinfer.mjs, raw and gzip -9
#   make test-js       node --test tests/js: JS API, workers, memory, wasm/native conformance parity,
#                      models against onnxruntime-node; the com.microsoft op tests again on the
#                      ASan/UBSan CLI
#   make test-browser  the same loader in headless Chromium (tests/browser)
#   make check-kernels-wasm     every kernel test on the plain wasm build's kernels, under Node
#   make check-kernels-relaxed  the GEMM/conv kernel tests on the relaxed-SIMD kernels, under Node
#   make bench-js      latency, GFLOP/s against the measured SIMD128 peak, cold start and peak RSS of
#                      both wasm builds against onnxruntime-web and TF.js-wasm (tests/bench/bench.mjs)
#   make bench-nbits   MatMulNBits (4-bit) against float32 MatMul at 1 and 64 rows, and a transformer encoder
#                      quantized by edgeinfer quantize --weights int4 against its float32 (tests/bench/nbits.mjs)
#   make bench-browser the same latency table in headless Chromium
#   make bench-int8    mobilenet_v2 and resnet18 quantized to QDQ int8: edgeinfer int8 against its float32
#                      and against onnxruntime-web on the same int8 file (tests/bench/int8.mjs)
#   make bench-dynq    a transformer encoder quantized by quantize --dynamic against its float32 (tests/bench/dynq.mjs)
# The wasm objects are built from the same sources as the native library (LIB_SRC).
EMCC ?= emcc
DIST := dist
WASM_OBJ := $(LIB_SRC:%.c=$(B)/wasm/%.o)
# Kernels are built for speed, everything else (loader, graph, op parsing) for size: -Oz
# there halves the download at no measurable cost per inference. Kernels get -O2, not -O3, and
# no compiler unrolling: the microkernels are unrolled by hand, and LLVM's unrolling of the rest
# (scalar twins and tails included) added 27 KB for no difference measured on resnet18,
# mobilenet_v2, efficientnet_b0, densenet121 or the text transformer. Auto-vectorisation stays:
# without it densenet121 ran about 20% slower. In kernels, short zeroing
# and copying loops (a panel tail, a padding run) stay loops: as memset/memcpy calls they cost
# more than the few stores they do.
WASM_CFLAGS := -std=c11 $(WARN) -msimd128 -Iinclude -D_DEFAULT_SOURCE
KERNEL_OPT := -O2 -fno-unroll-loops -fno-builtin-memset -fno-builtin-memcpy
# Kernels that no common model spends its time in are built for size like the rest. In the
# elementwise and softmax kernels every hot loop is written with SIMD intrinsics, so LLVM's
# auto-vectorisation only doubled their scalar twins (8 KB for nothing).
COLD_KERNELS := src/kernels/fft.c src/kernels/f32_resize.c src/kernels/f32_reduce.c
HAND_VECTORIZED := src/kernels/f32_vunary.c src/kernels/f32_vbinary.c src/kernels/f32_softmax.c
WASM_OPT = $(if $(filter $(COLD_KERNELS),$<),-Oz,$(if $(filter src/kernels/%,$<),$(KERNEL_OPT) \
	$(if $(filter $(HAND_VECTORIZED),$<),-fno-vectorize -fno-slp-vectorize),-Oz))
# emmalloc, not dlmalloc: the library mallocs a few large blocks (arenas, per-run buffers of
# dynamic models) and never in a static plan's run, and emmalloc is 8 KB smaller. The link runs
# binaryen at -Oz: 9 KB smaller than -O2, and no slower (resnet18, mobilenet_v2, efficientnet_b0
# interleaved three times each: within 2%, either way).
WASM_LDFLAGS := -Oz -msimd128 --no-entry -sSTANDALONE_WASM -sALLOW_MEMORY_GROWTH -sMALLOC=emmalloc \
	-sEXPORTED_FUNCTIONS=@web/exports.json
EMENV := NODE_PATH=/usr/share/nodejs
# binaryen's -Oz once more over each linked module (emcc's binaryen, from the same package), last
# after any step that renames or unexports: emcc runs it once, and a second run still saves 1.4 KB
# of small simplifications all over the code, and in the threaded builds also drops the pthread
# runtime that web/wasm-names.mjs unexports (3.3 KB more). Run before web/relaxed-opcodes.mjs,
# whose standard relaxed-SIMD opcode this binaryen does not read.
WASM_REOPT := wasm-opt -Oz --mvp-features --enable-simd
WASM_REOPT_MT := $(WASM_REOPT) --enable-threads --enable-mutable-globals --enable-bulk-memory --enable-sign-ext
WEB_SRC := web/build.mjs web/uncomment.mjs web/edgeinfer.core.js web/edgeinfer.compat.js web/edgeinfer.worker.js web/edgeinfer.d.ts
DIST_JS := $(DIST)/edgeinfer.mjs $(DIST)/edgeinfer.cjs $(DIST)/edgeinfer.js $(DIST)/edgeinfer-ort.js $(DIST)/edgeinfer-worker.js $(DIST)/edgeinfer.d.ts

.PHONY: bench-nbits test-js test-browser bench-js bench-int8 bench-dynq bench-browser bench-native bench check-kernels-relaxed check-kernels-wasm

wasm: $(DIST)/edgeinfer.wasm $(DIST)/edgeinfer-relaxed.wasm $(DIST)/edgeinfer-threads.wasm $(DIST)/edgeinfer-threads-relaxed.wasm $(DIST_JS)

$(B)/wasm/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(EMENV) $(EMCC) $(WASM_CFLAGS) $(WASM_OPT) -c $< -o $@

$(DIST)/edgeinfer.wasm: $(WASM_OBJ) web/exports.json
	@mkdir -p $(DIST)
	$(EMENV) $(EMCC) $(WASM_LDFLAGS) $(WASM_OBJ) -o $@
	$(WASM_REOPT) $@ -o $@

# The relaxed-SIMD build: the kernels again with -mrelaxed-simd (f32x4_madd in simd.h becomes
# relaxed madd), everything else shared with the plain build. LLVM 14 writes the pre-standard
# opcode; web/relaxed-opcodes.mjs decodes the linked code section and rewrites it to the standard
# f32x4.relaxed_madd, then checks that the result validates.
RELAXED_OBJ := $(patsubst $(B)/wasm/src/kernels/%,$(B)/wasm-relaxed/src/kernels/%,$(WASM_OBJ))
NODE_RELAXED := node --experimental-wasm-relaxed-simd

$(B)/wasm-relaxed/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(EMENV) $(EMCC) $(WASM_CFLAGS) -mrelaxed-simd $(WASM_OPT) -c $< -o $@

$(DIST)/edgeinfer-relaxed.wasm: $(RELAXED_OBJ) web/exports.json web/relaxed-opcodes.mjs
	@mkdir -p $(DIST) $(B)/wasm-relaxed
	$(EMENV) $(EMCC) $(WASM_LDFLAGS) -mrelaxed-simd $(RELAXED_OBJ) -o $(B)/wasm-relaxed/prestandard.wasm
	$(WASM_REOPT) --enable-relaxed-simd $(B)/wasm-relaxed/prestandard.wasm -o $(B)/wasm-relaxed/prestandard.wasm
	$(NODE_RELAXED) web/relaxed-opcodes.mjs $(B)/wasm-relaxed/prestandard.wasm $@

# The threaded build: every object again with -pthread (wasm atomics and bulk memory, the
# thread-safe libc and allocator) and linked to import a shared memory. Emscripten's pthread
# runtime is not used (STANDALONE_WASM does not support it): the loader instantiates the module
# itself, on the main thread and in each worker of the pool, and answers the few imports the
# threaded libc declares (wasmImports in web/edgeinfer.core.js). It is linked at -Oz, which
# shortens import and export names: web/wasm-names.mjs restores them from the JS emcc writes
# beside the module, which is not shipped.
MT_OBJ := $(WASM_OBJ:$(B)/wasm/%=$(B)/wasm-mt/%)
MT_EXPORTS :=
# What the loader calls besides web/exports.json: the instance's constructors, and per thread its
# thread-local block, stack and pthread record.
MT_RUNTIME := __wasm_call_ctors emscripten_tls_init emscripten_stack_set_limits stackRestore _emscripten_thread_init
# Memory the shared module starts with and may grow to, in 64 KiB pages: the loader creates it.
MT_MEMORY := -sINITIAL_MEMORY=16777216 -sMAXIMUM_MEMORY=2147483648

$(B)/wasm-mt/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(EMENV) $(EMCC) $(WASM_CFLAGS) -pthread $(WASM_OPT) -c $< -o $@

$(DIST)/edgeinfer-threads.wasm: $(MT_OBJ) web/exports.json web/wasm-names.mjs
	@mkdir -p $(DIST) $(B)/wasm-mt
	node -e 'const f=require("fs");f.writeFileSync(process.argv[1],JSON.stringify(JSON.parse(f.readFileSync("web/exports.json")).concat(process.argv.slice(2))))' \
		$(B)/wasm-mt/exports.json $(MT_EXPORTS)
	$(EMENV) $(EMCC) -Oz -msimd128 -pthread --no-entry -sALLOW_MEMORY_GROWTH $(MT_MEMORY) -sMALLOC=emmalloc -sWASM_BIGINT \
		-sEXPORTED_FUNCTIONS=@$(B)/wasm-mt/exports.json -Wno-pthreads-mem-growth $(MT_OBJ) -o $(B)/wasm-mt/edgeinfer.js
	node web/wasm-names.mjs $(B)/wasm-mt/edgeinfer.wasm $(B)/wasm-mt/edgeinfer.js $(B)/wasm-mt/named.wasm \
		web/exports.json $(MT_RUNTIME)
	$(WASM_REOPT_MT) $(B)/wasm-mt/named.wasm -o $@

# The threaded build again with relaxed-SIMD kernels (the loader's pick where the engine runs
# relaxed SIMD, as for one thread).
MT_RELAXED_OBJ := $(patsubst $(B)/wasm-mt/src/kernels/%,$(B)/wasm-mt-relaxed/src/kernels/%,$(MT_OBJ))

$(B)/wasm-mt-relaxed/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(EMENV) $(EMCC) $(WASM_CFLAGS) -pthread -mrelaxed-simd $(WASM_OPT) -c $< -o $@

$(DIST)/edgeinfer-threads-relaxed.wasm: $(MT_RELAXED_OBJ) $(DIST)/edgeinfer-threads.wasm web/wasm-names.mjs web/relaxed-opcodes.mjs
	@mkdir -p $(B)/wasm-mt-relaxed
	$(EMENV) $(EMCC) -Oz -msimd128 -mrelaxed-simd -pthread --no-entry -sALLOW_MEMORY_GROWTH $(MT_MEMORY) -sMALLOC=emmalloc \
		-sWASM_BIGINT -sEXPORTED_FUNCTIONS=@$(B)/wasm-mt/exports.json -Wno-pthreads-mem-growth $(MT_RELAXED_OBJ) \
		-o $(B)/wasm-mt-relaxed/edgeinfer.js
	node web/wasm-names.mjs --prestandard $(B)/wasm-mt-relaxed/edgeinfer.wasm $(B)/wasm-mt-relaxed/edgeinfer.js \
		$(B)/wasm-mt-relaxed/named.wasm web/exports.json $(MT_RUNTIME)
	$(WASM_REOPT_MT) --enable-relaxed-simd $(B)/wasm-mt-relaxed/named.wasm -o $(B)/wasm-mt-relaxed/named.wasm
	$(NODE_RELAXED) web/relaxed-opcodes.mjs $(B)/wasm-mt-relaxed/named.wasm $@

# The GEMM and convolution kernel tests (SIMD against the scalar twins) on the relaxed kernels:
# compiled for wasm, rewritten like the relaxed build, run under Node.
KRELAXED := $(B)/kernels-relaxed/test_f32_gemm.cjs
$(KRELAXED): tests/kernels/test_f32_gemm.c $(RELAXED_OBJ) web/relaxed-opcodes.mjs
	@mkdir -p $(dir $@)
	$(EMENV) $(EMCC) $(WASM_CFLAGS) -mrelaxed-simd -O2 -Isrc $< $(filter $(B)/wasm-relaxed/%,$(RELAXED_OBJ)) \
		-sALLOW_MEMORY_GROWTH -sENVIRONMENT=node -sWASM_ASYNC_COMPILATION=0 -o $@
	$(NODE_RELAXED) web/relaxed-opcodes.mjs $(@:.cjs=.wasm) $(@:.cjs=.wasm) || { rm -f $@; exit 1; }

check-kernels-relaxed: $(KRELAXED)
	$(NODE_RELAXED) $(KRELAXED)

# Every kernel test again on the plain wasm build's own objects (the SIMD128 kernels that build
# selects, compiled as it compiles them), under Node.
KWASM := $(KTEST_SRC:tests/kernels/%.c=$(B)/kernels-wasm/%.cjs)
$(B)/kernels-wasm/%.cjs: tests/kernels/%.c $(WASM_OBJ)
	@mkdir -p $(dir $@)
	$(EMENV) $(EMCC) $(WASM_CFLAGS) -O2 -Isrc $< $(WASM_OBJ) -sALLOW_MEMORY_GROWTH -sENVIRONMENT=node \
		-sWASM_ASYNC_COMPILATION=0 -o $@

check-kernels-wasm: $(KWASM)
	@set -e; for t in $(KWASM); do echo "$$t"; node $$t; done

$(DIST_JS) &: $(WEB_SRC)
	node web/build.mjs $(DIST)

size: wasm
	@for f in $(DIST)/edgeinfer.wasm $(DIST)/edgeinfer-relaxed.wasm $(DIST)/edgeinfer-threads.wasm \
	    $(DIST)/edgeinfer-threads-relaxed.wasm $(DIST)/edgeinfer.js $(DIST)/edgeinfer.mjs; do \
	  printf '%-36s %9d bytes raw %9d bytes gzip -9\n' $$f $$(wc -c < $$f) $$(gzip -9 -c $$f | wc -c); \
	done

# tests/js also holds the trained-model tests, which run the native CLI too.
test-js: wasm $(B)/edgeinfer $(B)/edgeinfer-asan $(ONNX_NODE)/.stamp $(B)/models/.stamp $(if $(wildcard tests/ops/conformance.c),$(B)/conformance)
	node --test tests/js/
	EDGEINFER_CLI=$(B)/edgeinfer-asan node --test tests/js/contrib.test.mjs tests/js/nbits.test.mjs tests/js/qlinear.test.mjs tests/js/dynq.test.mjs

# tests/browser/bundlers.test.mjs builds pages from the packed tarball (make package).
test-browser: wasm $(B)/models/.stamp package $(B)/tiny-bert/.stamp
	node --test tests/browser/

BENCH_MODELS := $(B)/bench-models
$(BENCH_MODELS)/.stamp: tests/bench/export_bench_models.py tests/models/export_models.py
	mkdir -p $(BENCH_MODELS)
	$(PYTHON) tests/bench/export_bench_models.py $(BENCH_MODELS)
	touch $@

bench-js: wasm $(BENCH_MODELS)/.stamp
	$(NODE_RELAXED) tests/bench/bench.mjs

# mobilenet_v2 and resnet18 quantized to QDQ int8 by edgeinfer quantize: edgeinfer's int8 against its
# float32 and against onnxruntime-web on the same int8 file, CPU time per run, plain SIMD wasm build.
bench-int8: wasm $(B)/edgeinfer $(BENCH_MODELS)/.stamp
	node tests/bench/int8.mjs

# A BERT-mini-sized encoder and its `edgeinfer quantize --dynamic` copy: CPU time per run, plain SIMD wasm.
bench-dynq: wasm $(B)/edgeinfer
	node tests/bench/dynq.mjs

bench-nbits: wasm $(B)/edgeinfer
	node tests/bench/nbits.mjs

bench-browser: wasm $(BENCH_MODELS)/.stamp
	$(NODE_RELAXED) tests/bench/bench.mjs --browser 1

bench-native: $(B)/edgeinfer $(B)/models/.stamp
	node tests/bench/native.mjs

# Everything measured side by side with the peers in one run: both wasm builds against
# onnxruntime-web and TF.js-wasm (latency, cold start, memory), native against onnxruntime-node
# (latency), and the download size.
bench: setup
	$(MAKE) size
	$(MAKE) bench-js
	$(MAKE) bench-int8
	$(MAKE) bench-nbits
	$(MAKE) bench-browser
	$(MAKE) bench-native

# ==== the npm package ====
#   make package       build/edgeinfer-<version>.tgz: `npm pack` of package.json's `files` (dist/, README.md)
#   make test-package  the tarball installed into empty projects offline and used from ESM, CommonJS,
#                      esbuild and Vite builds (tests/package)
.PHONY: package test-package

package: wasm
	@mkdir -p $(B)
	npm pack --pack-destination $(B) --ignore-scripts --silent

test-package: package $(B)/models/.stamp $(B)/tiny-bert/.stamp
	node --test tests/package/

# The tiny BERT-style encoder the transformers.js client test loads (tests/package/tiny_bert.py).
$(B)/tiny-bert/.stamp: tests/package/tiny_bert.py
	$(PYTHON) tests/package/tiny_bert.py $(B)
	touch $@

# ==== demo: the in-browser demo site (demo/) ====
#   make demo       the wasm build, then the site assembled in build/demo-site by demo/build.mjs
#                   (pages, dist/, models, icons, service worker), served by web/serve.mjs on
#                   http://127.0.0.1:$(DEMO_PORT) in the foreground (Ctrl-C stops it)
#   make test-demo  the demo in headless Chromium (tests/browser/demo.test.mjs): needs
#                   /usr/bin/chromium and playwright-core (npm ci); screenshots in build/screenshots
DEMO_SITE := $(B)/demo-site
DEMO_PORT ?= 8080

.PHONY: demo demo-site test-demo

demo-site: wasm
	node demo/build.mjs $(DEMO_SITE)

demo: setup
	$(MAKE) all demo-site
	@echo "edgeinfer demo: open http://127.0.0.1:$(DEMO_PORT)/"
	node web/serve.mjs --root $(DEMO_SITE) --port $(DEMO_PORT)

test-demo: wasm
	node --test tests/browser/demo.test.mjs
