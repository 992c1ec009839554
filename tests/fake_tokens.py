"""Token probabilities for scripted engines: a byte-level tokenizer and a mixin that answers
`next_token_logprobs` by a rule over the two response slots, so that the real probability
code (decision token, context ids, renormalising, mapping back) runs against a fake judge."""

from __future__ import annotations

import json
import math


class ByteTokenizer:
    """One token per UTF-8 byte: every verdict starts with its own byte ("A", "B", "T")."""

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return bytes(int(i) for i in ids).decode("utf-8", errors="replace")


class ScriptedProbabilities:
    """Mixin: subclasses define `slot_texts(conversation) -> (slot A, slot B)` and
    `verdict_probs(slot_a, slot_b, reply_prefix) -> {A, B, TIE}` as the judge sees them."""

    tokenizer = ByteTokenizer()

    def prompt_ids(self, conversation) -> list[int]:
        return self.tokenizer.encode(json.dumps(list(self.slot_texts(conversation))) + "\n")

    def next_token_logprobs(self, contexts, token_ids):
        from bias_judge.data.decision_token import verdict_token_ids

        by_id = {t: v for v, t in verdict_token_ids(self.tokenizer).items()}
        out = []
        for ids in contexts:
            head, _, prefix = self.tokenizer.decode(ids).partition("\n")
            assert prefix.endswith("<verdict>"), prefix
            a, b = json.loads(head)
            probs = self.verdict_probs(a, b, prefix)
            self.prob_calls.append(prefix)
            out.append([math.log(probs[by_id[t]]) if probs[by_id[t]] > 0 else -math.inf
                        for t in token_ids])
        return out
