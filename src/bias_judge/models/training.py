"""What SFT and DPO share: settings, loading the base for training, Trainer arguments, the
adapter + merged outputs, and the training summary."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.settings import as_params, replace
from bias_judge.models.settings import ModelSettings, TrainSettings
from bias_judge.core.artifacts import Output, StageResult, write_result
from bias_judge.core.jsonio import sha256_file


@dataclass(frozen=True)
class Base:
    """The frozen base model a run trains from: its folder and the `model` params."""
    model_dir: str
    model: ModelSettings


def resolve_precision(model: ModelSettings, s: TrainSettings, section: str):
    """`auto` in `model.dtype` and `<section>.precision` made concrete for this machine
    (core/precision.py), a one-line warning for an explicit value this machine only emulates,
    and the record the training summary keeps. Returns (model, s, record)."""
    import sys

    from bias_judge.core import precision

    device = precision.detect()
    dtype = precision.resolve_dtype(model.dtype, device)
    autocast = precision.resolve_precision(s.precision, device)
    for value, name in ((model.dtype, "model.dtype"), (s.precision, f"{section}.precision")):
        warning = precision.emulation_warning(value, device, field=name)
        if warning:
            print(warning, file=sys.stderr)
    record = {**precision.record(s.precision, autocast, device),
              "weights_dtype": dtype, "weights_dtype_requested": model.dtype}
    return replace(model, dtype=dtype), replace(s, precision=autocast), record


@dataclass
class Outputs:
    out_dir: Path                  # adapter/, merged/, checkpoints/ go below it
    metrics_path: Path
    live_dir: Path
    extra_callbacks: list = field(default_factory=list)  # tests stop training with these
    # bias_judge.json for merged/ (models/judge_record.py): the stages always give one, so a
    # published folder says how to query it; None writes none.
    judge_record: dict | None = None

    @property
    def adapter(self) -> Path:
        return self.out_dir / "adapter"

    @property
    def merged(self) -> Path:
        return self.out_dir / "merged"

    @property
    def checkpoints(self) -> Path:
        return self.out_dir / "checkpoints"


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def grad_accumulation(s: TrainSettings) -> int:
    per_step = s.per_device_train_batch_size * world_size()
    if s.effective_batch % per_step:
        raise InputError(f"effective_batch {s.effective_batch} is not a multiple of "
                         f"per_device_train_batch_size {s.per_device_train_batch_size} x "
                         f"{world_size()} processes", field="effective_batch")
    return s.effective_batch // per_step


def check_settings(base: Base, s: TrainSettings) -> None:
    """What the settings models cannot check alone (the process count, installed packages);
    run before anything is loaded."""
    grad_accumulation(s)
    if base.model.quantization == "nf4":
        import importlib.util
        if importlib.util.find_spec("bitsandbytes") is None:
            raise InputError("quantization nf4 needs bitsandbytes (pip install bitsandbytes)",
                             field="model.quantization")
    if s.optim.endswith("8bit") or "bnb" in s.optim:
        import importlib.util
        if importlib.util.find_spec("bitsandbytes") is None:
            raise InputError(f"optim {s.optim} needs bitsandbytes", field="optim")


def torch_dtype(name: str):
    import torch
    return "auto" if name == "auto" else getattr(torch, name)


def device_map():
    """nf4 needs an explicit placement: this process's GPU, or the CPU."""
    import torch
    if torch.cuda.is_available():
        return {"": int(os.environ.get("LOCAL_RANK", "0"))}
    return {"": "cpu"}


def under_fsdp() -> bool:
    """Whether this process was started by `accelerate launch` with an FSDP config."""
    return os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")


