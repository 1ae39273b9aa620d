"""Which trained model answered: /readyz names the NLU model version in use, every reply and
every turn of the transcript carry the version that read the message, and a version that
`frontdesk train` promotes while the server runs is logged when it takes over."""

from __future__ import annotations

import json
import logging
import os
import shutil

import httpx
import pytest

from frontdesk.nlu.model_store import HotIntentClassifier, ModelStore
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key


async def test_the_model_version_is_shown_and_a_swap_is_logged(
    client: httpx.AsyncClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    classifier = runtime.assistant.deps.classifier
    assert isinstance(classifier, HotIntentClassifier)
    first = classifier.version
    key = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.SERVICE)).token
    auth = {"Authorization": f"Bearer {key}"}

    ready = (await client.get("/readyz")).json()
    assert ready["models"] == {"nlu": first}
    conversation = (await client.post("/v1/conversations", headers=auth)).json()["id"]
    reply = await client.post(f"/v1/conversations/{conversation}/messages", headers=auth,
                              json={"text": "I want a refund for order KP-20481736"})  # fmt: skip
    assert reply.json()["nlu_model"] == first

    # `frontdesk train` writes and promotes a new version (here: a copy under a new name).
    store = ModelStore(runtime.workspace.state_dir / "models" / "nlu")
    second = first + "-2"
    shutil.copytree(store.root / first, store.root / second)
    manifest = store.root / second / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": second}))
    store.promote(second)
    stat = store.pointer.stat()
    os.utime(store.pointer, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    classifier.hot.interval = 0  # look at the pointer on the next message

    with caplog.at_level(logging.INFO, logger="frontdesk"):
        again = await client.post(f"/v1/conversations/{conversation}/messages", headers=auth,
                                  json={"text": "where is my parcel?"})  # fmt: skip
    assert again.json()["nlu_model"] == second
    assert f"NLU model {second} now answers (replaces {first})" in caplog.messages
    assert (await client.get("/readyz")).json()["models"] == {"nlu": second}
    turns = (await client.get(f"/v1/conversations/{conversation}", headers=auth)).json()["turns"]
    assert [t["nlu_model"] for t in turns] == [first, second]
