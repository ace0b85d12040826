"""Admin: edit the model profiles (create, edit, clone, delete, preview, export).
Switching and stopping engines is profiles.py; both answer under /api/admin/profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from gpuchat.api.deps import AdminPrincipal, AuditActor, StateDep
from gpuchat.api.routes.admin.profiles import control_errors
from gpuchat.core.errors import GatewayError
from gpuchat.schemas.profile_definitions import (
    EnvPublic,
    ProfileClone,
    ProfileDefinitionPublic,
    ProfileDefinitionsPublic,
    ProfilePreviewPublic,
    ProfileText,
)
from gpuchat.services.profiles.catalog import Definition, ProfileCatalog, definition_text
from gpuchat.state import AppState

router = APIRouter(prefix="/api/admin/profiles", tags=["admin"])


def get_catalog(state: StateDep) -> ProfileCatalog:
    if state.profiles is None:
        raise GatewayError(503, "Profiles are not loaded yet", code="not_ready")
    return state.profiles


CatalogDep = Annotated[ProfileCatalog, Depends(get_catalog)]


def _public(definition: Definition, state: AppState) -> ProfileDefinitionPublic:
    status = next((s for s in state.engines.statuses() if s.name == definition.name), None)
    return ProfileDefinitionPublic(
        name=definition.name,
        document=definition.document,
        text=definition_text(definition),
        updated=definition.updated,
        updated_by=definition.updated_by,
        restart_needed=status is not None and status.restart_needed,
    )


@router.get("/definitions")
async def list_definitions(
    _: AdminPrincipal, state: StateDep, catalog: CatalogDep
) -> ProfileDefinitionsPublic:
    """Every profile as the administrators wrote it (or as the file holds it)."""
    definitions = await catalog.definitions()
    return ProfileDefinitionsPublic(
        source="database" if catalog.editable else "file",
        editable=catalog.editable,
        data=[_public(d, state) for d in definitions],
    )


@router.post("/definitions", status_code=201)
async def create_definition(
    body: ProfileText, actor: AuditActor, state: StateDep, catalog: CatalogDep
) -> ProfileDefinitionPublic:
    """A new profile, usable at once (422: the field at fault; 409: the name is taken)."""
    with control_errors():
        created = await catalog.create(body.text, actor)
    return _public(created, state)


@router.get("/definitions/{name}")
async def get_definition(
    name: str, _: AdminPrincipal, state: StateDep, catalog: CatalogDep
) -> ProfileDefinitionPublic:
    return _public(await catalog.definition(name), state)


@router.put("/definitions/{name}")
async def update_definition(
    name: str, body: ProfileText, actor: AuditActor, state: StateDep, catalog: CatalogDep
) -> ProfileDefinitionPublic:
    """Replace the profile's document. A running engine keeps its old settings until it is
    activated again (`restart_needed`)."""
    with control_errors():
        updated = await catalog.update(name, body.text, actor)
    return _public(updated, state)


@router.delete("/definitions/{name}", status_code=204)
async def delete_definition(name: str, actor: AuditActor, catalog: CatalogDep) -> Response:
    """409 while it is the active profile or its engine runs: switch or stop it first."""
    with control_errors():
        await catalog.delete(name, actor)
    return Response(status_code=204)


@router.post("/definitions/{name}/clone", status_code=201)
async def clone_definition(
    name: str, body: ProfileClone, actor: AuditActor, state: StateDep, catalog: CatalogDep
) -> ProfileDefinitionPublic:
    """A copy under a new name, without the original's aliases."""
    with control_errors():
        cloned = await catalog.clone(name, body.name, actor)
    return _public(cloned, state)


@router.post("/preview")
async def preview_profile(
    body: ProfileText, _: AdminPrincipal, catalog: CatalogDep
) -> ProfilePreviewPublic:
    """Validate one profile and show the command line it would run (`<port>`: the port
    chosen at start); secrets appear as the names of the variables that hold them."""
    profile, launch = catalog.preview(body.text)
    return ProfilePreviewPublic(
        name=profile.name,
        engine=profile.engine.value,
        argv=list(launch.argv) if launch.argv is not None else None,
        env=[EnvPublic(name=e.name, value=e.value, source=e.source) for e in launch.env],
        urls=list(launch.urls),
        unavailable=launch.unavailable,
    )


@router.get(
    "/export", response_class=Response, responses={200: {"content": {"application/yaml": {}}}}
)
async def export_profiles(_: AdminPrincipal, catalog: CatalogDep) -> Response:
    """The profile set as profiles.yaml (`gpuchat profiles import` reads it back)."""
    headers = {"Content-Disposition": 'attachment; filename="profiles.yaml"'}
    text = await catalog.export()
    return Response(text, media_type="application/yaml; charset=utf-8", headers=headers)
