"""What /imagine accepts, without importing torch (bot/inference/image.py uses them too).

The bot process reads these to check a command; only model workers import the image core.
"""

from __future__ import annotations

MIN_STEPS, MAX_STEPS = 1, 50
MIN_GUIDANCE, MAX_GUIDANCE = 0.0, 20.0
# Sizes the class menu offers; the core also accepts other multiples of 64 (64..1024) so
# tiny test models can run at their native 64×64.
CLASS_SIZES: tuple[int, ...] = (256, 384, 512, 768)
MIN_SIZE, MAX_SIZE, SIZE_STEP = 64, 1024, 64
# Random seeds stay in 32 bits: short enough for a student to read out and type back.
MAX_SEED = 2**32 - 1
MAX_PROMPT_CHARS = 1000  # CLIP reads 77 tokens anyway; this bounds filter and PNG text cost
