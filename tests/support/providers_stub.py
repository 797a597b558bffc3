"""A local stand-in of the Inference Providers' HTTP API (and of an OpenAI-compatible
server), driven by the real huggingface_hub client.

Served under `url` (point CLASSBOT_INFERENCE_URL at it; the client appends `/{provider}`):
- `POST /{provider}/v1/chat/completions` — chat completion, streamed (SSE) or not, for any
  provider but hf-inference; `POST /hf-inference/models/{model}/v1/chat/completions` too;
- `POST /v1/chat/completions` with `model: "{id}:{provider}"` — the router's own chat route
  (huggingface_hub 2.5 sends a named provider's chat completion there with an hf_ token;
  2.4 goes to the provider's route above). As the router, the stand-in resolves the model
  through the Hub's mapping (HOSTED_MODELS) and hands the request on to that provider's
  route: it is recorded and answered as the provider got it (`Seen.via` says it came this
  way), so the same job looks the same on both versions; a model the provider does not
  serve is a 400;
- `POST /hf-inference/models/{model}` — hf-inference task payloads (`{"inputs", "parameters"}`),
  answered in each task's wire format (huggingface_hub's parsers read them): text-generation
  (and text2text) `[{"generated_text", "details"}]`, text-to-image PNG bytes, and /run's text
  tasks (`_text_task`); `POST /hf-inference/models/{model}/pipeline/sentence-similarity`
  (the client names that task in the path) answers one score per sentence; /run's audio and
  image tasks take the file as the raw body, or as base64 `inputs` in a JSON body when the
  call has parameters (huggingface_hub's HFInferenceBinaryInputTask), and answer from what
  the file holds (`MEDIA_TASK_ANSWERS`);
- `GET /v1/models` and `POST /v1/chat/completions` (a model with no `:provider`) — an
  OpenAI-compatible server (base `url + "/v1"`).
Text is made from the prompt, model and seed (same seed → same text; no seed, temperature 0
→ the greedy, repetitive text small models make). `latency` delays every answer; `fail()`
queues faults (status, headers, body) for the next matching requests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import random
import re
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image, ImageStat

WORDS = ("the", "cat", "sat", "on", "a", "warm", "mat", "and", "dreamed", "of", "fish", "blue")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any
    at: float = field(default_factory=time.monotonic)  # when it arrived
    connection: int = 0  # which client connection it came on (1, 2, ...)
    # Sent to the router's own chat route, for `via_model` ("{id}:{provider}"): `path` and
    # `body` are then the provider's route and what the router handed on there.
    via: str = ""
    via_model: str = ""


@dataclass
class StubFault:
    match: str  # a substring of the path
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    times: int = 1
    delay: float = 0.0


def words_for(prompt: str, model: str, seed: int | None, greedy: bool, n: int) -> list[str]:
    if greedy or seed is None:
        return [WORDS[i % 2] for i in range(n)]  # "the cat the cat…": greedy decoding repeats
    rng = random.Random(f"{prompt}|{model}|{seed}")
    return [rng.choice(WORDS) for _ in range(n)]


def png(size: int, seed: int | None) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class ProvidersStub:
    def __init__(self, *, served: list[str] | None = None) -> None:
        self.latency = 0.0
        self.chunk_delay = 0.0  # between streamed chunks
        self.served = served or ["tiny-chat"]  # what the OpenAI-compatible server lists
        # hf-inference model id → the task its payloads are answered as.
        self.tasks: dict[str, str] = {
            repo_id: str(fields["pipeline_tag"]) for repo_id, fields in HOSTED_MODELS.items()
        }
        self.seen: list[Seen] = []
        self.faults: list[StubFault] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.abandoned = 0  # requests whose client went away before the answer
        self._connections: dict[object, int] = {}  # transport → its number
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> ProvidersStub:
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=512)
            self._loop.run_until_complete(site.start())
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{self.port}"
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="providers-stub", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()

    def reset(self) -> None:
        with self._lock:
            self.seen.clear()
            self.faults.clear()
            self.latency = 0.0
            self.chunk_delay = 0.0
            self.most_in_flight = 0
            self.abandoned = 0

    def fail(self, match: str, status: int, **kwargs: Any) -> None:
        with self._lock:
            self.faults.append(StubFault(match, status, **kwargs))

    def requests(self, match: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if match in s.path]

    # -- answers --------------------------------------------------------------------------
    def _take_fault(self, path: str) -> StubFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.match in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        path = request.path
        via, via_model, refused = "", "", ""
        if path == ROUTER_CHAT and isinstance(body, dict) and ":" in str(body.get("model")):
            via, via_model = path, str(body["model"])
            routed = _routed_chat(via_model)
            if routed is None:
                refused = f"{via_model} is not served for chat by that provider"
            else:
                provider, provider_id = routed
                path = f"/{provider}/v1/chat/completions"
                body = {**body, "model": provider_id}
        with self._lock:
            headers = {k.lower(): v for k, v in request.headers.items()}
            # Held by the dict, a transport keeps its number for the stub's lifetime.
            connection = self._connections.setdefault(request.transport, len(self._connections) + 1)
            self.seen.append(
                Seen(
                    request.method,
                    path,
                    headers,
                    body,
                    connection=connection,
                    via=via,
                    via_model=via_model,
                )
            )
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            fault = self._take_fault(path)
            delay = (fault.delay if fault else 0.0) or self.latency
            if delay and not await self._wait(request, delay):
                with self._lock:
                    self.abandoned += 1
                return web.Response(status=499)
            if fault is not None:
                return web.Response(status=fault.status, body=fault.body, headers=fault.headers)
            if refused:
                return web.json_response({"error": refused}, status=400)
            return await self._answer(request, path, body)
        finally:
            with self._lock:
                self.in_flight -= 1

    @staticmethod
    async def _wait(request: web.Request, seconds: float) -> bool:
        """Sleep like a slow provider; False as soon as the client hangs up."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            transport = request.transport
            if transport is None or transport.is_closing():
                return False
            await asyncio.sleep(min(0.02, left))
        return True

    async def _answer(self, request: web.Request, path: str, body: Any) -> web.StreamResponse:
        if path == "/v1/models" and request.method == "GET":
            return web.json_response({"object": "list", "data": [{"id": m} for m in self.served]})
        if path.endswith("/chat/completions"):
            return await self._chat(request, body)
        if path.startswith("/hf-inference/models/"):
            model, _, pipeline = path.removeprefix("/hf-inference/models/").partition("/pipeline/")
            return self._task(model, body, pipeline)
        return web.json_response({"error": f"no route {path}"}, status=404)

    async def _chat(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        n = int(body.get("max_tokens") or 20)
        greedy = not body.get("temperature")
        words = words_for(prompt, str(body.get("model")), body.get("seed"), greedy, n)
        base = {"id": "chatcmpl-stub", "created": int(time.time()), "model": body.get("model")}
        if not body.get("stream"):
            return web.json_response(
                {
                    **base,
                    "object": "chat.completion",
                    "system_fingerprint": "stub",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": " ".join(words)},
                            "finish_reason": "length",
                            "logprobs": None,
                        }
                    ],
                    "usage": {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": n + 3},
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i, word in enumerate(words):
            last = i == len(words) - 1
            chunk = {
                **base,
                "object": "chat.completion.chunk",
                "system_fingerprint": "stub",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": (" " if i else "") + word},
                        "finish_reason": "length" if last else None,
                        "logprobs": None,
                    }
                ],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _task(self, model: str, body: Any, pipeline: str = "") -> web.Response:
        task = pipeline or self.tasks.get(model, "text-generation")
        if task in MEDIA_TASK_ANSWERS:
            try:
                data, media_params = _media_input(body)
                return web.json_response(MEDIA_TASK_ANSWERS[task](model, data, media_params))
            except (KeyError, TypeError, ValueError, OSError, EOFError, wave.Error) as error:
                return web.json_response({"error": str(error)}, status=400)
        params = body.get("parameters") or {}
        inputs = body.get("inputs")
        if task == "text-to-image":
            size = int(params.get("height") or 64)
            return web.Response(body=png(size, params.get("seed")), content_type="image/png")
        if task in TEXT_TASK_ANSWERS:
            try:
                return web.json_response(TEXT_TASK_ANSWERS[task](model, inputs, params))
            except (KeyError, TypeError, ValueError) as error:  # as the real API: 400, why
                return web.json_response({"error": str(error)}, status=400)
        n = int(params.get("max_new_tokens") or 20)
        greedy = not params.get("do_sample")
        words = words_for(str(inputs), model, params.get("seed"), greedy, n)
        details = {"finish_reason": "length", "generated_tokens": n, "seed": params.get("seed")}
        return web.json_response([{"generated_text": " ".join(words), "details": details}])


ROUTER_CHAT = "/v1/chat/completions"


def _routed_chat(model: str) -> tuple[str, str] | None:
    """Where the router sends a chat for "{id}:{provider}": the provider and its own id for
    the model, from the Hub's mapping (a live conversational entry); None when none."""
    repo_id, _, provider = model.rpartition(":")
    mapping = HOSTED_MODELS.get(repo_id, {}).get("inferenceProviderMapping", {})
    entry = mapping.get(provider)
    if entry is None or entry["status"] == "error" or entry["task"] != "conversational":
        return None
    return provider, str(entry["providerId"])


# -- /run's text tasks, in hf-inference's wire formats --------------------------------------
# Answers are made from the model id and the input, so two models answer differently and the
# same question gets the same answer.


def _rng(model: str, text: Any) -> random.Random:
    return random.Random(f"{model}|{json.dumps(text, sort_keys=True)}")


def _classify(model: str, inputs: Any, params: dict[str, Any]) -> Any:
    positive = FIXED_POSITIVE.get(model) or round(_rng(model, inputs).uniform(0.05, 0.95), 4)
    labels = [
        {"label": "POSITIVE", "score": positive},
        {"label": "NEGATIVE", "score": round(1 - positive, 4)},
    ]
    labels.sort(key=lambda x: -x["score"])
    # Every label unless top_k says fewer; one list per input, as the API nests it.
    return [labels[: int(params.get("top_k") or len(labels))]]


def _entities(model: str, inputs: Any, params: dict[str, Any]) -> Any:
    """Capitalised words: the first is a person, the rest places. Per token ("B-PER") unless
    asked to aggregate, as the pipeline answers."""
    text = str(inputs)
    found = []
    for i, match in enumerate(re.finditer(r"\b[A-Z][a-z]+\b", text)):
        kind = "PER" if i == 0 else "LOC"
        entry = {"score": 0.98, "word": match.group(), "start": match.start(), "end": match.end()}
        if params.get("aggregation_strategy") in (None, "none"):
            found.append({**entry, "entity": f"B-{kind}", "index": i + 1})
        else:
            found.append({**entry, "entity_group": kind})
    return found


def _fill(model: str, inputs: Any, params: dict[str, Any]) -> Any:
    text = str(inputs)
    if text.count(MASK) != 1:
        raise ValueError(f"No mask_token ({MASK}) found on the input")
    rng = _rng(model, text)
    words = rng.sample(FILLS, int(params.get("top_k") or 5))
    scores = sorted((rng.random() for _ in words), reverse=True)
    total = sum(scores) * 1.2  # the rest of the vocabulary takes some of the probability
    return [
        {
            "score": round(score / total, 4),
            "token": 1000 + i,
            "token_str": f" {word}" if i % 2 else word,  # BPE fills start with a space
            "sequence": text.replace(MASK, word),
        }
        for i, (word, score) in enumerate(zip(words, scores, strict=True))
    ]


def _answer(model: str, inputs: Any, params: dict[str, Any]) -> Any:
    """The context's last capitalised word (where Ada lives, in the tests)."""
    context = str(inputs["context"])
    if not str(inputs["question"]).strip():
        raise ValueError("question is empty")
    words = list(re.finditer(r"\b[A-Z][a-z]+\b", context)) or list(re.finditer(r"\w+", context))
    best = words[-1]
    score = round(_rng(model, inputs).uniform(0.3, 0.9), 4)
    return {"answer": best.group(), "score": score, "start": best.start(), "end": best.end()}


def _limited(words: list[str], params: dict[str, Any]) -> str:
    n = int((params.get("generate_parameters") or {}).get("max_new_tokens") or 20)
    return " ".join(words[:n])


def _summarize(model: str, inputs: Any, params: dict[str, Any]) -> Any:
    return [{"summary_text": _limited(str(inputs).split(), params)}]


def _translate(model: str, inputs: Any, params: dict[str, Any]) -> Any:
    """Word order reversed, marked with the target language: recognisably "translated"."""
    target = params.get("tgt_lang") or "fr"
    return [{"translation_text": f"({target}) " + _limited(str(inputs).split()[::-1], params)}]


def _zero_shot(model: str, inputs: Any, params: dict[str, Any]) -> Any:
    labels = list(params["candidate_labels"])
    rng = _rng(model, [inputs, labels])
    raw = [rng.random() + 0.01 for _ in labels]
    return sorted(
        (
            {"label": label, "score": round(v / sum(raw), 4)}
            for label, v in zip(labels, raw, strict=True)
        ),
        key=lambda x: -x["score"],
    )


def _similarity(model: str, inputs: Any, params: dict[str, Any]) -> Any:
    """Word overlap (Jaccard) between the source sentence and each other one, in order."""

    def words(text: str) -> set[str]:
        return set(re.findall(r"\w+", text.lower()))

    source = words(str(inputs["source_sentence"]))
    return [
        round(len(source & words(s)) / max(1, len(source | words(s))), 4)
        for s in inputs["sentences"]
    ]


MASK = "[MASK]"
FILLS = ("heart", "home", "centre", "future", "capital", "engine", "library", "best")
# Models whose classification is fixed (a test reads the exact scores).
FIXED_POSITIVE = {"classbot-test/sentiment": 0.9}
TEXT_TASK_ANSWERS: dict[str, Callable[[str, Any, dict[str, Any]], Any]] = {
    "text-classification": _classify,
    "token-classification": _entities,
    "fill-mask": _fill,
    "question-answering": _answer,
    "summarization": _summarize,
    "translation": _translate,
    "zero-shot-classification": _zero_shot,
    "sentence-similarity": _similarity,
}


# -- /run's audio and image tasks, in hf-inference's wire formats -----------------------------
# Answers come from what the file holds (a clip's length, an image's size and colours), so a
# test can tell the file reached the provider, and from the model id, so two models differ.


def _media_input(body: Any) -> tuple[bytes, dict[str, Any]]:
    """The file and the parameters: a raw body has none; a JSON one holds base64 `inputs`."""
    if isinstance(body, bytes):
        return body, {}
    if isinstance(body, dict):
        return base64.b64decode(body["inputs"], validate=True), dict(body.get("parameters") or {})
    raise ValueError("expected the file as the body, or a JSON body with base64 inputs")


def _file_rng(model: str, data: bytes) -> random.Random:
    return random.Random(f"{model}|{hashlib.sha256(data).hexdigest()}")


def _clip_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as clip:
        return clip.getnframes() / clip.getframerate()


def _transcribe(model: str, data: bytes, params: dict[str, Any]) -> Any:
    return {"text": f"  heard {_clip_seconds(data):.1f} seconds\nof sound "}


def _classify_sound(model: str, data: bytes, params: dict[str, Any]) -> Any:
    _clip_seconds(data)  # a 400 for anything that is not a WAV clip, as the real pipeline
    rng = _file_rng(model, data)
    raw = [rng.random() + 0.01 for _ in SOUND_LABELS]
    found = [
        {"label": k, "score": round(v / sum(raw), 4)}
        for k, v in zip(SOUND_LABELS, raw, strict=True)
    ]
    found.sort(key=lambda x: -x["score"])
    return found[: int(params.get("top_k") or len(found))]


def _rgb(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _colours(image: Image.Image) -> dict[str, float]:
    """Each colour's share of the image's mean red, green and blue."""
    means = list(ImageStat.Stat(image).mean)
    total = sum(means) or 1.0
    return {name: mean / total for name, mean in zip(("red", "green", "blue"), means, strict=True)}


def _classify_image(model: str, data: bytes, params: dict[str, Any]) -> Any:
    """The colours, mostly as the pixels say, a little as the model's weights "see" them."""
    shares = _colours(_rgb(data))
    rng = _file_rng(model, data)
    mixed = {k: 0.8 * v + 0.2 * rng.random() for k, v in shares.items()}
    total = sum(mixed.values())
    found = [{"label": k, "score": round(v / total, 4)} for k, v in mixed.items()]
    found.sort(key=lambda x: -x["score"])
    return found[: int(params.get("top_k") or len(found))]


def _detect(model: str, data: bytes, params: dict[str, Any]) -> Any:
    """The red pixels' bounding box as an apple; grass along the bottom (its box runs past the
    right edge, as a detector's may); a kite wholly past that edge; a faint cloud below the
    usual threshold."""
    image = _rgb(data)
    reds = Image.eval(image.split()[0], lambda v: 255 if v > 200 else 0)
    not_red = Image.eval(image.split()[1], lambda v: 255 if v < 80 else 0)
    mask = Image.composite(reds, Image.new("L", image.size, 0), not_red)
    width, height = image.size
    found = [
        {"score": 0.7, "label": "grass", "box": _box(0, height * 2 // 3, width + 6, height - 1)},
        {"score": 0.6, "label": "kite", "box": _box(width + 2, 0, width + 20, 10)},
        {"score": 0.2, "label": "cloud", "box": _box(2, 2, width // 4, height // 5)},
    ]
    apple = mask.getbbox()
    if apple is not None:
        x0, y0, x1, y1 = apple  # getbbox's right and lower edges are exclusive
        found.insert(0, {"score": 0.93, "label": "apple", "box": _box(x0, y0, x1 - 1, y1 - 1)})
    threshold = float(params.get("threshold") or 0.0)
    return [f for f in found if f["score"] >= threshold]


def _box(x0: int, y0: int, x1: int, y1: int) -> dict[str, int]:
    return {"xmin": x0, "ymin": y0, "xmax": x1, "ymax": y1}


def _caption(model: str, data: bytes, params: dict[str, Any]) -> Any:
    image = _rgb(data)
    shares = _colours(image)
    most = max(shares, key=lambda k: shares[k])
    return [{"generated_text": f"a {image.width} by {image.height} picture, mostly {most} "}]


SOUND_LABELS = ("speech", "music", "silence", "noise")
MEDIA_TASK_ANSWERS: dict[str, Callable[[str, bytes, dict[str, Any]], Any]] = {
    "automatic-speech-recognition": _transcribe,
    "audio-classification": _classify_sound,
    "image-classification": _classify_image,
    "object-detection": _detect,
    "image-to-text": _caption,
}


# The Hub's records for the models the hosted tests use (served by the Hub stand-in).
HOSTED_MODELS: dict[str, dict[str, Any]] = {
    "classbot-test/chat-tiny": {
        "pipeline_tag": "text-generation",
        "inferenceProviderMapping": {
            "together": {"status": "live", "providerId": "tiny-chat", "task": "conversational"}
        },
    },
    "classbot-test/chat-flaky": {
        "pipeline_tag": "text-generation",
        "inferenceProviderMapping": {
            "together": {"status": "live", "providerId": "tiny-chat", "task": "conversational"}
        },
    },
    "classbot-test/complete-tiny": {
        "pipeline_tag": "text-generation",
        "inferenceProviderMapping": {
            "hf-inference": {
                "status": "live",
                "providerId": "classbot-test/complete-tiny",
                "task": "text-generation",
            }
        },
    },
    "classbot-test/draw-tiny": {
        "pipeline_tag": "text-to-image",
        "library_name": "diffusers",
        "inferenceProviderMapping": {
            "hf-inference": {
                "status": "live",
                "providerId": "classbot-test/draw-tiny",
                "task": "text-to-image",
            }
        },
    },
    "classbot-test/unserved": {"pipeline_tag": "text-generation", "inferenceProviderMapping": {}},
    "classbot-test/sentiment": {
        "pipeline_tag": "text-classification",
        "inferenceProviderMapping": {
            "hf-inference": {
                "status": "live",
                "providerId": "classbot-test/sentiment",
                "task": "text-classification",
            }
        },
    },
}


def _served_task(repo_id: str, task: str, *, mapped_as: str = "", **fields: Any) -> dict[str, Any]:
    """A /run model hf-inference serves (its mapping entry may name another task)."""
    entry = {"status": "live", "providerId": repo_id, "task": mapped_as or task}
    return {"pipeline_tag": task, "inferenceProviderMapping": {"hf-inference": entry}, **fields}


def _size(total: int) -> dict[str, Any]:
    return {"safetensors": {"parameters": {"F32": total}, "total": total}}


# /run's text tasks: one model each (the `model` setting for its task in the tests), a second
# sentiment model for compare:, and models served for nothing or for another task.
TASK_MODELS: dict[str, dict[str, Any]] = {
    "classbot-test/sentiment-2": _served_task(
        "classbot-test/sentiment-2",
        "text-classification",
        extra_tags=["license:apache-2.0"],
        **_size(125_000_000),
    ),
    "classbot-test/ner": _served_task(
        "classbot-test/ner", "token-classification", **_size(108_000_000)
    ),
    "classbot-test/fill": _served_task("classbot-test/fill", "fill-mask", mask_token=MASK),
    "classbot-test/qa": _served_task("classbot-test/qa", "question-answering"),
    "classbot-test/summarize": _served_task("classbot-test/summarize", "summarization"),
    "classbot-test/translate": _served_task("classbot-test/translate", "translation"),
    "classbot-test/t2t": _served_task(
        "classbot-test/t2t", "text2text-generation", mapped_as="text-generation"
    ),
    "classbot-test/nli": _served_task("classbot-test/nli", "zero-shot-classification"),
    "classbot-test/embed": _served_task(
        "classbot-test/embed", "sentence-similarity", mapped_as="feature-extraction"
    ),
    "classbot-test/sentiment-unserved": {
        "pipeline_tag": "text-classification",
        "inferenceProviderMapping": {},
    },
    "classbot-test/ner-elsewhere": {
        "pipeline_tag": "token-classification",
        "inferenceProviderMapping": {
            "together": {"status": "live", "providerId": "ner", "task": "conversational"}
        },
    },
}
HOSTED_MODELS.update(TASK_MODELS)

# /run's audio and image tasks: one model each, a second image classifier for compare:, an
# image classifier no provider serves and a detector served only for another task.
MEDIA_MODELS: dict[str, dict[str, Any]] = {
    "classbot-test/asr": _served_task("classbot-test/asr", "automatic-speech-recognition"),
    "classbot-test/sound": _served_task("classbot-test/sound", "audio-classification"),
    "classbot-test/vision": _served_task(
        "classbot-test/vision", "image-classification", **_size(86_000_000)
    ),
    "classbot-test/vision-2": _served_task(
        "classbot-test/vision-2", "image-classification", extra_tags=["license:mit"]
    ),
    "classbot-test/detect": _served_task("classbot-test/detect", "object-detection"),
    "classbot-test/caption": _served_task("classbot-test/caption", "image-to-text"),
    "classbot-test/vision-unserved": {
        "pipeline_tag": "image-classification",
        "inferenceProviderMapping": {},
    },
    "classbot-test/detect-elsewhere": {
        "pipeline_tag": "object-detection",
        "inferenceProviderMapping": {
            "fal-ai": {"status": "live", "providerId": "detect", "task": "text-to-image"}
        },
    },
}
HOSTED_MODELS.update(MEDIA_MODELS)


def hub_records() -> dict[str, dict[str, Any]]:
    """The Hub stand-in's records for HOSTED_MODELS (model_info, with and without expand)."""
    records = {}
    for i, (repo_id, fields) in enumerate(HOSTED_MODELS.items()):
        records[repo_id] = {
            "_id": f"hosted{i:020d}",
            "id": repo_id,
            "modelId": repo_id,
            "sha": f"{i:040d}",
            "tags": [fields["pipeline_tag"], *fields.get("extra_tags", ())],
            "siblings": [],
            "private": False,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            **{k: v for k, v in fields.items() if k != "extra_tags"},
        }
    return records