def load_base(base: Base):
    """The frozen base model for training (never trust_remote_code)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = base.model
    kwargs = {"dtype": torch_dtype(model.dtype), "trust_remote_code": False,
              "use_safetensors": True}
    if model.quantization == "nf4":
        from transformers import BitsAndBytesConfig
        compute = torch.bfloat16 if model.dtype in ("bfloat16", "auto") else torch_dtype(model.dtype)
        fsdp = under_fsdp()
        # FSDP shards float tensors only: the 4-bit weights are then stored in the compute
        # dtype, and FSDP places them itself (configs/accelerate_fsdp_qlora.yaml).
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute, **({"bnb_4bit_quant_storage": compute} if fsdp else {}))
        if not fsdp:
            kwargs["device_map"] = device_map()
    loaded = AutoModelForCausalLM.from_pretrained(base.model_dir, **kwargs)
    loaded.config.use_cache = False  # the KV cache is dead weight while training
    return loaded


def trl_fields(s: TrainSettings, config_class) -> dict:
    """The settings whose keys are fields of TRL's config class, as they are (their names are
    TRL's: models/settings.py); `max_steps` null is TRL's -1."""
    names = config_class.__dataclass_fields__
    given = {k: v for k, v in as_params(s).items() if k in names}
    given["max_steps"] = s.max_steps if s.max_steps else -1
    return given


def trainer_kwargs(s: TrainSettings, output_dir: Path, config_class) -> dict:
    """Arguments for SFTConfig or DPOConfig: the settings TRL has under the same names, then
    what is derived from ours (accumulation, autocast flags, data seed). TRL's defaults that
    hurt on CPU (bf16 on, gradient checkpointing on, batch 8) are never left in force: every
    one of them is a settings key."""
    import torch

    cpu = not torch.cuda.is_available()
    return dict(
        **trl_fields(s, config_class),
        output_dir=str(output_dir),
        data_seed=s.seed,
        gradient_accumulation_steps=grad_accumulation(s),
        bf16=s.precision == "bf16",
        fp16=s.precision == "fp16",
        logging_first_step=True,
        save_strategy="steps",
        report_to="none",
        include_num_input_tokens_seen="non_padding",
        use_cpu=cpu,
        dataloader_num_workers=0,
        dataloader_pin_memory=not cpu,
        disable_tqdm=True,  # callbacks.StepBar draws the bar on the terminal instead
        ddp_find_unused_parameters=False if world_size() > 1 else None,
    )


def run(trainer, resume_from: Path | None, timer) -> dict:
    """Train (resuming when a checkpoint is given); returns what the summary needs. Time and
    tokens cover the whole training, across resumes (the timer and the trainer state carry
    them through checkpoints)."""
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    wall = timer.seconds()
    state = trainer.state  # a resume replaces the state object
    losses = [e["loss"] for e in state.log_history if "loss" in e]
    return {
        "steps": state.global_step,
        "epochs": float(state.epoch or 0.0),
        "final_loss": float(losses[-1]) if losses else float("nan"),
        "wall_time_s": round(wall, 3),
        "tokens_per_s": round(state.num_input_tokens_seen / wall, 3) if wall > 0 else 0.0,
        "resumed_from_step": int(resume_from.name.split("-")[-1]) if resume_from else None,
    }


@dataclass
class Prepared:
    """A trainer ready to run, and what its summary needs. `lora` is {r, alpha} as trained
    (DPO reads them from the SFT adapter it continues)."""
    trainer: object
    tokenizer: object
    report: object          # rows.LengthReport
    resume_from: Path | None
    rows_total: int
    timer: object           # callbacks.TrainTimer
    lora: dict


def train_and_summarise(prep: Prepared, base: Base, s: TrainSettings, outputs: Outputs,
                        *, extra: dict) -> dict:
    """Train a prepared run, then write adapter + merged model + the `train_summary` metrics
    through `write_result` (process 0 only, under DDP); returns the summary. `extra` adds stage-specific fields."""
    from bias_judge.models.runtime import hardware

    result = run(prep.trainer, prep.resume_from, prep.timer)
    main = prep.trainer.is_world_process_zero()
    folders = build_outputs(prep.trainer, prep.tokenizer, base.model_dir, outputs) if main else []
    summary = {
        "rows": len(prep.report.kept),
        **{k: result[k] for k in ("steps", "epochs", "final_loss", "wall_time_s", "tokens_per_s",
                                  "resumed_from_step")},
        "hardware": hardware(),
        "base_model": base.model.source,
        "quantization": base.model.quantization,
        "lora_r": prep.lora["r"],
        "lora_alpha": prep.lora["alpha"],
        "learning_rate": s.learning_rate,
        "effective_batch": s.effective_batch,
        "max_length": s.max_length,
        "seed": s.seed,
        "dropped_or_truncated_rows": prep.report.overlong,
        "overlong_policy": s.overlong,
        "rows_available": prep.rows_total,
        "max_row_tokens": prep.report.max_tokens,
        "mean_row_tokens": round(prep.report.mean_tokens, 1),
        **extra,
    }
    if main:
        # The one write path: the adapter, the merged model and the summary go in together.
        write_result(StageResult(outputs=[Output(outputs.metrics_path, summary, "train_summary")],
                                 folders=folders))
    return summary


def build_outputs(trainer, tokenizer, base_dir: str, outputs: Outputs) -> list:
    """Adapter, then the adapter merged into the UNquantised base, each built complete in a
    temporary folder beside its place; returned as core.artifacts.Folder for `write_result`
    to rename in (removed here if building fails)."""
    from bias_judge.core.artifacts import Folder
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    tmp_adapter = outputs.out_dir / ".adapter.tmp"
    tmp_merged = outputs.out_dir / ".merged.tmp"
    for tmp in (tmp_adapter, tmp_merged):
        shutil.rmtree(tmp, ignore_errors=True)
    try:
        model = trainer.accelerator.unwrap_model(trainer.model)
        config = model.peft_config.get("default")
        if config is not None and isinstance(config.target_modules, (set, frozenset)):
            # PEFT resolves "all-linear" to a set, saved in string-hash order: the same run
            # would write different adapter_config.json bytes in every process, and DVC and
            # DPO's resume fingerprint would see a new SFT adapter.
            config.target_modules = sorted(config.target_modules)
        model.save_pretrained(str(tmp_adapter), selected_adapters=["default"])
        tokenizer.save_pretrained(str(tmp_adapter))
        # A QLoRA adapter merged into 4-bit weights would bake in the quantisation error.
        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto",
                                                    trust_remote_code=False, use_safetensors=True)
        merged = PeftModel.from_pretrained(base, str(tmp_adapter)).merge_and_unload()
        merged.save_pretrained(str(tmp_merged))
        tokenizer.save_pretrained(str(tmp_merged))
        if outputs.judge_record is not None:
            from bias_judge.models.judge_record import write_record

            # Inside the temporary folder: the record is renamed in with the weights it
            # describes, never left beside another run's.
            write_record(tmp_merged, outputs.judge_record)
        return [Folder(tmp_adapter, outputs.adapter), Folder(tmp_merged, outputs.merged)]
    except BaseException:
        for tmp in (tmp_adapter, tmp_merged):
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def base_fingerprint(model_dir: str) -> dict:
    """Names, sizes and checksums of the base folder's files."""
    folder = Path(model_dir)
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}


