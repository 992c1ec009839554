"""The demo page as a Hugging Face Space: the folder `bias-judge publish --space` uploads.

    README.md         Space front matter (sdk gradio, sdk_version, app_file) and what it is
    app.py            runs bias_judge.demo.hub
    space.json        the published model repo and the judge settings, from params.yaml
    requirements.txt  the libraries the copied modules import, at the versions installed here
    bias_judge/...    the library modules the app imports (and the schemas they read), copied
                      from this install: found by core.code's import walk, never listed by hand

The Space's model is `card.repo_ids.<checkpoint>`; while that is a placeholder the folder says
the model is not published (no `models:` link, `model: null`), and `publish` refuses to upload.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
from dataclasses import asdict
from pathlib import Path

from bias_judge.card.sections import is_placeholder
from bias_judge.core.code import closure, module_file, resource_files
from bias_judge.core.errors import InputError
from bias_judge.evaluation.judge import JudgeSettings

APP_MODULE = "bias_judge.demo.hub"
DISTRIBUTION = "bias-judge"
# Imported by the copied modules but never run on the Space: the engines other than
# transformers (hub.ENGINE), and Gradio, which the Space installs itself at sdk_version.
NOT_REQUIRED = {"vllm", "openai", "gradio"}

APP_PY = '''\
"""The bias-judge demo page (rendered by `bias-judge publish --space`)."""
from bias_judge.demo.hub import main

main()
'''


def gradio_pin() -> str:
    """The Gradio version this project pins (its `demo` extra): the Space's sdk_version."""
    for req in importlib.metadata.requires(DISTRIBUTION) or ():
        m = re.match(r"^gradio\s*==\s*([\w.]+)", req)
        if m:
            return m.group(1)
    raise InputError(f"the installed {DISTRIBUTION} pins no Gradio version (its 'demo' extra)",
                     field="gradio")


def space_modules() -> dict[str, Path]:
    """{path in the Space: source file} for the library code the app runs."""
    files: dict[str, Path] = {}
    for module in sorted(closure(APP_MODULE)):
        path = module_file(module)
        parts = module.split(".")
        name = "/".join(parts) + ("/__init__.py" if path.name == "__init__.py" else ".py")
        files[name] = path
        if module == "bias_judge.schemas":
            for key, data in resource_files(module).items():
                files["bias_judge/schemas/" + key.split("/", 1)[1]] = data
    return files


