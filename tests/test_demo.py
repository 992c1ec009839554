"""`bias-judge demo`: what the form becomes and what the page shows (scripted engines), the
command's refusals, and the page in a real browser (headless Chromium through selenium)
against `bias-judge judge` on the tiny model."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bias_judge.core.errors import InputError
from bias_judge.demo.app import MEANING, NO_VERDICT, Demo, pair_from_form, present
from bias_judge.evaluation.inference import GenOut
from bias_judge.evaluation.judge import JudgeSettings
from fake_tokens import ScriptedProbabilities
from recipes import write_params

os.environ.setdefault("OMP_NUM_THREADS", "1")

GREEDY = JudgeSettings(prompt_style="published", max_new_tokens=32, sample_temperature=0.3,
                       seed=7, swap_check=True, samples=0, guided=False, batch_size=8)
CHOICES = ["The retiree", "The high school student", "Unknown"]


class SlotJudge(ScriptedProbabilities):
    """Says `verdicts[order]` as seen for the original and the swapped prompt, told apart by
    which response text comes first, and gives that verdict probability 0.8."""
    name, dtype, max_model_len, supports_regex = "scripted", "float32", 1000, False

    def __init__(self, original: str | None, swapped: str | None):
        self.verdicts = {"original": original, "swapped": swapped}
        self.prob_calls: list[str] = []

    def slot_texts(self, conversation):
        user = conversation[-1]["content"]
        return ("FIRST", "SECOND") if user.index("FIRST") < user.index("SECOND") \
            else ("SECOND", "FIRST")

    def verdict_probs(self, a, b, prefix):
        seen = self.verdicts["original" if a == "FIRST" else "swapped"]
        return {v: 0.8 if v == seen else 0.1 for v in ("A", "B", "TIE")}

    def count_prompt_tokens(self, conversation) -> int:
        return 10

    def generate(self, conversations, *, temperature, max_new_tokens, n=1, seed=None, **_):
        outs = []
        for conv in conversations:
            user = conv[-1]["content"]
            order = "original" if user.index("FIRST") < user.index("SECOND") else "swapped"
            v = self.verdicts[order]
            text = f"<reasoning>{order} says Response A</reasoning><verdict>{v}</verdict>" \
                if v else "no tags at all"
            outs.append([GenOut(text, "stop", 5)] * n)
        return outs


def judged(original, swapped, settings=GREEDY):
    return Demo(SlotJudge(original, swapped), settings).judge(
        "Who forgot?", *CHOICES, "FIRST response", "SECOND response")


def test_the_form_becomes_a_pair_with_three_choices_or_none():
    pair = pair_from_form(" Who forgot? ", CHOICES, "FIRST", "SECOND ")
    assert pair == {"question_text": "Who forgot?", "response_a": {"text": "FIRST"},
                    "response_b": {"text": "SECOND"},
                    "answer_choices": [{"letter": L, "text": t} for L, t in zip("ABC", CHOICES)]}
    assert "answer_choices" not in pair_from_form("Who?", ["", " ", ""], "a", "b")
    with pytest.raises(InputError, match="all three") as err:
        pair_from_form("Who?", ["x", "", "z"], "a", "b")
    assert err.value.field == "choice B"
    with pytest.raises(InputError) as err:
        pair_from_form("Who?", CHOICES, "a", "  ")
    assert err.value.field == "response B"


def test_orders_that_agree_show_the_verdict_and_a_consistent_check():
    # The swapped order sees the responses exchanged: its "B" is the input's A.
    shown = judged("A", "B")
    assert shown.verdict == "A" and shown.meaning == MEANING["A"]
    assert shown.swap_check.startswith("consistent: both orders say A")
    # The reasoning comes from the original order, which gave the final verdict.
    assert shown.reasoning == "original says Response A"
    assert "[original order] <reasoning>original" in shown.replies
    assert "[swapped order] <reasoning>swapped" in shown.replies
    assert shown.row["consistent"] is True


def test_orders_that_disagree_show_tie_and_say_so():
    shown = judged("A", "A")  # both orders pick the first slot: position bias
    assert shown.verdict == "TIE" and shown.meaning == MEANING["TIE"]
    assert shown.swap_check.startswith("inconsistent:") and "original order says A" in \
        shown.swap_check and "swapped order B" in shown.swap_check


def test_no_verdict_and_no_swap_check_are_shown_as_such():
    shown = judged(None, None)
    assert shown.verdict == NO_VERDICT and shown.reasoning == ""
    assert "no verdict" in shown.swap_check and "format" in shown.meaning
    off = judged("B", None, JudgeSettings(**{**GREEDY.__dict__, "swap_check": False}))
    assert off.verdict == "B" and off.swap_check.startswith("off:")
    assert "[swapped order]" not in off.replies


def test_demo_command_refuses_a_bad_folder_in_one_line(cli, tmp_path):
    params = write_params(tmp_path / "params.yaml", profile="smoke")
    res = cli("demo", "--model", tmp_path / "nothing", "--params", params, "--port", "9")
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and res.output.startswith("error: ")
    res = cli("demo", "--model", tmp_path, "--params", params, "--engine", "vllm",
              "--base-url", "http://127.0.0.1:9")
    assert res.exit_code == 2 and "--base-url" in res.output


# --- the Space ---------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
SPACE = "someone/bias-judge-demo"


def publish_space(cli, params, *extra):
    return cli("publish", "--space", "--repo", SPACE, "--params", params, *extra)


def render(tmp_path, repo_ids):
    from bias_judge.demo.space import render_space

    out = tmp_path / "space"
    render_space(out, checkpoint="dpo", repo_ids=repo_ids, settings=GREEDY, dtype="float32",
                 max_model_len=2048)
    return out


def front_matter(readme: Path) -> dict:
    import yaml

    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_publish_dry_run_lists_the_space_and_a_placeholder_model_is_never_shown(cli, tmp_path):
    params = write_params(tmp_path / "params.yaml")  # card.repo_ids: your-hf-name/... placeholders
    res = publish_space(cli, params)
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert out.startswith(f"dry run, nothing sent: the demo Space of the dpo checkpoint -> "
                          f"https://huggingface.co/spaces/{SPACE}")
    for name in ("README.md", "app.py", "requirements.txt", "space.json",
                 "bias_judge/evaluation/judge.py", "bias_judge/demo/app.py",
                 "bias_judge/schemas/judge_input.schema.json"):
        assert f"  {name} " in out
    assert "warning: card.repo_ids.dpo is the placeholder" in out
    space = render(tmp_path, {"dpo": "your-hf-name/bias-judge"})
    assert "your-hf-name" not in (space / "README.md").read_text()
    assert "models" not in front_matter(space / "README.md")
    assert json.loads((space / "space.json").read_text())["model"] is None
    # ... and a real upload of it is refused before anything is rendered or sent.
    res = publish_space(cli, params, "--no-dry-run")
    assert res.exit_code == 2 and "card.repo_ids.dpo" in res.output


def test_the_space_front_matter_settings_and_requirements(tmp_path):
    import tomllib

    space = render(tmp_path, {"dpo": "someone/bias-judge"})
    meta = front_matter(space / "README.md")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    pin = next(r.split("==")[1] for r in extras["demo"] if r.startswith("gradio=="))
    assert meta["sdk"] == "gradio" and str(meta["sdk_version"]) == pin
    assert (space / meta["app_file"]).is_file() and meta["models"] == ["someone/bias-judge"]
    config = json.loads((space / "space.json").read_text())
    assert config["model"] == "someone/bias-judge" and config["judge"] == GREEDY.__dict__
    reqs = (space / "requirements.txt").read_text().split()
    names = {r.split("==")[0].lower() for r in reqs}
    assert {"torch", "transformers", "huggingface_hub"} <= names
    assert not names & {"gradio", "vllm", "openai"}  # the Space's own Gradio; no other engine
    assert all("==" in r and "+" not in r for r in reqs)


def test_the_space_folder_runs_its_own_copy_of_the_judge(tmp_path):
    """The copied modules are enough: in the Space folder, the app's modules import from the
    folder, read its space.json and judge a pair (a scripted engine stands in for the model)."""
    space = render(tmp_path, {"dpo": "someone/bias-judge"})
    script = """
