"""bias-judge: the library behind the pipeline. It knows nothing of DVC."""

__version__ = "0.1.0"
