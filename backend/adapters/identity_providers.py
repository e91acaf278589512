"""Identity providers: exchange a mini-program login code for the provider's stable user id.

* :class:`WeChatProvider` — WeChat's ``auth.code2Session`` (``GET /sns/jscode2session`` with the
  mini-program's app id and secret). The session key it returns is never kept or sent on: we only
  need the ``openid`` (and ``unionid`` when present).
* :class:`DevProvider` — local development: the code ``dev:<id>`` signs in as ``<id>``. Refused
  outside ``CARBON_ENV=local`` (see ``Settings.check_production_safety``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import httpx

from backend.domain.errors import ConfigurationError, InvalidInput, Unauthenticated, UpstreamError

MAX_CODE_LENGTH = 256
"""wx.login codes are 32 characters; anything far longer is not a code."""

WECHAT_INVALID_CODE = 40029
WECHAT_RATE_LIMITED = 45011
WECHAT_HIGH_RISK_USER = 40226
WECHAT_BUSY = -1

_DEV_CODE = re.compile(r"^dev:([A-Za-z0-9._\-]{1,64})$")


@dataclass(frozen=True)
class ExternalIdentity:
    provider: str
    subject: str
    """The provider's stable id of the person (WeChat openid); hashed before it is stored."""


class IdentityProvider(Protocol):
    name: str

    def exchange(self, code: str) -> ExternalIdentity: ...


def _check_code(code: str) -> None:
    if not code or len(code) > MAX_CODE_LENGTH:
        raise InvalidInput("code", f"must be 1 to {MAX_CODE_LENGTH} characters")


class DevProvider:
    name = "dev"

    def exchange(self, code: str) -> ExternalIdentity:
        _check_code(code)
        match = _DEV_CODE.fullmatch(code)
        if match is None:
            raise Unauthenticated("the development provider accepts codes of the form dev:<id>")
        return ExternalIdentity(self.name, match.group(1))


class WeChatProvider:
    name = "wechat"

    def __init__(self, app_id: str, app_secret: str, api_base: str, timeout_s: float) -> None:
        if not app_id or not app_secret:
            raise ConfigurationError(
                "the WeChat provider needs CARBON_WECHAT_APP_ID and CARBON_WECHAT_APP_SECRET"
            )
        self._app_id = app_id
        self._app_secret = app_secret
        self._url = api_base.rstrip("/") + "/sns/jscode2session"
        self._timeout_s = timeout_s

    def exchange(self, code: str) -> ExternalIdentity:
        _check_code(code)
        params = {
            "appid": self._app_id,
            "secret": self._app_secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        try:
            response = httpx.get(self._url, params=params, timeout=self._timeout_s)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"WeChat code2Session unreachable: {exc.__class__.__name__}") from None
        if response.status_code != 200:
            raise UpstreamError(f"WeChat code2Session answered HTTP {response.status_code}")
        try:
            # WeChat labels the JSON text/plain, so parse the text rather than trusting the type.
            body = response.json()
        except ValueError:
            raise UpstreamError("WeChat code2Session answered something other than JSON") from None
        if not isinstance(body, dict):
            raise UpstreamError("WeChat code2Session answered an unexpected document")
        return self._identity(body)

    def _identity(self, body: dict[str, object]) -> ExternalIdentity:
        errcode = body.get("errcode") or 0
        if errcode in (WECHAT_INVALID_CODE, WECHAT_HIGH_RISK_USER):
            raise Unauthenticated(f"WeChat refused the login code (errcode {errcode})")
        if errcode == WECHAT_RATE_LIMITED:
            raise UpstreamError("WeChat rate-limits this user's logins; retry in a minute")
        if errcode != 0:
            raise UpstreamError(f"WeChat code2Session failed (errcode {errcode})")
        openid = body.get("openid")
        if not isinstance(openid, str) or not openid:
            raise UpstreamError("WeChat code2Session answered without an openid")
        return ExternalIdentity(self.name, openid)


def build_provider(
    kind: str, *, app_id: str | None, app_secret: str | None, api_base: str, timeout_s: float
) -> IdentityProvider:
    if kind == "wechat":
        return WeChatProvider(app_id or "", app_secret or "", api_base, timeout_s)
    if kind == "dev":
        return DevProvider()
    raise ConfigurationError(f"unknown identity provider {kind!r}")
