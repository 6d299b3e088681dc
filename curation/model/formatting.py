"""Turn records into token ids with exact response spans, from token boundaries, never from string search.

A conversation is rendered as alternating segments: context (system prompt, user turns, template headers) and
assistant turns. Each segment is tokenised on its own and the ids are concatenated, so where the response starts
is known by construction. (The reference IFD code finds the response with `rfind` on the rendered string, which
fails when the template trims whitespace and can split tokens differently: methods.md 2.7 d.)

- Chat template: the model's own, rendered incrementally. The prompt up to assistant turn k is the template of
  messages[:k] with the generation prompt; the turn itself is what the template of messages[:k+1] adds after it.
  The end-of-turn token closes the labelled span; template whitespace after it is context.
- Alpaca template (Stanford Alpaca's prompt) when the tokenizer has none, or on request; the response is
  followed by the tokenizer's EOS token.
- The *direct* form (for IFD's denominator) is the final response with no instruction: the template of an
  assistant-only conversation, or, when the template cannot render the empty prefix (SmolLM2's reads
  messages[0]), of the response after an empty user turn. Its response ids are identical to the conditional
  form's.
- Plain template ("plain", scoring only): Superfiltering's prompt, "{instruction}\n{input}\n" (or
  "{instruction}\n") followed by the response, with no template and no end token, as its code scores GPT-2.
  Its direct form is the response alone after one start token (BOS, else EOS) that predicts its first token.
- Truncation keeps the prompt and cuts the response's tail. A sample whose final response is cut away entirely
  gets status "truncated": unscorable, reported, never silently dropped or scored as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from curation.errors import CurationError
from curation.records import Record, join_prompt

OK, TRUNCATED, EMPTY = "ok", "truncated", "empty_response"
TEMPLATES = ("chat", "alpaca", "plain")  # plain: Superfiltering's prompt, for scoring

ALPACA_PREAMBLE = ("Below is an instruction that describes a task. Write a response that appropriately completes "
                   "the request.")
ALPACA_PREAMBLE_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                         "context. Write a response that appropriately completes the request.")
ALPACA_DIRECT = "### Response:\n"


@dataclass(frozen=True)
class Formatted:
    """One sample as token ids. Spans are [start, end) token indices into `input_ids`."""

    input_ids: tuple[int, ...]
    response: tuple[int, int]  # the final assistant turn (what scoring measures), end-of-turn token included
    labels: tuple[tuple[int, int], ...]  # every assistant turn (what training learns), clipped by truncation
    status: str  # OK, TRUNCATED (response cut away entirely) or EMPTY (blank response)
    truncated: bool = False  # some response tokens were cut at max_length (still scorable if status is OK)
    response_tokens_full: int = 0  # response length before truncation

    @property
    def n_response(self) -> int:
        return self.response[1] - self.response[0]


# A segment is (text or token ids, is_assistant). Token ids are used for special tokens added outside the text.
Segment = tuple[str | tuple[int, ...], bool]


def to_chat(record: Record) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in record.messages]


def _render(tokenizer: Any, messages: list[dict[str, str]], generation: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)


def chat_segments(tokenizer: Any, messages: list[dict[str, str]]) -> list[Segment]:
    """Split a chat-template rendering into context and assistant segments (see the module docstring)."""
    segments: list[Segment] = []
    done = ""
    for k, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:k], True) if k else _render(tokenizer, [], True)
        full = _render(tokenizer, messages[: k + 1], False)
        if not (prompt.startswith(done) and full.startswith(prompt)):
            raise _PrefixError(k)
        segments.append((prompt[len(done):], False))
        segments.append((full[len(prompt):], True))
        done = full
    return segments


class _PrefixError(CurationError):
    def __init__(self, turn: int):
        super().__init__(f"this model's chat template does not render conversations incrementally (turn {turn}"
                         " changes what came before it), so response spans cannot be placed exactly; load the"
                         " model with template='alpaca'")


def direct_chat_segments(tokenizer: Any, response: str) -> list[Segment]:
    """The response alone under the chat template: assistant-only, or after an empty user turn when the
    template cannot start with an assistant turn. Either way the context is the same for every sample."""
    try:
        return chat_segments(tokenizer, [{"role": "assistant", "content": response}])
    except Exception:  # noqa: BLE001 - templates raise anything (jinja errors, role checks) on odd shapes
        return chat_segments(tokenizer, [{"role": "user", "content": ""}, {"role": "assistant", "content": response}])


def alpaca_segments(record: Record, eos: tuple[int, ...]) -> list[Segment]:
    turns = record.turns
    instruction, input_text = record.instruction, record.input
    single = record.n_turns == 1 and join_prompt(instruction, input_text) == turns[0].content
    preamble = record.system or (ALPACA_PREAMBLE_INPUT if single and input_text.strip() else ALPACA_PREAMBLE)
    segments: list[Segment] = []
    context = preamble + "\n\n"
    for message in turns:
        if message.role == "user":
            if single and input_text.strip():
                context += f"### Instruction:\n{instruction}\n\n### Input:\n{input_text}\n\n### Response:\n"
            else:
                context += f"### Instruction:\n{message.content}\n\n### Response:\n"
        else:
            segments += [(context, False), (message.content, True)]
            if eos:
                segments.append((eos, True))
            context = "\n\n"
    return segments


def plain_segments(record: Record) -> list[Segment]:
    """Superfiltering's PROMPT_DICT_NONE: earlier messages one per line, an Alpaca row as instruction and input."""
    lines = [m.content for m in record.messages[:-1]]
    if record.parts and record.n_turns == 1 and lines:
        lines[-1] = record.instruction + ("\n" + record.input if record.input.strip() else "")
    return [("".join(line + "\n" for line in lines), False), (record.response, True)]


