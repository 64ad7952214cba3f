"""Layer 4: training learned models (`train`) and the checksummed manifest of shipped checkpoints
(`manifest`); both read and write checkpoints through `bench.codecs.learned.models`."""
