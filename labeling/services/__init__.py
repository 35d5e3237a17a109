"""The writes: one function per use case, each in one transaction."""
