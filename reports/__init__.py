"""Reports read `results/` JSON files only: they never import training code (`agents`, `benchmarks`)."""
