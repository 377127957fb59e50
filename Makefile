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

.PHONY: build test lint demo bench bench-compare fuzz classifier-weights clean

build:
	@echo "building $(BIN) with $(BLAS)"
	$(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/aigc

test: lint
	@echo "testing with $(BLAS)"
	$(GO) test $(GOFLAGS) ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet $(GOFLAGS) ./...

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

# Retrain the classifier that judges generated images (FID, Inception Score) and embed its
# weights: 5 epochs, about 6 minutes on 2 cores.
classifier-weights: build
	./$(BIN) train classifier --run runs/classifier --fresh
	./$(BIN) export classifier --run runs/classifier -o models/classifier.safetensors

# A short run of every fuzz target.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReadIDX -fuzztime 30s ./datasets
	$(GO) test -run '^$$' -fuzz FuzzReadNPY -fuzztime 30s ./datasets
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./checkpoints

clean:
	rm -rf bin runs/demo
