# edgeinfer: one flat Makefile.
#   make            native library and CLI in build/
#   make test       installs what is missing, then every test (native, sanitizers, wasm, browser)
#   make demo       builds everything and serves the demo on http://127.0.0.1:8080
#   make wasm       dist/: edgeinfer.wasm + JS loader
#   make bench      benchmarks side by side with onnxruntime
#   make conformance  the ONNX backend node suite, native
#   make fuzz       libFuzzer on the model loader

CC      ?= gcc
PYTHON  := /usr/bin/python3
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALLCFLAGS := -std=c11 $(WARN) $(CFLAGS) -Iinclude -D_DEFAULT_SOURCE
LDLIBS  := -lm

B := build
LIB_SRC := $(sort $(wildcard src/loader/*.c src/graph/*.c src/ops/*.c src/kernels/*.c))
LIB_HDR := $(wildcard include/*.h src/*/*.h)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
ASAN_OBJ := $(LIB_SRC:%.c=$(B)/asan/%.o)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

ONNX_NODE := $(B)/onnx-node
CONF_LIST := tests/ops/passing.txt


.PHONY: conformance-update check-kernels all lib cli test check-native check-asan conformance conformance-asan setup wasm demo bench fuzz size clean models test-models

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

check-asan: $(B)/unit_tests-asan $(B)/edgeinfer-asan $(ONNX_NODE)/.stamp $(B)/fuzz_model
	ASAN_OPTIONS=detect_leaks=1 $(B)/unit_tests-asan $(ONNX_NODE)/node
	$(B)/fuzz_model -rss_limit_mb=6144 tests/fuzz/regressions/*
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
	$(MAKE) test-models
	$(MAKE) test-js
	$(MAKE) test-browser
	$(MAKE) test-package

clean:
	rm -rf $(B) dist

# ---- fuzzing: libFuzzer over the model loader and the whole run, seeded with the node suite ----
FUZZ_SECONDS ?= 60
$(B)/fuzz_model: tests/fuzz/fuzz_model.c $(LIB_SRC) $(LIB_HDR)
	clang-14 -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_DEFAULT_SOURCE -Iinclude \
		tests/fuzz/fuzz_model.c $(LIB_SRC) -lm -o $@

fuzz: $(B)/fuzz_model $(ONNX_NODE)/.stamp
	mkdir -p $(B)/fuzz-corpus
	for d in $(ONNX_NODE)/node/*/; do cp "$$d/model.onnx" "$(B)/fuzz-corpus/$$(basename $$d).onnx"; done
	$(B)/fuzz_model -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=6144 -max_len=65536 $(B)/fuzz-corpus

# ==== WebAssembly build, JS loader and their tests ====
#   make wasm          dist/: edgeinfer.wasm (standalone, SIMD) + edgeinfer.mjs, edgeinfer.js,
#                      edgeinfer-worker.js, edgeinfer.d.ts (written from web/ by web/build.mjs)
#   make size          bytes of edgeinfer.wasm and edgeinfer.js, raw and gzip -9
#   make test-js       node --test tests/js: JS API, workers, memory, wasm/native conformance parity,
#                      models against onnxruntime-node
#   make test-browser  the same loader in headless Chromium (tests/browser)
#   make bench-js      cold start and latency against onnxruntime-web (tests/bench/coldstart.mjs)
# The wasm objects are built from the same sources as the native library (LIB_SRC).
EMCC ?= emcc
DIST := dist
WASM_OBJ := $(LIB_SRC:%.c=$(B)/wasm/%.o)
# Kernels are built for speed, everything else (loader, graph, op parsing) for size: -Oz
# there halves the download at no measurable cost per inference.
WASM_CFLAGS := -std=c11 $(WARN) -msimd128 -Iinclude -D_DEFAULT_SOURCE
WASM_OPT = $(if $(filter src/kernels/%,$<),-O3,-Oz)
WASM_LDFLAGS := -O2 -msimd128 --no-entry -sSTANDALONE_WASM -sALLOW_MEMORY_GROWTH \
	-sEXPORTED_FUNCTIONS=@web/exports.json
EMENV := NODE_PATH=/usr/share/nodejs
WEB_SRC := web/build.mjs web/uncomment.mjs web/edgeinfer.core.js web/edgeinfer.compat.js web/edgeinfer.worker.js web/edgeinfer.d.ts
DIST_JS := $(DIST)/edgeinfer.mjs $(DIST)/edgeinfer.cjs $(DIST)/edgeinfer.js $(DIST)/edgeinfer-ort.js $(DIST)/edgeinfer-worker.js $(DIST)/edgeinfer.d.ts

.PHONY: test-js test-browser bench-js bench-native bench

wasm: $(DIST)/edgeinfer.wasm $(DIST_JS)

$(B)/wasm/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(EMENV) $(EMCC) $(WASM_CFLAGS) $(WASM_OPT) -c $< -o $@

$(DIST)/edgeinfer.wasm: $(WASM_OBJ) web/exports.json
	@mkdir -p $(DIST)
	$(EMENV) $(EMCC) $(WASM_LDFLAGS) $(WASM_OBJ) -o $@

$(DIST_JS) &: $(WEB_SRC)
	node web/build.mjs $(DIST)

size: wasm
	@for f in $(DIST)/edgeinfer.wasm $(DIST)/edgeinfer.js; do \
	  printf '%-24s %9d bytes raw %9d bytes gzip -9\n' $$f $$(wc -c < $$f) $$(gzip -9 -c $$f | wc -c); \
	done

# tests/js also holds the trained-model tests, which run the native CLI too.
test-js: wasm $(B)/edgeinfer $(ONNX_NODE)/.stamp $(B)/models/.stamp $(if $(wildcard tests/ops/conformance.c),$(B)/conformance)
	node --test tests/js/

# tests/browser/bundlers.test.mjs builds pages from the packed tarball (make package).
test-browser: wasm $(B)/models/.stamp package $(B)/tiny-bert/.stamp
	node --test tests/browser/

bench-js: wasm $(B)/models/.stamp
	node tests/bench/coldstart.mjs

bench-native: $(B)/edgeinfer $(B)/models/.stamp
	node tests/bench/native.mjs

# Everything measured side by side with the peer in one run: wasm against onnxruntime-web
# (cold start, latency), native against onnxruntime-node (latency), and the download size.
bench: setup
	$(MAKE) size
	$(MAKE) bench-js
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
