#!/bin/sh
# Data-parallel throughput on this machine: 2 ranks of 1 thread (mpirun) against 1 process
# of 2 threads with the same global batch, for the VAE and the GPT, alternating, ROUNDS
# rounds. Prints one line per measurement. Needs bin/aigc (make build) and Open MPI.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
line() { # what, then aigc bench's JSON
	python3 -c 'import json,sys; r=json.load(sys.stdin); rate=r.get("tokens_per_s") or r["samples_per_s"]; unit="tokens/s" if r.get("tokens_per_s") else "samples/s"; print("%-34s %10.0f %s  %.2f ms/step  %4.1f%% in collectives" % (sys.argv[1], rate, unit, r["ms_per_step"], 100*r.get("comm_share",0)))' "$1"
}
for round in $(seq "$ROUNDS"); do
	for m in "vae 128 300" "gpt 12 100"; do
		set -- $m
		bin/aigc bench "$1" -q --json --threads 2 --set batch_size=$(($2 * 2)) --steps "$3" | line "$1 round $round: 1 process x 2 threads"
		mpirun -np 2 --oversubscribe bin/aigc bench "$1" -q --json --threads 1 --set batch_size="$2" --steps "$3" | line "$1 round $round: 2 ranks x 1 thread"
	done
done