# Knobs that change how a run is checkpointed, logged or scheduled on the CPU, but not what it
# computes: a checkpoint folder stays resumable when only these change. What the base model
# is (source, revision, chat template) is covered by the checksums of its folder.
NOT_IN_FINGERPRINT = ("save_steps", "save_total_limit", "logging_steps", "threads", "allocator",
                      "source", "revision", "chat_template")


def run_fingerprint_parts(base: Base, s: TrainSettings, rows: list[dict], extra: dict,
                          entry: str) -> dict:
    """What decides a run's weights: its settings, rows, base model and the code that trains
    (every module `entry`, the stage's library module, runs, and the schemas it reads), so
    that a checkpoint is only ever resumed by the same run. The stage entry above `entry`
    passes values only, and those are covered as settings, rows and base."""
    import hashlib
    import json

    from bias_judge.core.code import code_digest

    knobs = {k: v for k, v in {**as_params(base.model), **as_params(s)}.items()
             if k not in NOT_IN_FINGERPRINT}
    rows_digest = hashlib.sha256(
        "\n".join(json.dumps(r, sort_keys=True) for r in rows).encode()).hexdigest()
    return {"settings": knobs, "rows": rows_digest, "base": base_fingerprint(base.model_dir),
            "code": code_digest(entry), "world_size": world_size(), **extra}


@contextmanager
def named_in(section: str):
    """Library errors name a settings field; the user knows it as `section.field`."""
    try:
        yield
    except InputError as exc:
        if exc.field and "." not in exc.field:
            raise InputError(exc.message, file=exc.file, line=exc.line,
                             field=f"{section}.{exc.field}") from None
        raise


def describe(stage: str, summary: dict) -> str:
    return (f"{stage}: {summary['rows']} rows, {summary['steps']} steps, final loss "
            f"{summary['final_loss']:.4f}, {summary['tokens_per_s']:.0f} tokens/s")
