# classbot: one image for the bot and its model workers.
#   CPU (default):  docker build -t classbot .
#   CUDA workers:   docker build -t classbot:cuda --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
# The bot process never imports torch; the same image runs `classbot run` and `classbot worker`.
FROM python:3.11-slim

ARG TORCH=torch==2.13.0
# PyPI's Linux torch wheel is the multi-GB CUDA build: the CPU index is the default here,
# and a CUDA index is chosen explicitly for GPU workers.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    HF_HOME=/data/hf

WORKDIR /app
RUN pip install --index-url "${TORCH_INDEX}" "${TORCH}"
COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY adapters ./adapters
COPY migrations ./migrations
RUN pip install ".[ml]"

RUN useradd --create-home classbot && mkdir -p /data && chown classbot /data
USER classbot
VOLUME /data
CMD ["classbot", "run"]
