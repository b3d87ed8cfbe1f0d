"""Described photos as requests in the OpenAI Batch API's input file (`desclm export --format openai_batch`).

    desclm export described.jsonl --format openai_batch --images photos/ --model Qwen/Qwen2.5-VL-7B-Instruct \
        --max_side 768 --image_format jpeg --output requests.jsonl
    vllm run-batch -i requests.jsonl -o results.jsonl --model Qwen/Qwen2.5-VL-7B-Instruct
    desclm check --input cv.jsonl --captions results.jsonl --output verdicts.jsonl

A line a photo, as OpenAI's Batch API and vLLM's `run-batch` read them: `custom_id` (the photo's id, the id of
its CV record: a photo's key, or an id's JSON text), `method` POST, `url` `/v1/chat/completions`, and a `body`
asking `model` one user turn, the photo (an `image_url` part: the photo itself as a data URL, or a URL of it) and
the prompt (a `text` part); `max_completion_tokens` where given. The output file's lines name their request's
`custom_id`, by which `desclm check` joins each answer to its record (`helpers.describer.check.is_batch_output`).
OpenAI takes at most `OPENAI_REQUESTS` requests and `OPENAI_BYTES` bytes a file (`openai_limits_warning`; an output
that is not a `.jsonl` file is a folder of parts of that size, `requests-00000.jsonl`, ...); vLLM has no such limit.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

SENT_AS_IS = ("image/jpeg", "image/png", "image/webp", "image/gif")  # the photo formats OpenAI's API takes
OPENAI_REQUESTS = 50_000  # the Batch API's most requests in one input file (OpenAI's documentation)
OPENAI_BYTES = 200 * 10**6  # and its largest input file
CHAT_COMPLETIONS = "/v1/chat/completions"
BATCH_PART = "requests"  # a folder output's parts: requests-00000.jsonl, ...


@dataclass(frozen=True)
class BatchRequests:
    """What each request asks: `model` (the served model's name) and at most `max_tokens` tokens (0: the server's
    default)."""

    model: str
    max_tokens: int = 0


def batch_request(custom_id: str, image_url: str, prompt: str, settings: BatchRequests) -> dict:
    """One photo's request (see the module docstring)."""
    content = [{"type": "image_url", "image_url": {"url": image_url}}, {"type": "text", "text": prompt}]
    body = {"model": settings.model, "messages": [{"role": "user", "content": content}]}
    if settings.max_tokens:
        body["max_completion_tokens"] = settings.max_tokens
    return {"custom_id": custom_id, "method": "POST", "url": CHAT_COMPLETIONS, "body": body}


def data_url(data: bytes) -> str:
    """A photo's bytes as a data URL (`data:image/jpeg;base64,...`), its media type Pillow's for its format.

    Raises:
        ValueError: `data` is no photo Pillow can identify.
    """
    from PIL import Image

    from helpers.core.photo_datasets import photo_format  # (which opens a phone's HEIC photos too)

    kind = photo_format(data)
    media = Image.MIME.get(kind, f"image/{kind.lower()}")
    return f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"


def openai_limits_warning(requests: int, size: int) -> str | None:
    """What to say when a requests file holds more requests or bytes than OpenAI's Batch API takes in one file
    (None: neither)."""
    if requests <= OPENAI_REQUESTS and size <= OPENAI_BYTES:
        return None
    return (
        f"{requests:,} requests in {size / 10**6:,.0f} MB: OpenAI's Batch API takes at most {OPENAI_REQUESTS:,} "
        f"requests and {OPENAI_BYTES / 10**6:.0f} MB a file (vLLM's run-batch takes any): --output a folder writes "
        "parts of that size; photos smaller (--max_side 768), or URLs of them (--url_prefix), make fewer"
    )
