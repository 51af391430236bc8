"""Benchmarks run by `make bench` (bench/run.py calls each module's main())."""
