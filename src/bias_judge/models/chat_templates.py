"""Chat templates the project supplies where a model ships none.

Both render a conversation so that the prompt with the generation prompt is an exact prefix of
the prompt plus the assistant turn: that is what lets training mask the prompt and put the
loss on the completion only.
"""

from __future__ import annotations

# Gemma 3's turn format: no system role (the system text opens the first user turn), the
# assistant speaks as "model", each turn ends with <end_of_turn>. Written for the Gemma-3-270M
# GGUF, whose file carries no template.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- set ns = namespace(system='') -%}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set ns.system = messages[0]['content'] | trim + '\n\n' -%}"
    "{%- set turns = messages[1:] -%}"
    "{%- else -%}"
    "{%- set turns = messages -%}"
    "{%- endif -%}"
    "{%- for message in turns -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/...') }}"
    "{%- endif -%}"
    "{{ '<start_of_turn>' + role + '\n' }}"
    "{%- if loop.first %}{{ ns.system }}{% endif -%}"
    "{{ message['content'] | trim }}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)

# Gemma 3's turn-end marker; generation must stop on it as well as on <eos>.
GEMMA3_END_OF_TURN = "<end_of_turn>"

# The tiny test model's own template: every role keeps its name, system included.
TINY_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- for message in messages -%}"
    "{{ '<start_of_turn>' + message['role'] + '\n' + (message['content'] | trim) + '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>assistant\n' }}{%- endif -%}"
)

# Strings whose presence in a template means the model has a switchable thinking mode.
THINKING_MARKERS = ("enable_thinking", "<|think|>", "<think>")


def has_thinking_mode(template: str | None) -> bool:
    return bool(template) and any(marker in template for marker in THINKING_MARKERS)
