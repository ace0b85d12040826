"""Usage: one row per upstream request, recorded, reported, exported as CSV, pruned."""