def direct_alpaca_segments(response: str, eos: tuple[int, ...]) -> list[Segment]:
    return [(ALPACA_DIRECT, False), (response, True)] + ([(eos, True)] if eos else [])


class Formatter:
    """Formats records for one tokenizer and template. Cheap to build; tokenises in batches."""

    def __init__(self, tokenizer: Any, template: str, max_length: int) -> None:
        if template not in TEMPLATES:
            raise CurationError(f"unknown template {template!r}; use chat, alpaca or plain")
        if template == "chat" and not getattr(tokenizer, "chat_template", None):
            raise CurationError("the tokenizer has no chat template; use template='alpaca'")
        if max_length < 2:
            raise CurationError(f"max_length must be at least 2 (got {max_length})")
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = max_length
        self.eos = () if tokenizer.eos_token_id is None else (int(tokenizer.eos_token_id),)
        self.end_ids = set(self.eos)
        self.prefix = self._special_prefix()

    def _special_prefix(self) -> tuple[int, ...]:
        """Ids the tokenizer puts before text (BOS for Llama-style tokenizers); templates may already hold them."""
        with_special = self.tokenizer("x", add_special_tokens=True)["input_ids"]
        plain = self.tokenizer("x", add_special_tokens=False)["input_ids"]
        for i in range(len(with_special) - len(plain) + 1):
            if with_special[i:i + len(plain)] == plain:
                return tuple(with_special[:i])
        return ()

    # -- public -----------------------------------------------------------------------------------
    def format(self, records: Sequence[Record], *, direct: bool = False) -> list[Formatted]:
        """Conditional form (the whole conversation) or direct form (final response alone) of each record."""
        all_segments = [self._segments(r, direct) for r in records]
        texts = [s for segs in all_segments for s, _ in segs if isinstance(s, str) and s]
        encoded = iter(self.tokenizer(texts, add_special_tokens=False)["input_ids"]) if texts else iter(())
        out = []
        for record, segs in zip(records, all_segments):
            pieces = []
            for seg, is_assistant in segs:
                ids = tuple(seg) if not isinstance(seg, str) else (tuple(next(encoded)) if seg else ())
                pieces.append((ids, is_assistant))
            out.append(self._assemble(pieces, blank=not record.response.strip()))
        return out

    # -- internals --------------------------------------------------------------------------------
    def _segments(self, record: Record, direct: bool) -> list[Segment]:
        if self.template == "chat":
            segs = direct_chat_segments(self.tokenizer, record.response) if direct else \
                chat_segments(self.tokenizer, to_chat(record))
        elif self.template == "plain":
            segs = [(record.response, True)] if direct else plain_segments(record)
        else:
            segs = direct_alpaca_segments(record.response, self.eos) if direct else \
                alpaca_segments(record, self.eos)
        first = segs[0][0] if segs else ""
        bos_text = getattr(self.tokenizer, "bos_token", None)
        if self.prefix and not (isinstance(first, str) and bos_text and first.startswith(bos_text)):
            segs = [(self.prefix, False)] + segs
        return segs

    def _assemble(self, pieces: list[tuple[tuple[int, ...], bool]], *, blank: bool) -> Formatted:
        ids: list[int] = []
        spans: list[list[int]] = []
        for seg_ids, is_assistant in pieces:
            if is_assistant and spans and spans[-1][1] == len(ids):
                spans[-1][1] += len(seg_ids)  # response text + its EOS id form one turn
            elif is_assistant:
                spans.append([len(ids), len(ids) + len(seg_ids)])
            ids.extend(seg_ids)
        spans = [self._trim_after_end(ids, s) for s in spans]
        if not ids or spans[0][0] == 0:  # the first label needs a token before it to be predicted from
            fill = self.prefix[:1] or self.eos
            ids = list(fill) + ids
            spans = [[a + len(fill), b + len(fill)] for a, b in spans]
        start, end = spans[-1]
        full = end - start
        limit = self.max_length
        truncated = end > limit
        clipped = [(a, min(b, limit)) for a, b in spans if a < limit]
        response = (start, min(end, limit)) if start < limit else (limit, limit)
        status = EMPTY if blank else (TRUNCATED if start >= limit else OK)
        return Formatted(input_ids=tuple(ids[:limit]), response=response, labels=tuple(clipped), status=status,
                         truncated=truncated, response_tokens_full=full)

    def _trim_after_end(self, ids: list[int], span: list[int]) -> list[int]:
        """Keep template whitespace after the end-of-turn token (ChatML's newline) out of the labels."""
        a, b = span
        for i in range(b - 1, a - 1, -1):
            if ids[i] in self.end_ids:
                return [a, i + 1]
        return [a, b]
