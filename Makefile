# Common tasks.  The CMake build does the work; this file only names it.
#
#   make          set-up if needed, then build everything into build/
#   make test     set-up, build, unit + sanitizer + integration tests
#                 against a private local stack, short fuzz run
#   make demo     start the demo stack and every service, register the
#                 demo actors and replay the real logs into it
#   make stop     stop every stack this checkout started
#   make bench    run the benchmarks and update docs/benchmarks.md
#   make fuzz     run the decoder fuzzer for 10 minutes (FUZZ_SECONDS)
#   make soak     kill the processor 20 times during a replay

BUILD_DIR    ?= build
FUZZ_SECONDS ?= 600
GENERATOR    := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

.PHONY: all setup build test unit demo stop bench fuzz soak format \
        format-check check-banned clean

all: build

setup:
	scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD_DIR) -G "$(GENERATOR)" -DMA_WERROR=ON
	cmake --build $(BUILD_DIR)

unit: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure

test:
	scripts/test.sh

demo:
	scripts/demo.sh

stop:
	scripts/stop.sh

bench: build
	scripts/bench.sh

# 20 kill -9 runs of the processor during a replay, on the test stack.
soak: build
	MA_STACK_NAME=test scripts/stack.sh start
	eval "$$(MA_STACK_NAME=test scripts/stack.sh env)" && \
		BUILD_DIR=$(BUILD_DIR) tests/integration/processor/soak.sh

fuzz: setup
	scripts/fuzz.sh $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	scripts/check-format.sh

check-banned:
	scripts/check-banned.sh

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
