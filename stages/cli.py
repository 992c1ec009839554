"""The `bias-judge` command: one subcommand per stage plus the standalone tools.

Subcommands load lazily so that a data stage never pays for importing torch.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# name -> (module under bias_judge.stages, attribute). Each entry's module is its stage's
# whole contract: options, params section, library call, output validation.
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("ingest", "command"),
    "sample": ("sample", "command"),
    "candidates": ("candidates", "command"),
    "enrich": ("enrich", "command"),
    "pairs": ("pairs", "command"),
    "split": ("split", "command"),
    "label": ("label", "command"),
    "format": ("format_rows", "command"),
    "base-model": ("base_model", "command"),
    "sft": ("sft", "command"),
    "onpolicy": ("onpolicy", "command"),
    "dpo": ("dpo", "command"),
    "evaluate": ("evaluate", "command"),
    "probe": ("probe", "command"),
    "export": ("export", "command"),
    "metrics": ("metrics", "command"),
    "judge": ("judge", "command"),
    "demo": ("demo", "command"),
    "card": ("card", "group"),
    "publish": ("publish", "command"),
    "data": ("data", "group"),
    "profile": ("profile", "command"),
    "params-schema": ("params_schema", "command"),
    "results": ("results", "group"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(name for name, (mod, _) in COMMANDS.items() if _exists(mod))

    def get_command(self, ctx, name):
        if name not in COMMANDS or not _exists(COMMANDS[name][0]):
            return None
        mod, attr = COMMANDS[name]
        return getattr(importlib.import_module(f"bias_judge.stages.{mod}"), attr)


def _exists(mod: str) -> bool:
    return importlib.util.find_spec(f"bias_judge.stages.{mod}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bias-judge")
def main():
    """Build, train, evaluate and ship an LLM-as-judge for social bias."""


if __name__ == "__main__":
    main()