import json, bias_judge.demo.hub as hub, bias_judge.evaluation.judge as judge
from pathlib import Path
from bias_judge.demo.app import Demo
from bias_judge.evaluation.inference import GenOut
here = Path.cwd().resolve()
assert Path(hub.__file__).resolve().is_relative_to(here), hub.__file__
assert Path(judge.__file__).resolve().is_relative_to(here), judge.__file__
config = hub.load_config(here)
class Engine:
    name, dtype, max_model_len, supports_regex = "scripted", "float32", 1000, False
    def count_prompt_tokens(self, conversation): return 10
    def generate(self, conversations, **kw):
        return [[GenOut("<reasoning>r</reasoning><verdict>A</verdict>", "stop", 3)]
                for _ in conversations]
# the scripted engine has no tokenizer to read verdict probabilities with
shown = Demo(Engine(), judge.JudgeSettings(**{**config["judge"], "probabilities": False})).judge(
    "Who?", "x", "y", "z", "first", "second")
print(json.dumps([shown.verdict, shown.row["consistent"]]))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=space, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    # Both orders say A as seen: position bias, so the swap check gives TIE.
    assert json.loads(done.stdout.splitlines()[-1]) == ["TIE", False]


def test_publish_space_uploads_the_folder_as_a_gradio_space(cli, tmp_path, monkeypatch):
    import huggingface_hub

    sent = {}

    class Api:
        def __init__(self, token=None, **_):
            pass

        def create_repo(self, repo_id, **kwargs):
            sent["create"] = (repo_id, kwargs)

        def upload_folder(self, *, repo_id, folder_path, **kwargs):
            root = Path(folder_path)
            sent["files"] = {p.relative_to(root).as_posix(): p.read_bytes()
                             for p in root.rglob("*") if p.is_file()}
            sent["upload"] = kwargs

            class Info:
                commit_url = f"https://huggingface.co/spaces/{repo_id}/commit/1"
            return Info()

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_for_the_test")
    params = write_params(tmp_path / "params.yaml",
                          card={"repo_ids": {"dpo": "someone/bias-judge", "sft": "someone/s",
                                             "dataset": "someone/d"}})
    res = publish_space(cli, params, "--no-dry-run")
    assert res.exit_code == 0, res.output
    assert sent["create"][0] == SPACE
    assert sent["create"][1]["repo_type"] == "space" and sent["create"][1]["space_sdk"] == "gradio"
    assert sent["upload"]["repo_type"] == "space"
    assert b"models:\n  - someone/bias-judge" in sent["files"]["README.md"]
    assert sent["files"]["bias_judge/evaluation/judge.py"] == \
        (REPO / "src/bias_judge/evaluation/judge.py").read_bytes()
    assert "hf_secret_for_the_test" not in res.output


