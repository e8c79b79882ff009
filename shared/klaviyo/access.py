"""One account's way to Klaviyo for a one-off call (a check, the lists drop-down): the SDK
client and a gateway that, for an OAuth account, puts its Bearer token on the client. The
workers keep their clients per account (``workers.runtime.actor_context.klaviyo_for``)."""

from __future__ import annotations

import redis
from klaviyo_api import KlaviyoAPI

from shared.accounts import AccountConfig
from shared.klaviyo.client import client_for, klaviyo_account_id
from shared.klaviyo.gateway import Gateway
from shared.klaviyo.oauth_session import session_for
from shared.settings import Settings, get_settings


def access_for(client: redis.Redis, config: AccountConfig,
               settings: Settings | None = None) -> tuple[KlaviyoAPI, Gateway]:
    """``(api, gateway)`` of the account (its key, or its OAuth tokens)."""
    api = client_for(config)
    auth = session_for(client, settings or get_settings(), config, api)
    return api, Gateway(client, klaviyo_account_id(config), auth=auth)
