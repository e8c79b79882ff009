"""The inspection API can delete a list, as a user does in Klaviyo's UI."""

from __future__ import annotations

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import NotFoundException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import make_list


def test_a_list_deleted_in_the_ui_is_no_longer_listed_nor_readable(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    kept, deleted = make_list(klaviyo), make_list(klaviyo)
    sandbox.delete_list(deleted)
    assert [item.id for item in klaviyo.Lists.get_lists().data] == [kept]
    with pytest.raises(NotFoundException):
        klaviyo.Lists.get_list(deleted)
