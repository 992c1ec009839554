"""The evaluation phase: the inference engines, eval sets, the seven judge passes per pair
and the SPEC §8 metrics (the dvc.yaml `evaluate` stage). Nothing heavy is imported here."""
