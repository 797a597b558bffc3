"""/run's tasks on a hosted backend: one call of huggingface_hub's AsyncInferenceClient per
task, its answer mapped into the same result as a local run (bot/jobs/kinds/run.py):
scored labels, spans with character offsets, text, or boxes. The reply, compare and usage
cannot tell where a model ran.

`TASKS` maps a task to its call; a task without one is refused by the hosted guard (its
list is bot/inference/hosted/providers.py: PROVIDER_TASKS) and, should a job for it reach
here anyway, fails with the same words.

The audio and image tasks send the file as the bot prepared it (bot/inference/tasks/media.py:
a 16 kHz mono WAV, a bounded image) as bytes: the client posts them raw, or as base64 in a
JSON body when the call has parameters (top_k, threshold). Object detection's picture is
drawn by the same code as a local run's (bot/inference/tasks/boxes.py), in a thread.

Choices the client leaves open:
- text2text-generation: the client has no text2text method any more; `text_generation`
  is what hf-inference answers for a text2text model (a seq2seq answer holds no prompt);
- token-classification asks for the "simple" aggregation, so a word split into pieces
  comes back as one entity (as the Hub's widget shows it);
- the seq2seq tasks pass max_new_tokens in `generate_parameters`, as the local run honours it.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

from huggingface_hub import AsyncInferenceClient

from bot.inference.hosted.faults import HostedFault
from bot.inference.tasks.boxes import DETECTION_THRESHOLD, draw_boxes, open_image, visible
from bot.inference.tasks.languages import in_models_words
from bot.inference.tasks.vetting import TaskModel
from bot.jobs.hosted.runners import HostedCall
from bot.jobs.kinds.run import Box, RunParams, RunResult, Scored, Span, TaskInput, TaskOutput

# As many labels and fills as a local run shows.
TOP_LABELS = 10
TOP_FILLS = 5
TOP_MEDIA_LABELS = 5


@dataclass(frozen=True)
class Answer:
    """What one task call found, before it becomes a TaskOutput."""

    scores: tuple[Scored, ...] = ()
    spans: tuple[Span, ...] = ()
    text: str = ""
    boxes: tuple[Box, ...] = ()


TaskCall = Callable[[AsyncInferenceClient, str, TaskInput], Awaitable[Answer]]


def _ranked(pairs: Iterable[tuple[str, float]], top: int | None = None) -> tuple[Scored, ...]:
    ranked = sorted(
        (Scored(str(label), round(float(score), 4)) for label, score in pairs),
        key=lambda s: -s.score,
    )
    return tuple(ranked[:top] if top else ranked)


def _entity(tag: str | None) -> str:
    """The entity type of a tag: B-PER, I-PER and PER are all PER, as a local run names it."""
    tag = tag or "O"
    return tag.split("-", 1)[1] if tag[:2] in ("B-", "I-") else tag


async def _text_classification(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.text_classification(x.text, model=model, top_k=TOP_LABELS)
    return Answer(scores=_ranked(((f.label, f.score) for f in found), TOP_LABELS))


async def _token_classification(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.token_classification(x.text, model=model, aggregation_strategy="simple")
    spans = []
    for f in found:
        label = _entity(f.entity_group or f.entity)
        if label != "O" and 0 <= f.start < f.end <= len(x.text):
            spans.append(Span(int(f.start), int(f.end), label, round(float(f.score), 4)))
    return Answer(spans=tuple(sorted(spans, key=lambda s: s.start)))


async def _fill_mask(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.fill_mask(x.text, model=model, top_k=TOP_FILLS)
    return Answer(scores=_ranked(((str(f.token_str).strip(), f.score) for f in found), TOP_FILLS))


async def _question_answering(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.question_answering(x.text, x.context, model=model)
    best = found[0] if isinstance(found, list) else found  # a list when top_k > 1
    if not 0 <= best.start < best.end <= len(x.context):
        return Answer()  # no answer in the context (or offsets past it)
    return Answer(spans=(Span(int(best.start), int(best.end), "answer", round(best.score, 4)),))


async def _summarization(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.summarization(
        x.text, model=model, generate_parameters={"max_new_tokens": x.max_new_tokens}
    )
    return Answer(text=found.summary_text.strip())


async def _translation(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    # The client sends a direction only as a pair: from English unless told, as a local run
    # does; a source alone leaves the model's own direction.
    source, target = ((x.source or "en"), x.target) if x.target else (None, None)
    found = await client.translation(
        x.text,
        model=model,
        src_lang=source,
        tgt_lang=target,
        generate_parameters={"max_new_tokens": x.max_new_tokens},
    )
    return Answer(text=found.translation_text.strip())


async def _text2text(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    text = await client.text_generation(x.text, model=model, max_new_tokens=x.max_new_tokens)
    return Answer(text=str(text).strip())


async def _zero_shot(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.zero_shot_classification(
        x.text, list(x.labels), model=model, multi_label=False
    )
    return Answer(scores=_ranked((f.label, f.score) for f in found))


async def _similarity(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.sentence_similarity(x.text, list(x.sentences), model=model)
    if len(found) != len(x.sentences):
        raise ValueError("one score per sentence expected")  # read as an unreadable answer
    return Answer(scores=_ranked(zip(x.sentences, map(float, found), strict=True)))


def _words(text: object) -> str:
    """The text with its runs of spaces and newlines made one space, as a local run writes it."""
    return " ".join(str(text or "").split())


async def _speech(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.automatic_speech_recognition(x.file_bytes(), model=model)
    return Answer(text=_words(found.text))


async def _audio_classification(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.audio_classification(x.file_bytes(), model=model, top_k=TOP_MEDIA_LABELS)
    return Answer(scores=_ranked(((f.label, f.score) for f in found), TOP_MEDIA_LABELS))


async def _image_classification(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.image_classification(x.file_bytes(), model=model, top_k=TOP_MEDIA_LABELS)
    return Answer(scores=_ranked(((f.label, f.score) for f in found), TOP_MEDIA_LABELS))


async def _detection(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.object_detection(
        x.file_bytes(), model=model, threshold=DETECTION_THRESHOLD
    )
    boxes = [
        Box(str(f.label), round(float(f.score), 4), *map(float, (b.xmin, b.ymin, b.xmax, b.ymax)))
        for f in found
        if (b := f.box) is not None and f.score >= DETECTION_THRESHOLD  # as a local run shows
    ]
    return Answer(boxes=tuple(boxes))  # sorted and cut where they meet the image (_pictured)


async def _caption(client: AsyncInferenceClient, model: str, x: TaskInput) -> Answer:
    found = await client.image_to_text(x.file_bytes(), model=model)
    return Answer(text=_words(found.generated_text))


TASKS: dict[str, TaskCall] = {
    "text-classification": _text_classification,
    "token-classification": _token_classification,
    "fill-mask": _fill_mask,
    "question-answering": _question_answering,
    "summarization": _summarization,
    "translation": _translation,
    "text2text-generation": _text2text,
    "zero-shot-classification": _zero_shot,
    "sentence-similarity": _similarity,
    "automatic-speech-recognition": _speech,
    "audio-classification": _audio_classification,
    "image-classification": _image_classification,
    "object-detection": _detection,
    "image-to-text": _caption,
}


async def run_task(call: HostedCall) -> RunResult:
    """Every model of the job at once (compare: runs them side by side); one that fails
    fails the job, as a local run does, and the others' calls are abandoned."""
    params = RunParams.from_json(call.params)
    work = TASKS.get(params.task)
    if work is None:
        raise HostedFault(
            f"{params.task} does not run on hosted inference yet.",
            "Ask your instructor, or pick a model that does another task.",
        )
    total = len(params.models)
    done = [0]

    async def one(wanted: TaskModel) -> TaskOutput:
        output = await _one(call, params, wanted, work)
        done[0] += 1
        if total > 1:  # compare: a step per model answered (one model needs none)
            call.progress(done[0], total, f"{wanted.model.short_name} answered")
        return output

    tasks = [asyncio.ensure_future(one(wanted)) for wanted in params.models]
    try:
        outputs = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()  # the first fault ends the job: its siblings' requests are abandoned
    if params.task == "object-detection":
        return await asyncio.to_thread(_pictured, params, outputs)
    return RunResult(tuple(outputs))


