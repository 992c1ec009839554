"""The evaluation phase: the inference engines, eval sets, the seven judge passes per pair
and the judge metrics (docs/metrics.md) (the dvc.yaml `evaluate` stage). Nothing heavy is imported here."""
