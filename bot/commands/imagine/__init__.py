"""/imagine: a text-to-image model (Stable Diffusion through diffusers) draws a prompt.

The whole command is in this folder: drawing (draw.py), the verbs `reroll` (reroll.py),
`block` and `unblock` (words.py: the class's word list, instructors only) and `audit`
(audit.py: the prompt log, instructors only). The router resolves the verbs and checks
their roles; the job kind that runs the model and renders the result is
bot/jobs/kinds/imagine.py.
"""

from __future__ import annotations

from bot.commands.imagine.audit import audit
from bot.commands.imagine.draw import run
from bot.commands.imagine.reroll import reroll
from bot.commands.imagine.words import WORD, block, unblock
from bot.declare import MAX_REPO_ID
from bot.identity import Role
from bot.inference.image_limits import (
    CLASS_SIZES,
    MAX_GUIDANCE,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_STEPS,
)
from bot.router import Command, Option

COMMAND = Command(
    name="imagine",
    exploration=True,
    durable=True,
    handler=run,
    options=(
        Option(
            "prompt",
            str,
            "What to draw (or: reroll, block, unblock, audit)",
            required=True,
            rest=True,
            max_length=MAX_PROMPT_CHARS,
        ),
        Option(
            "negative_prompt", str, "What to keep out of the image", max_length=MAX_PROMPT_CHARS
        ),
        Option(
            "model",
            str,
            "A Hub model id (text-to-image) or the class default",
            max_length=MAX_REPO_ID,
            repo="model",
        ),
        Option(
            "steps", int, "Denoising steps: more = slower, finer", min_value=1, max_value=MAX_STEPS
        ),
        Option(
            "guidance",
            float,
            "How closely to follow the prompt (0 = ignore it)",
            min_value=0,
            max_value=MAX_GUIDANCE,
        ),
        Option(
            "seed",
            int,
            "Same seed + settings + model = same image",
            min_value=0,
            max_value=MAX_SEED,
        ),
        Option("size", str, "Width and height in pixels", choices=tuple(map(str, CLASS_SIZES))),
    ),
    verbs=(
        Command(
            name="reroll",
            durable=True,
            handler=reroll,
            options=(Option("job", int, "reroll: the image's job number", min_value=1),),
        ),
        Command(name="block", handler=block, options=(WORD,), role=Role.INSTRUCTOR, durable=True),
        Command(
            name="unblock", handler=unblock, options=(WORD,), role=Role.INSTRUCTOR, durable=True
        ),
        Command(
            name="audit",
            handler=audit,
            options=(
                Option(
                    "limit",
                    int,
                    "audit: how many entries",
                    min_value=1,
                    max_value=100,
                    default=20,
                ),
            ),
            role=Role.INSTRUCTOR,
        ),
    ),
    examples=(
        '/imagine prompt:"a red fox in the snow"',
        '/imagine prompt:"a castle on a hill" steps:4 seed:7 size:512',
        '/imagine prompt:"a robot teacher" negative_prompt:"blurry" guidance:9',
        "/imagine reroll job:12",
        "/imagine block word:dragon",
        "/imagine audit limit:50",
    ),
)