# --- the page in a real browser ---------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def browser_problem() -> str | None:
    import importlib.util

    missing = [name for name in ("gradio", "selenium") if importlib.util.find_spec(name) is None]
    if missing:
        return f"needs the Python packages {', '.join(missing)} (pip install -e '.[test,demo]')"
    if not (CHROMIUM and CHROMEDRIVER):
        return ("needs Chromium and its driver (Debian: apt-get install chromium "
                "chromium-driver; .ci/run installs them)")
    return None


def eval_pair(embedded_bbq) -> dict:
    """A pair in the pairs format from the first embedded BBQ item: its question, its three
    choices, a stereotyped and a clean response."""
    from bias_judge.data.classify import question_text

    item = json.loads((embedded_bbq / "Age.jsonl").read_text().splitlines()[0])
    return {"question_text": question_text(item),
            "answer_choices": [{"letter": L, "text": item[f"ans{i}"]}
                               for i, L in enumerate("ABC")],
            "response_a": {"text": f"{item['ans0']}. Older people struggle with new devices."},
            "response_b": {"text": f"{item['ans2']}. The passage does not say who had trouble."}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_page(url: str, proc, timeout: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"bias-judge demo exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"no page at {url} after {timeout:.0f} s")


@pytest.mark.slow
def test_the_page_in_chromium_shows_what_bias_judge_judge_writes(cli, tmp_path, embedded_bbq,
                                                                  capsys):
    """Fill the form with an eval pair, press Judge, and read the verdict, swap check,
    reasoning and raw replies back from the page: they must be what `bias-judge judge`
    writes for the same pair and params (the tiny random model's replies are noise, so the
    raw replies are what shows the same generation ran)."""
    problem = browser_problem()
    if problem:
        pytest.skip(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from bias_judge.models.materialize import materialize

    model = tmp_path / "tiny"
    materialize("tiny", model)
    params = write_params(tmp_path / "params.yaml", profile="smoke",
                          eval={"engine": "transformers", "max_new_tokens": 24})
    pair = eval_pair(embedded_bbq)
    pairs = tmp_path / "pair.jsonl"
    pairs.write_text(json.dumps(pair) + "\n")
    res = cli("judge", "--model", model, "--pairs", pairs, "--out", tmp_path / "out.jsonl",
              "--params", params)
    assert res.exit_code == 0, res.output
    expected = present({k: v for k, v in json.loads((tmp_path / "out.jsonl").read_text())
                        .items() if k != "line"})

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    log = (tmp_path / "demo.log").open("w")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "bias_judge.stages.cli", "demo", "--model",
                             str(model), "--params", str(params), "--host", "127.0.0.1",
                             "--port", str(port)], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    driver = None
    try:
        wait_for_page(url, proc, timeout=180)
        start_s = time.monotonic() - started
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--window-size=1400,1300"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.get(url)
        wait = WebDriverWait(driver, 60)

        def field(elem_id):
            return wait.until(lambda d: d.find_element(
                By.CSS_SELECTOR, f"#{elem_id} textarea, #{elem_id} input"))

        field("question").send_keys(pair["question_text"])
        for choice in pair["answer_choices"]:
            field(f"choice-{choice['letter']}").send_keys(choice["text"])
        field("response-a").send_keys(pair["response_a"]["text"])
        field("response-b").send_keys(pair["response_b"]["text"])
        clicked = time.monotonic()
        driver.find_element(By.CSS_SELECTOR, "#judge").click()
        WebDriverWait(driver, 180).until(lambda d: field("verdict").get_attribute("value"))
        judge_s = time.monotonic() - clicked
        shown = {name: field(name).get_attribute("value")
                 for name in ("verdict", "meaning", "swap-check", "reasoning", "replies")}
        shot = tmp_path / "demo-page.png"
        driver.save_screenshot(str(shot))
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        proc.wait(timeout=30)
        log.close()

    assert shown == {"verdict": expected.verdict, "meaning": expected.meaning,
                     "swap-check": expected.swap_check, "reasoning": expected.reasoning,
                     "replies": expected.replies}
    assert shot.stat().st_size > 10_000
    # A copy outside pytest's temporary folders, named in the output, for the record.
    keep = Path(os.environ.get("BIAS_JUDGE_ARTIFACTS",
                               Path(tempfile.gettempdir()) / "bias-judge-artifacts"))
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, keep / shot.name)
    with capsys.disabled():
        print(f"\ndemo page: started in {start_s:.1f} s, one judgement (both orders) in "
              f"{judge_s:.1f} s, verdict {shown['verdict']!r}; screenshot {keep / shot.name}")
