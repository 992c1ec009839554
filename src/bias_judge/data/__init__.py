"""The data phase: BBQ items -> sample -> candidate answers -> judge pairs -> eval split ->
labels -> SFT and DPO training rows (the dvc.yaml stages ingest ... format)."""
