"""The model guard for hosted backends: a model passes when something serves it for the
command's task, instead of when it fits this machine.

- hf: the Hub's provider mapping must list a live provider (the configured one, or any with
  `auto`) that serves the task (bot/inference/hosted/providers.py); for /run, the task must
  be one that runs hosted, and the model's own task (its pipeline tag) the one asked for;
- openai: the server must list the model at `/v1/models` (its own names, not Hub ids).

The class's allow- and deny-lists apply as they do locally. Nothing is downloaded, so the
size cap, safetensors and remote-code checks (about running weights here) do not apply.
"""

from __future__ import annotations

import time

import httpx
from huggingface_hub import ModelInfo

from bot.config import Settings
from bot.hub.client import HubClient
from bot.hub.errors import HubError
from bot.hub.records import param_count
from bot.hub.tasks import with_article
from bot.inference.guard import (
    TEXT_GENERATION,
    ApprovedModel,
    ModelGuard,
    ModelRefused,
    NotAboutTheModel,
    Requirement,
    _refuse,
    looks_local,
)
from bot.inference.hosted.backend import HostedName
from bot.inference.hosted.providers import pick_route, runs_hosted, served_tasks
from bot.inference.tasks import TASKS
from bot.replies import Error


class HostedGuard(ModelGuard):
    def __init__(self, settings: Settings, hub: HubClient | None, backend: HostedName) -> None:
        super().__init__(settings, hub)
        self.backend = backend
        self._served: tuple[float, list[str]] | None = None
        # The provider each approved model was found on (what the model page names).
        self._providers: dict[str, str] = {}

    def runs_on(self, model_id: str) -> str:
        if self.backend == "openai":
            return "the class's model server (OpenAI-compatible)"
        provider = self._providers.get(model_id, self.settings.hf_provider)
        return f"Hugging Face Inference Providers ({provider})"

    # The class's own model refused (ModelGuard._class_model) reads as the instructor's to
    # fix here too: the public check, lookup and check_record wrap these.

    async def _check(self, name: str, need: Requirement) -> ApprovedModel:
        if looks_local(name):
            raise _refuse(
                "Models here run on a hosted service, which cannot read folders on the server.",
                f"Use a model id, or leave model: out to use {self._default_for(need)}.",
            )
        if self.backend == "openai":
            self._check_lists(name, need)
            return await self._check_server(name, need)
        info = await self.lookup(name, need)
        return self.check_record(name, info, need)

    async def _lookup(self, name: str, need: Requirement) -> ModelInfo:
        """The Hub's record of `name` with its provider mapping (and, for /run, its task,
        mask token and license tags); the class's lists allowed it."""
        if self.backend == "openai" and need.task != TEXT_GENERATION.task:
            raise self._server_text_only(need)
        try:
            return (await self.hub.provider_facts(name)).value
        except HubError as error:
            raise self._hub_refusal(name, error, need) from None

    def _check_record(self, name: str, info: ModelInfo, need: Requirement) -> ApprovedModel:
        """Served for the task by a provider (the configured one, or any with `auto`),
        instead of the local checks on weights and size."""
        if not runs_hosted(need.task):
            raise _not_the_models(
                f"{need.task} does not run on hosted inference yet, and this class runs its "
                "models on Hugging Face Inference Providers.",
                f"{need.command} runs these tasks here: {', '.join(_hosted_tasks(need))}.",
            )
        if need.task in TASKS and info.pipeline_tag != need.task:
            # /run asked for a task the model's page does not name: the same words as locally.
            raise _refuse(
                f"{info.id} does {info.pipeline_tag or 'an unlisted task'}, not {need.task}.",
                f"Pick {with_article(need.task)} model, e.g. {self._default_for(need)}; /search "
                f"task:{need.task} lists more.",
            )
        mapping = info.inference_provider_mapping or []
        provider = self.settings.hf_provider
        route = pick_route(mapping, need.task, provider)
        if route is None:
            where = "any Inference Provider" if provider == "auto" else f"the provider {provider}"
            served = served_tasks(mapping)
            what = f"{info.id} is not served by {where} for {need.task}"
            what += f" (it is served as: {', '.join(served)})." if served else "."
            raise _refuse(
                what,
                f"Pick a model that is (model pages on the Hub list their Inference Providers), "
                f"or leave model: out to use {self._default_for(need)}.",
            )
        if info.id != name:  # renamed: the lists apply to the new name too
            self._check_lists(info.id, need)
        self._providers[info.id] = route.provider
        # The Hub's count of the weights when it lists one; 0 reads "size unknown".
        params = param_count(info.safetensors.total) if info.safetensors is not None else None
        return ApprovedModel(id=info.id, source="hub", params=params or 0)

    def _server_text_only(self, need: Requirement) -> ModelRefused:
        return _not_the_models(
            f"{need.command} does not run on this class's model server: it serves text "
            "models only.",
            "Ask your instructor; /generate works.",
        )

    async def _check_server(self, name: str, need: Requirement) -> ApprovedModel:
        if need.task != TEXT_GENERATION.task:
            raise self._server_text_only(need)
        served = await self._server_models()
        if name not in served:
            shown = ", ".join(served[:10]) or "nothing yet"
            raise _refuse(
                f"The model server does not serve {name}.",
                f"It serves: {shown}. Give one of those as model:.",
            )
        return ApprovedModel(id=name, source="hub", params=0)

    async def _server_models(self) -> list[str]:
        """The server's `/v1/models`, cached as long as Hub answers are."""
        now = time.monotonic()
        if self._served is not None and self._served[0] > now:
            return self._served[1]
        s = self.settings
        key = s.openai_api_key.get_secret_value() if s.openai_api_key else None
        headers = {"authorization": f"Bearer {key}"} if key else {}
        url = s.openai_base_url.rstrip("/") + "/models"
        try:
            async with httpx.AsyncClient(timeout=s.hub_timeout_seconds) as client:
                response = await client.get(url, headers=headers)
            response.raise_for_status()
            models = [str(m["id"]) for m in response.json()["data"]]
        except httpx.HTTPStatusError as error:
            raise _refuse(
                f"The model server refused to list its models ({error.response.status_code}).",
                "Ask your instructor to check CLASSBOT_OPENAI_BASE_URL and its API key.",
            ) from None
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            raise _refuse(
                "I could not reach the class's model server.",
                "Try again in a minute; if it stays down, tell your instructor.",
            ) from None
        self._served = (now + s.hub_cache_seconds, models)
        return models


def _hosted_tasks(need: Requirement) -> list[str]:
    """The tasks the command runs on hosted inference (for /run, its text, audio and image
    tasks)."""
    if need.task in TASKS or need.command == "/run":
        return [task for task in TASKS if runs_hosted(task)]
    return [need.task]


def _not_the_models(what: str, todo: str) -> ModelRefused:
    """A task this backend does not run, whichever model: not the class's model's fault."""
    return NotAboutTheModel(Error(what=what, todo=todo))
