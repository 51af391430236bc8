"""Cross-cutting pieces every package uses: errors, config, clock, ids, HTTP edge."""
