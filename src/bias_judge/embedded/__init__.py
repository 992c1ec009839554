"""Data the project ships so the pipeline runs offline: a small BBQ-format item set."""
