"""The Ollama Modelfile of an exported GGUF: the chat template in Ollama's Go-template form,
the stop tokens, the judge's system prompt and the evaluation's decoding settings.

The Go template is not translated from Jinja by hand: the checkpoint's own chat template is
rendered with Go placeholders as the message contents, once with a system turn and once
without, so the Modelfile reproduces, byte for byte, the prompt the engines build for one
system + user exchange (the judge's only shape). Templates that fold the system turn into
the user turn are handled the way the engines handle them.
"""

from __future__ import annotations

from bias_judge.core.errors import InputError
from bias_judge.evaluation.inference.base import render_conversation

SYSTEM, PROMPT = "{{ .System }}", "{{ .Prompt }}"


def _render(tokenizer, conversation: list[dict]) -> str:
    """The prompt text as the engines render it (system folded where the template refuses
    it), generation prompt added, thinking off."""
    used, _ids = render_conversation(tokenizer, conversation)
    return tokenizer.apply_chat_template(used, add_generation_prompt=True, tokenize=False,
                                         enable_thinking=False)


def _check_literal(text: str, where: str) -> None:
    rest = text.replace(SYSTEM, "").replace(PROMPT, "")
    if "{{" in rest or "}}" in rest or '"""' in rest:
        raise InputError("the rendered chat template contains '{{', '}}' or '\"\"\"', which a "
                         "Modelfile TEMPLATE cannot hold literally", field=where)


def ollama_template(tokenizer, *, adds_bos: bool) -> str:
    """`{{ if .System }}<prompt with a system turn>{{ else }}<without>{{ end }}{{ .Response }}`,
    each branch the model's own template rendered around Ollama's placeholders. `adds_bos`:
    the GGUF tells llama.cpp to put BOS before the prompt, so a template's own leading BOS
    is left out."""
    with_system = _render(tokenizer, [{"role": "system", "content": SYSTEM},
                                      {"role": "user", "content": PROMPT}])
    without = _render(tokenizer, [{"role": "user", "content": PROMPT}])
    bos = tokenizer.bos_token
    for text in (with_system, without):
        _check_literal(text, "chat_template")
        if PROMPT not in text:
            raise InputError("the chat template drops the user turn", field="chat_template")
    if adds_bos and bos and with_system.startswith(bos) and without.startswith(bos):
        with_system, without = with_system[len(bos):], without[len(bos):]
    return f"{{{{ if .System }}}}{with_system}{{{{ else }}}}{without}{{{{ end }}}}{{{{ .Response }}}}"


def _quote(text: str) -> str:
    if '"""' in text:
        raise InputError("text contains '\"\"\"', which a Modelfile cannot quote", field="Modelfile")
    return f'"""{text}"""'


def modelfile_text(gguf_name: str, template: str, stops: list[str], system: str,
                   parameters: dict) -> str:
    """The Modelfile: FROM the GGUF beside it, TEMPLATE, SYSTEM, and one PARAMETER line per
    setting and stop token (in the given order: the output is deterministic)."""
    lines = [
        "# Ollama: `ollama create bias-judge -f Modelfile`, then `ollama run bias-judge`.",
        "# The judge was trained on one system + user exchange; TEMPLATE renders exactly that.",
        f"FROM ./{gguf_name}",
        f"TEMPLATE {_quote(template)}",
        f"SYSTEM {_quote(system)}",
    ]
    lines += [f"PARAMETER {key} {value}" for key, value in parameters.items()]
    lines += [f"PARAMETER stop {_quote_stop(s)}" for s in stops]
    return "\n".join(lines) + "\n"


def _quote_stop(token: str) -> str:
    if any(c in token for c in '"\n'):
        raise InputError(f"stop token {token!r} cannot be written on a PARAMETER line",
                         field="Modelfile")
    return f'"{token}"'
