"""Judge metrics (docs/metrics.md): κ per slice and bucket, position and verbosity bias,
self-consistency, parse failures, with percentile-bootstrap CIs and confusion matrices."""

from bias_judge.evaluation.metrics.compute import build_table, compute_metrics, confusion_matrices, confusion_records
from bias_judge.evaluation.metrics.kappa import batched_kappa, kappa, kappa_from_counts
from bias_judge.evaluation.metrics.tokens import WHITESPACE, load_token_counter, whitespace_tokens

__all__ = [
    "WHITESPACE", "batched_kappa", "build_table", "compute_metrics",
    "confusion_matrices", "confusion_records", "kappa", "kappa_from_counts",
    "load_token_counter", "whitespace_tokens",
]
