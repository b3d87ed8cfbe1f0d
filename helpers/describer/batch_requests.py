"""Described photos as requests in a batch API's input file (`desclm export --format openai_batch`, `gemini_batch`).

    desclm export described.jsonl --format openai_batch --images photos/ --model Qwen/Qwen2.5-VL-7B-Instruct \
        --max_side 768 --image_format jpeg --output requests.jsonl
    vllm run-batch -i requests.jsonl -o results.jsonl --model Qwen/Qwen2.5-VL-7B-Instruct
    desclm check --input cv.jsonl --captions results.jsonl --output verdicts.jsonl

    desclm export described.jsonl --format gemini_batch --images photos/ --max_side 768 --image_format jpeg \
        --output requests.jsonl     # uploaded, then client.batches.create(model=..., src=the file)

A line a photo. **openai_batch**, as OpenAI's Batch API and vLLM's `run-batch` read them: `custom_id` (the photo's id,
the id of its CV record: a photo's key, or an id's JSON text), `method` POST, `url` `/v1/chat/completions`, and a `body`
asking `model` one user turn, the photo (an `image_url` part: the photo itself as a data URL, or a URL of it) and the
prompt (a `text` part); `max_completion_tokens` where given. **gemini_batch**, as the Gemini Batch API reads its input
file: `key` (the same id) and `request`, a `GenerateContentRequest` of one user turn, the photo (an `inline_data` part:
its media type and bytes; or a `file_data` part, its URI) and the prompt (snake-case names, as the Gemini API's
documentation writes them); `generation_config.max_output_tokens` where given; the model is named when the batch is
created, not in each request. **anthropic_batch**, as Anthropic's Message Batches API takes its requests (a list of
them, read from the file: `client.messages.batches.create(requests=[json.loads(line) for line in file])`): `custom_id`
(the same id where Anthropic takes it, else its digest: `anthropic_id`) and `params`, asking `model` one user turn, the
photo (an `image` block: its bytes, `base64`, or a `url` source) and the prompt, in at most `max_tokens` (which
Anthropic needs). The output file's lines name their request's `custom_id` (`key`), by which `desclm check`
joins each answer to its record (`helpers.describer.check.is_batch_output`). Each API takes at most so many requests and
bytes a file (`BatchApi`, `limits_warning`; an output that is not a `.jsonl` file is a folder of parts of that size,
`requests-00000.jsonl`, ...); vLLM has no such limit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import re
from dataclasses import dataclass

CHAT_COMPLETIONS = "/v1/chat/completions"
BATCH_PART = "requests"  # a folder output's parts: requests-00000.jsonl, ...


@dataclass(frozen=True)
class BatchApi:
    """A batch API's input file: the photo formats it takes, and the most requests (0: any) and bytes of one file."""

    name: str  # for messages
    takes: tuple[str, ...]  # media types
    most_requests: int
    most_bytes: int
    names_model: bool  # whether each request names the model (Gemini's batch names it once, when created)
    most_photo_bytes: int = 0  # the largest photo a request may send, its base64 text (0: no limit of its own)


BATCH_APIS = {  # by the export's format; limits from the providers' documentation
    "openai_batch": BatchApi(
        "OpenAI's Batch API", ("image/jpeg", "image/png", "image/webp", "image/gif"), 50_000, 200 * 10**6, True
    ),
    "gemini_batch": BatchApi(
        "the Gemini Batch API",
        ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"),
        0,
        2 * 10**9,
        False,
    ),
    "anthropic_batch": BatchApi(
        "Anthropic's Message Batches API",
        ("image/jpeg", "image/png", "image/gif", "image/webp"),
        100_000,
        256 * 10**6,
        True,
        5 * 2**20,  # "5 MB" an image: its base64 text measured (the stricter reading)
    ),
}
ANTHROPIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the custom_ids Anthropic's Message Batches take
HASHED_ID = re.compile(r"h[0-9a-f]{32}")  # `anthropic_id`'s digest of an id it cannot take as it is


def id_text(record_id) -> str:
    """A record's id as text, a text as it is, another value as its JSON text: a request's custom id (`key`), a LLaVA
    entry's id."""
    return record_id if isinstance(record_id, str) else json.dumps(record_id, sort_keys=True, ensure_ascii=False)


