"""Development-only tools for tests, benches, the demo and `make serve`; never packaged for Lambda."""
