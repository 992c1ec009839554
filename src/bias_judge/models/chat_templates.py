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

# The tiny multimodal rehearsal model's template, in Gemma 4's turn format as its E2B/E4B
# checkpoints ship it: <|turn>ROLE ... <turn|>, the assistant speaks as "model", a system turn
# when there is a system message, and the thinking switch `enable_thinking`, which puts
# <|think|> at the top of the system turn. With thinking off (the default, and how the judge
# is trained and run) the prompt carries no thinking token.
TINY_GEMMA4_CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- set thinking = enable_thinking is defined and enable_thinking -%}"
    "{%- set has_system = messages and messages[0]['role'] == 'system' -%}"
    "{%- if thinking or has_system -%}"
    "{{- '<|turn>system\n' -}}"
    "{%- if thinking -%}{{- '<|think|>\n' -}}{%- endif -%}"
    "{%- if has_system -%}{{- messages[0]['content'] | trim -}}{%- endif -%}"
    "{{- '<turn|>\n' -}}"
    "{%- endif -%}"
    "{%- for message in (messages[1:] if has_system else messages) -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{- '<|turn>' + role + '\n' + (message['content'] | trim) + '<turn|>\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|turn>model\n' -}}{%- endif -%}"
)

# Strings whose presence in a template means the model has a switchable thinking mode.
THINKING_MARKERS = ("enable_thinking", "<|think|>", "<think>")


def has_thinking_mode(template: str | None) -> bool:
    return bool(template) and any(marker in template for marker in THINKING_MARKERS)