def anthropic_id(custom_id: str) -> str:
    """`custom_id` as Anthropic's Message Batches take it (`ANTHROPIC_ID`): as it is where it can be, else `h` and a
    128-bit digest of it (a photo's key has dots, slashes), which `desclm check` joins back by digesting its records'
    ids (`helpers.describer.check.RecordIndex`)."""
    if ANTHROPIC_ID.fullmatch(custom_id):
        return custom_id
    return "h" + hashlib.blake2b(custom_id.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class BatchRequests:
    """What each request asks: `model` (the served model's name; none for gemini_batch), at most `max_tokens` tokens
    (0: the server's default), `answers` answers (OpenAI's `n`, Gemini's `candidate_count`; Anthropic's one) at
    `temperature` (negative: the server's default), after the `system` prompt (none: ""), in the input file of `api` (a
    `BATCH_APIS` format)."""

    model: str
    max_tokens: int = 0
    api: str = "openai_batch"
    answers: int = 1
    temperature: float = -1.0
    system: str = ""

    def __post_init__(self) -> None:
        if self.api not in BATCH_APIS:
            raise ValueError(f"api must be one of {', '.join(BATCH_APIS)}, got {self.api!r}")
        if self.answers < 1 or (self.answers > 1 and self.api == "anthropic_batch"):
            raise ValueError(f"answers must be >= 1, and 1 for Anthropic's (one answer a request), got {self.answers}")


@dataclass(frozen=True)
class SentPhoto:
    """A request's photo: its media type and bytes (base64), or a URL of it (its media type told by its name, "" where
    unknown)."""

    media: str
    data: str = ""
    url: str = ""


def batch_request(custom_id: str, photo: SentPhoto, prompt: str, settings: BatchRequests) -> dict:
    """One photo's request in `settings.api`'s layout (see the module docstring)."""
    if settings.api == "anthropic_batch":
        if photo.url:
            source = {"type": "url", "url": photo.url}
        else:
            source = {"type": "base64", "media_type": photo.media, "data": photo.data}
        content = [{"type": "image", "source": source}, {"type": "text", "text": prompt}]
        params = {"model": settings.model, "max_tokens": settings.max_tokens}
        params |= {"system": settings.system} if settings.system else {}
        params |= {"temperature": settings.temperature} if settings.temperature >= 0 else {}
        params["messages"] = [{"role": "user", "content": content}]
        return {"custom_id": anthropic_id(custom_id), "params": params}
    if settings.api == "gemini_batch":
        if photo.url:
            part = {"file_data": {"mime_type": photo.media, "file_uri": photo.url}}
        else:
            part = {"inline_data": {"mime_type": photo.media, "data": photo.data}}
        request = {"contents": [{"role": "user", "parts": [part, {"text": prompt}]}]}
        if settings.system:
            request["system_instruction"] = {"parts": [{"text": settings.system}]}
        generation = {"max_output_tokens": settings.max_tokens} if settings.max_tokens else {}
        generation |= {"candidate_count": settings.answers} if settings.answers > 1 else {}
        generation |= {"temperature": settings.temperature} if settings.temperature >= 0 else {}
        if generation:
            request["generation_config"] = generation
        return {"key": custom_id, "request": request}
    url = photo.url or f"data:{photo.media};base64,{photo.data}"
    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": prompt}]
    system = [{"role": "system", "content": settings.system}] if settings.system else []
    body = {"model": settings.model, "messages": [*system, {"role": "user", "content": content}]}
    if settings.max_tokens:
        body["max_completion_tokens"] = settings.max_tokens
    body |= {"n": settings.answers} if settings.answers > 1 else {}
    body |= {"temperature": settings.temperature} if settings.temperature >= 0 else {}
    return {"custom_id": custom_id, "method": "POST", "url": CHAT_COMPLETIONS, "body": body}


def encoded_photo(data: bytes) -> SentPhoto:
    """A photo's bytes to send, its media type Pillow's for its format.

    Raises:
        ValueError: `data` is no photo Pillow can identify.
    """
    from PIL import Image

    from helpers.core.photo_datasets import photo_format  # (which opens a phone's HEIC photos too)

    kind = photo_format(data)
    media = Image.MIME.get(kind, f"image/{kind.lower()}")
    return SentPhoto(media, base64.b64encode(data).decode("ascii"))


def url_photo(url: str) -> SentPhoto:
    """A photo sent by URL, its media type told by its name's extension ("" where none tells it)."""
    from PIL import Image

    media = mimetypes.guess_type(url, strict=False)[0]
    if media is None:  # an extension only Pillow (or its plugins: HEIC) knows
        kind = Image.registered_extensions().get("." + url.rsplit(".", 1)[-1].lower()) if "." in url else None
        media = Image.MIME.get(kind, "") if kind else ""
    return SentPhoto(media, url=url)


def limits_warning(api: BatchApi, requests: int, size: int) -> str | None:
    """What to say when a requests file holds more requests or bytes than `api` takes in one file (None: neither)."""
    if (not api.most_requests or requests <= api.most_requests) and size <= api.most_bytes:
        return None
    most = f"{api.most_requests:,} requests and " if api.most_requests else ""
    return (
        f"{requests:,} requests in {size / 10**6:,.0f} MB: {api.name} takes at most {most}"
        f"{api.most_bytes / 10**6:,.0f} MB a file (vLLM's run-batch takes any): --output a folder writes parts of that "
        "size; photos smaller (--max_side 768), or URLs of them (--url_prefix), make fewer"
    )
