"""Dataset snapshots, registered models, generation jobs and training runs (filled in by later issues)."""
