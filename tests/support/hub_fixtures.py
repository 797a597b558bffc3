"""pytest fixtures for the Hub stand-in (tests/support/hub_stub.py).

tests/conftest.py imports them:

    from tests.support.hub_fixtures import fresh_hub_stub, hub_stub  # noqa: F401

`hub_stub` (session): one running stub for the whole run; huggingface_hub in this process
(and subprocesses started after it) points at it, with a throw-away HF cache.
`fresh_hub_stub` (function): the same stub with request counts and faults cleared before
and after the test; use it whenever a test counts requests or injects faults.
`hub_stub_for_every_test` (session, autouse): import it too and no test can reach the
real Hub through huggingface_hub, even one that forgot to ask for `hub_stub`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.hub_stub import HubStub, point_huggingface_hub_at, restore_hf


@pytest.fixture(scope="session")
def hub_stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubStub]:
    stub = HubStub().start()
    saved = point_huggingface_hub_at(stub.url, tmp_path_factory.mktemp("hf-cache"))
    try:
        yield stub
    finally:
        restore_hf(saved)
        stub.stop()


@pytest.fixture
def fresh_hub_stub(hub_stub: HubStub) -> Iterator[HubStub]:
    hub_stub.reset()
    yield hub_stub
    hub_stub.reset()


@pytest.fixture(scope="session", autouse=True)
def hub_stub_for_every_test(hub_stub: HubStub) -> HubStub:
    return hub_stub
