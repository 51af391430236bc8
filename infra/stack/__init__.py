"""The resources `make package` merges into chalice's SAM template, all derived from code (see infra/package.py)."""
