"""API schemas for how one signs in (what the login page shows)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class SsoOption(BaseModel):
    name: str  # the provider's display name: "Sign in with <name>"
    login_url: str


class AuthOptions(BaseModel):
    """`password_login`: who may use the password form (`all`, `admins`, or `off`: only
    the first admin). `sso`: null when single sign-on is not configured."""

    password_login: Literal["all", "admins", "off"]
    sso: SsoOption | None
