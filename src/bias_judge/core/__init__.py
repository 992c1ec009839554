"""The core every phase builds on: errors, JSON(L) I/O, schemas, params, progress."""
