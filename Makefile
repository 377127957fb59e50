# aigc: `make demo` trains a short VAE run on the embedded MNIST and writes a sample grid;
# `make test` runs the checks CI runs.

GO      ?= go
BIN     := bin/aigc
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)

# Matrix products use OpenBLAS when libopenblas-dev is installed (about twice as fast),
# else gonum's pure-Go BLAS.
HAVE_OPENBLAS := $(shell printf 'int main(void){return 0;}' | $${CC:-cc} -x c - -lopenblas -o /dev/null 2>/dev/null && echo yes)
TAGS    := $(if $(HAVE_OPENBLAS),openblas,)
BLAS    := $(if $(HAVE_OPENBLAS),OpenBLAS,pure-Go BLAS (install libopenblas-dev for OpenBLAS))
GOFLAGS := -tags '$(TAGS)'
LDFLAGS := -X main.version=$(VERSION)

# The CUDA kernels also run in the tests on a host emulation of a GPU (tag aigc_emu),
# which needs a C++20 compiler; aigc-cuda needs the CUDA toolkit's headers and libcuda
# (scripts/install-cuda.sh installs Debian's CUDA 11.8).
HAVE_CXX  := $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && printf 'int main(){}' | $${CXX:-g++} -std=c++20 -x c++ - -o /dev/null 2>/dev/null && echo yes)
HAVE_CUDA := $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && printf '\043include <cuda.h>\nint main(void){return 0;}' | $${CC:-cc} -x c - -lcuda -o /dev/null 2>/dev/null && echo yes)
TEST_TAGS := $(TAGS) $(if $(HAVE_CXX),aigc_emu,)
CUDA_TAGS := aigc_cuda $(TAGS)

.PHONY: build cuda cuda-check test lint demo bench bench-compare bench-mpi fuzz classifier-weights clean

build:
	@echo "building $(BIN) with $(BLAS)"
	$(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/aigc

# bin/aigc-cuda: aigc with the CUDA device. aigc runs it for --device cuda or auto when
# this machine has a GPU; it needs the NVIDIA driver (libcuda.so.1) and libcublas at run time.
cuda:
	@if [ "$(HAVE_CUDA)" != yes ]; then sh scripts/install-cuda.sh; fi
	$(GO) build -tags '$(CUDA_TAGS)' -ldflags '$(LDFLAGS)' -o bin/aigc-cuda ./cmd/aigc

test: lint cuda-check
	@echo "testing with $(BLAS)$(if $(HAVE_CXX),, (no C++20 compiler: the emulated CUDA kernel tests are skipped; apt-get install g++))"
	$(GO) test -tags '$(TEST_TAGS)' ./...

# With the CUDA toolkit: go vet and build aigc-cuda (the kernels' PTX is checked by the
# tests of ./kernels). AIGC_REQUIRE_CUDA=1, as CI sets, makes a missing toolkit an error.
cuda-check:
ifeq ($(HAVE_CUDA),yes)
	$(GO) vet -tags '$(CUDA_TAGS)' ./...
	$(GO) build -tags '$(CUDA_TAGS)' -o bin/aigc-cuda ./cmd/aigc
else
	@if [ "$$AIGC_REQUIRE_CUDA" = 1 ]; then echo "cuda-check: no CUDA toolkit (scripts/install-cuda.sh)"; exit 1; fi
	@echo "cuda-check: no CUDA toolkit, aigc-cuda not built (scripts/install-cuda.sh installs it)"
endif

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet $(GOFLAGS) ./...
	$(GO) vet -tags '$(TEST_TAGS)' ./...

# Two epochs of the VAE (about 5 s on 2 cores), then a grid of 64 samples and the
# evaluation figures, all in runs/demo.
demo: build
	./$(BIN) train vae --run runs/demo --fresh --set epochs=2
	./$(BIN) sample vae --run runs/demo -n 64 -o runs/demo/samples.png
	./$(BIN) eval vae --run runs/demo

# Go benchmarks of the engine and of a training step of each model (VAE, GAN, RNN, LSTM,
# GPT), then aigc's own bench of the VAE.
bench: build
	$(GO) test $(GOFLAGS) -run '^$$' -bench . -benchtime 50x ./graph/... ./models
	./$(BIN) bench vae

# Training throughput and peak memory of vae, gan, rnn, lstm and gpt beside their PyTorch
# twins (scripts/torch), alternating, 3 rounds each (about 10 minutes on 2 cores), into
# bench/RESULTS.md. Needs /usr/bin/python3 with torch (Debian: python3-torch).
bench-compare: build
	/usr/bin/python3 scripts/bench_compare.py --rounds 3 --aigc $(BIN) --out bench/RESULTS.md

# Data-parallel throughput: 2 ranks x 1 thread (mpirun) against 1 process x 2 threads, for
# the VAE and the GPT, 3 rounds (about 2 minutes). Needs Open MPI (openmpi-bin).
bench-mpi: build
	sh scripts/bench_mpi.sh

# Retrain the classifier that judges generated images (FID, Inception Score) and embed its
# weights: 5 epochs, about 6 minutes on 2 cores.
classifier-weights: build
	./$(BIN) train classifier --run runs/classifier --fresh
	./$(BIN) export classifier --run runs/classifier -o models/classifier.safetensors

# A short run of every fuzz target (FUZZTIME each): the readers of every file a user hands
# aigc (IDX, NPY, TSV, text, YAML/JSON configs, safetensors and their metadata).
FUZZTIME ?= 30s
FUZZ_TARGETS = datasets:FuzzReadIDX datasets:FuzzReadNPY datasets:FuzzReadPairs datasets:FuzzCorpus \
	datasets:FuzzBPERoundTrip checkpoints:FuzzDecode checkpoints:FuzzDecodeMeta configs:FuzzConfig models:FuzzEnvOf
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test $(GOFLAGS) -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

clean:
	rm -rf bin runs/demo
