// Package train is aigc's one training loop, shared by every model family: it steps
// through epochs of batches, evaluates on the held-out split after each epoch, reports
// progress, appends metrics.jsonl, writes checkpoints (latest and best) atomically, stops
// cleanly on Ctrl-C or SIGTERM, refuses to continue past a NaN loss, and resumes a run
// exactly from its run directory.
//
// A run directory holds:
//
//	config.yaml             the effective configuration
//	metrics.jsonl           one JSON object per logged step or evaluation
//	latest.safetensors      the last checkpoint (resuming starts here)
//	best.safetensors        the checkpoint with the lowest evaluation loss so far
package train