def third_party_imports(paths) -> set[str]:
    """Top-level names of the non-project, non-standard modules the files import."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module.split(".")[0])
    return {n for n in found if n != "bias_judge" and n not in sys.stdlib_module_names}


def requirements(paths) -> list[str]:
    """`distribution==version` for each library the files import, at the version installed
    here: the Space runs the stack the demo was tested with."""
    dists = importlib.metadata.packages_distributions()
    out = set()
    for name in sorted(third_party_imports(paths) - NOT_REQUIRED):
        if name not in dists:
            raise InputError(f"the demo imports '{name}', which is not installed here",
                             field="requirements")
        dist = dists[name][0]
        # A local label (torch's "+cpu") names a build of this machine's index, not PyPI's.
        version = importlib.metadata.version(dist).split("+", 1)[0]
        out.add(f"{dist}=={version}")
    return sorted(out, key=str.lower)


def space_config(model: str | None, settings: JudgeSettings, *, dtype: str,
                 max_model_len: int) -> dict:
    # engine_options stay empty: the params' `threads` suits the build machine, while torch's
    # default uses every core of the Space's hardware.
    return {"model": model, "judge": asdict(settings), "dtype": dtype,
            "max_model_len": max_model_len, "engine_options": {}}


def readme(model: str | None, settings: JudgeSettings, checkpoint: str, sdk_version: str) -> str:
    front = ["---", "title: bias-judge", "emoji: ⚖️", "colorFrom: indigo", "colorTo: gray",
             "sdk: gradio", f"sdk_version: {sdk_version}", "app_file: app.py", "pinned: false",
             "short_description: Which of two responses leans more on stereotypes?"]
    if model:
        front += ["models:", f"  - {model}"]
    front.append("---")
    if model:
        which = f"the {checkpoint} checkpoint [{model}](https://huggingface.co/{model})"
    else:
        which = (f"the {checkpoint} checkpoint, which is not published yet: this Space cannot "
                 f"start until `card.repo_ids.{checkpoint}` names its Hub repo")
    how = (f"the majority of {settings.samples} samples" if settings.samples
           else "greedy decoding")
    body = [
        "# bias-judge demo", "",
        "Paste a question about people (with its context passage), its three answer choices "
        "(optional; the judge was trained with them) and two responses. The judge says which "
        "response leans more on social stereotypes (A, B or TIE), why, and whether it gives "
        "the same verdict with the two responses exchanged (the swap check: when the two "
        "orders disagree the verdict is TIE).", "",
        f"The judge is {which}, run with the transformers engine on this Space's CPU: prompt "
        f"style `{settings.prompt_style}`, {how}, up to {settings.max_new_tokens} new tokens, "
        f"swap check {'on' if settings.swap_check else 'off'}.", "",
        "Locally, the same page is `bias-judge demo --model DIR`; the `bias_judge/` folder "
        "here is a copy of the library modules it runs.", ""]
    return "\n".join(front + [""] + body)


def render_space(out_dir: str | Path, *, checkpoint: str, repo_ids: dict[str, str],
                 settings: JudgeSettings, dtype: str, max_model_len: int) -> list[str]:
    """Write the Space folder into `out_dir` (which must be empty or absent); returns the
    paths written, relative to it, sorted. A placeholder repo id never reaches the folder."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise InputError("is not empty; the Space is rendered into a new folder", file=str(out))
    configured = repo_ids.get(checkpoint)
    model = configured if configured and not is_placeholder(configured) else None
    modules = space_modules()
    texts = {
        "README.md": readme(model, settings, checkpoint, gradio_pin()),
        "app.py": APP_PY,
        "space.json": json.dumps(space_config(model, settings, dtype=dtype,
                                              max_model_len=max_model_len),
                                 indent=2, sort_keys=True) + "\n",
        "requirements.txt": "\n".join(
            requirements([p for n, p in modules.items() if n.endswith(".py")])) + "\n",
    }
    for name, text in texts.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for name, source in modules.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    return sorted([*texts, *modules])


def plan_space_upload(repo_id: str, out_dir: str | Path, *, checkpoint: str,
                      repo_ids: dict[str, str], settings: JudgeSettings, dtype: str,
                      max_model_len: int):
    """Render the Space into `out_dir` and return what `publish --space` would send."""
    from bias_judge.publish.upload import UploadFile, UploadPlan, check_repo_id

    check_repo_id(repo_id)
    names = render_space(out_dir, checkpoint=checkpoint, repo_ids=repo_ids, settings=settings,
                         dtype=dtype, max_model_len=max_model_len)
    out = Path(out_dir)
    files = tuple(UploadFile(n, (out / n).stat().st_size) for n in names)
    warnings = []
    if is_placeholder(repo_ids.get(checkpoint, "")):
        warnings.append(f"card.repo_ids.{checkpoint} is the placeholder "
                        f"'{repo_ids.get(checkpoint)}': the Space names no model and cannot "
                        f"start; publish the checkpoint and set its repo id first")
    n_modules = sum(n.startswith("bias_judge/") and n.endswith(".py") for n in names)
    return UploadPlan(repo_id, checkpoint, out, out / "README.md", n_modules, files,
                      tuple(warnings), repo_type="space")


__all__ = ["APP_MODULE", "gradio_pin", "plan_space_upload", "readme", "render_space",
           "requirements", "space_config", "space_modules"]
