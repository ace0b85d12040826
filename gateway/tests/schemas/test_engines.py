"""The admin API's engine schemas show everything the engine control reports."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import BaseModel

from gpuchat.engines.control import EngineState, EngineStatus, ReplicaStatus
from gpuchat.engines.gpu import GpuReport, GpuStatus
from gpuchat.engines.load import EngineLoad
from gpuchat.engines.profiles import EngineKind
from gpuchat.schemas.engines import (
    EngineKindName,
    EngineLoadPublic,
    EnginePublic,
    EngineStateName,
    GpuPublic,
    GpuReportPublic,
    ReplicaPublic,
)


@pytest.mark.parametrize(
    ("internal", "public"),
    [
        (EngineStatus, EnginePublic),
        (ReplicaStatus, ReplicaPublic),
        (EngineLoad, EngineLoadPublic),
        (GpuReport, GpuReportPublic),
        (GpuStatus, GpuPublic),
    ],
)
def test_engine_schemas_have_every_field_of_the_engine_control(
    internal: type[BaseModel], public: type[BaseModel]
) -> None:
    assert list(public.model_fields) == list(internal.model_fields)


def test_engine_schemas_name_every_state_and_kind() -> None:
    assert set(get_args(EngineStateName)) == {state.value for state in EngineState}
    assert set(get_args(EngineKindName)) == {kind.value for kind in EngineKind}


def test_engine_public_serializes_a_status_as_the_engine_control_does() -> None:
    status = EngineStatus(
        name="local",
        engine=EngineKind.llamacpp,
        state=EngineState.starting,
        aliases=("default",),
        gpus=(0, 1),
        progress=42.0,
        replicas=(ReplicaStatus(url="http://127.0.0.1:9/v1", healthy=True, outstanding=2),),
        load=EngineLoad(running=1, waiting=0, kv_cache_usage=None, at=1.5),
    )
    public = EnginePublic.model_validate(status.model_dump())
    assert public.model_dump(mode="json") == status.model_dump(mode="json")
