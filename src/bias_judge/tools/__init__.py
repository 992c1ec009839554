"""Tools for the person running the pipeline, not parts of it: no stage imports them, so editing
them marks no stage stale (the profile switcher edits params.yaml; DVC then decides what reruns)."""
