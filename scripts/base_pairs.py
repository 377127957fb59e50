"""Writes a TSV of 2,000 random pairs over a 10,000-word vocabulary (10 source and 20 target
tokens each) for timing the encoder-decoder at the reference design's `base` size:

    python3 scripts/base_pairs.py > /tmp/base10k.tsv
    aigc bench transformer --set preset=base --set batch_size=32 --data /tmp/base10k.tsv --steps 3
"""
import random

random.seed(1)
words = ["w%d" % i for i in range(10000)]
pairs = []
for i in range(2000):
    src = random.sample(words, 10)
    tgt = random.sample(words, 20)
    print(" ".join(src) + "\t" + " ".join(tgt))
