"""One thin entry per DVC stage: params and inputs in, a library call, validated outputs out."""
