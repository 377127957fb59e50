// Package rng is aigc's one source of randomness. Every random choice (parameter
// initialisation, noise, shuffling, dropout, sampling) draws from an RNG made here from the
// user's --seed, so a run is reproducible and its state can be saved in a checkpoint and
// restored exactly. Gorgonia's own initialisers seed from the clock and are not used.
package rng

import (
	"fmt"
	"math/rand/v2"
)

// RNG is a seeded PCG generator whose state can be saved and restored.
type RNG struct {
	src *rand.PCG
	*rand.Rand
	rank, size int // Shard's: this process's share of a data-parallel batch
}

// Shard makes the generator one rank's of a data-parallel run of size ranks, which share
// the generator's state and split each batch's rows between them (rank r the r-th part):
// FillNormal and FillUniform, which draw a batch's noise, draw the whole batch's on every
// rank and keep this rank's part, so the noise of each row is what one process training
// the whole batch would draw, and every rank's state stays the same. Single draws (a
// dropout seed) are the same on every rank. Rank 0 of 1 is the plain generator.
func (g *RNG) Shard(rank, size int) {
	g.rank, g.size = rank, size
}

// Rank is the rank Shard set (0 for a generator that is not sharded).
func (g *RNG) Rank() int { return g.rank }

// fill sets dst from draw, taking this rank's part of the batch's draws when sharded.
func (g *RNG) fill(dst []float32, draw func() float32) {
	if g.size <= 1 {
		for i := range dst {
			dst[i] = draw()
		}
		return
	}
	for part := range g.size {
		if part == g.rank {
			for i := range dst {
				dst[i] = draw()
			}
			continue
		}
		for range dst { // the other ranks' rows
			draw()
		}
	}
}

// New returns the generator for a seed.
func New(seed uint64) *RNG {
	return Stream(seed, 0)
}

// Stream returns an independent generator derived from seed, for randomness that must not
// depend on how much the main generator has been used, such as the shuffle order of an
// epoch (stream = epoch number + an offset per use).
func Stream(seed, stream uint64) *RNG {
	// Mixing the stream into both PCG words keeps nearby streams uncorrelated.
	src := rand.NewPCG(seed^0x9e3779b97f4a7c15, stream*0xbf58476d1ce4e5b9+0x94d049bb133111eb)
	return &RNG{src: src, Rand: rand.New(src)}
}

// Norm32 returns a standard normal sample as float32.
func (g *RNG) Norm32() float32 { return float32(g.NormFloat64()) }

// FillNormal fills dst with standard normal samples (this rank's part of them, sharded).
func (g *RNG) FillNormal(dst []float32) {
	g.fill(dst, func() float32 { return float32(g.NormFloat64()) })
}

// FillUniform fills dst with samples from U(lo, hi) (this rank's part of them, sharded).
func (g *RNG) FillUniform(dst []float32, lo, hi float32) {
	g.fill(dst, func() float32 { return lo + (hi-lo)*float32(g.Float64()) })
}

// State returns the generator's state, to be stored in a checkpoint.
func (g *RNG) State() []byte {
	b, err := g.src.MarshalBinary()
	if err != nil {
		panic(err) // PCG's MarshalBinary cannot fail
	}
	return b
}

// SetState restores a state returned by State.
func (g *RNG) SetState(b []byte) error {
	if err := g.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("invalid RNG state: %w", err)
	}
	return nil
}
