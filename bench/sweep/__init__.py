"""Layer 4: running a sweep job: plan the units of one codec configuration on one dataset, run them in
a process pool, write one row each (`units`, `runner`, `job`)."""
