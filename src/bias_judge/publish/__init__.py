"""Publishing to the Hugging Face Hub: what may be uploaded from a checkpoint, its GGUF export,
the dataset and the Space, and the upload itself. Outside the card package so that editing the
upload code never reruns the card stage (`dvc.yaml`); no pipeline stage depends on it."""