def _pictured(params: RunParams, outputs: list[TaskOutput]) -> RunResult:
    """object-detection: each model's boxes as the picture shows them (a provider may answer
    corners past its edges), and the image with them drawn, as a local run's result holds
    it. Pillow work: called in a thread."""
    data = params.input.file_bytes()
    width, height = open_image(data).size
    inside = [
        replace(
            out,
            boxes=tuple(
                Box(label, score, *(round(v, 1) for v in corners))
                for label, score, *corners in visible(
                    ((b.label, b.score, b.x0, b.y0, b.x1, b.y1) for b in out.boxes), width, height
                )
            ),
        )
        for out in outputs
    ]
    panels = [
        (o.model.short_name, [(b.label, b.score, b.x0, b.y0, b.x1, b.y1) for b in o.boxes])
        for o in inside
    ]
    picture = base64.b64encode(draw_boxes(data, panels)).decode("ascii")
    return RunResult(tuple(inside), picture)


async def _one(
    call: HostedCall, params: RunParams, wanted: TaskModel, work: TaskCall
) -> TaskOutput:
    model = wanted.model
    seconds = [0.0]

    data = params.input
    if params.task == "translation":  # the languages as this model writes them
        known = wanted.languages
        source, target = in_models_words(known, data.source), in_models_words(known, data.target)
        data = replace(data, source=source, target=target)

    async def timed(client: AsyncInferenceClient) -> Answer:
        # The provider's time, not the wait for a free slot.
        started = time.monotonic()
        answer = await work(client, model.id, data)
        seconds[0] = time.monotonic() - started
        return answer

    answer: Answer = await call.run_task(model.id, params.task, timed)
    return TaskOutput(
        model=model,
        model_params=model.params,
        seconds=round(seconds[0], 4),
        license=wanted.license,
        scores=answer.scores,
        spans=answer.spans,
        text=answer.text,
        boxes=answer.boxes,
    )


__all__ = ["TASKS", "Answer", "TaskCall", "run_task"]
