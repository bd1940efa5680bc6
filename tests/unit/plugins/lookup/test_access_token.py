# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import os
import stat
import time

import pytest
import yaml
from ansible import constants as C
from ansible.errors import AnsibleLookupError

from ansible_collections.mailops.gmail.plugins.lookup import access_token
from ansible_collections.mailops.gmail.plugins.module_utils import _oauth
from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError, classification

OAUTH = {"client_id": "cid", "client_secret": "emulator-client-secret", "refresh_token": "1//refresh-ops-alerts"}


@pytest.fixture
def refreshes(monkeypatch):
    """Replace the token endpoint: each call returns a new token valid for `lifetime` seconds."""

    class Calls(list):
        pass

    calls = Calls()

    def fake(oauth, ca_file=None, timeout=30):
        token_uri, refresh_token = oauth["token_uri"], oauth["refresh_token"]
        calls.append((token_uri, oauth["client_id"], refresh_token, timeout))
        if refresh_token == "1//refresh-revoked":
            raise GmailError(
                classification("oauth_invalid_grant", None, None, "OAuth token refresh at x failed: invalid_grant")
            )
        return {
            "access_token": f"ya29.token-{len(calls)}",
            "expires_in": fake.lifetime,
            "expires_at": int(time.time()) + fake.lifetime,
        }

    fake.lifetime = 3600
    monkeypatch.setattr(access_token, "refresh_oauth", fake)
    monkeypatch.setattr(_oauth, "refresh_oauth", fake)  # the file cache's refresh (_oauth.cached_access_token)
    monkeypatch.setattr(access_token, "_MEMORY", {})
    calls.fake = fake
    return calls


def lookup(terms=(), **kwargs):
    plugin = access_token.LookupModule()
    plugin._load_name = access_token.__name__
    # What the plugin loader does: register the options declared in DOCUMENTATION.
    options = yaml.safe_load(access_token.DOCUMENTATION)["options"]
    C.config.initialize_plugin_configuration_definitions("lookup", plugin._load_name, options)
    return plugin.run(list(terms), variables={}, **kwargs)


def test_options_and_dict_terms_give_one_token_each(refreshes, tmp_path):
    assert lookup(cache_dir="", **OAUTH) == ["ya29.token-1"]
    other = dict(OAUTH, refresh_token="1//refresh-team-reports")
    assert lookup([other, OAUTH], cache_dir="") == ["ya29.token-2", "ya29.token-1"]
    assert [call[2] for call in refreshes] == ["1//refresh-ops-alerts", "1//refresh-team-reports"]
    assert refreshes[0][0] == "https://oauth2.googleapis.com/token"


def test_file_cache_is_private_and_shared_across_processes(refreshes, tmp_path):
    cache = tmp_path / "tokens"
    assert lookup(cache_dir=str(cache), **OAUTH) == ["ya29.token-1"]
    access_token._MEMORY.clear()  # as in another fork: only the file is left
    assert lookup(cache_dir=str(cache), **OAUTH) == ["ya29.token-1"]
    assert len(refreshes) == 1
    files = list(cache.iterdir())
    assert len(files) == 1 and "refresh" not in files[0].name
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    assert OAUTH["client_secret"] not in files[0].read_text() and OAUTH["refresh_token"] not in files[0].read_text()


def test_a_wrong_client_secret_is_not_hidden_by_a_cached_token(refreshes, tmp_path):
    cache = tmp_path / "tokens"
    assert lookup(cache_dir=str(cache), **OAUTH) == ["ya29.token-1"]
    wrong = {**OAUTH, "client_secret": "not-the-secret"}
    assert lookup(cache_dir=str(cache), **wrong) == ["ya29.token-2"]  # asked the endpoint, which would refuse it
    assert len(refreshes) == 2 and len(list(cache.iterdir())) == 2


def test_token_close_to_expiry_is_refreshed(refreshes):
    refreshes.fake.lifetime = 200  # shorter than min_validity=300
    assert lookup(cache_dir="", **OAUTH) == ["ya29.token-1"]
    assert lookup(cache_dir="", **OAUTH) == ["ya29.token-2"]
    assert lookup(cache_dir="", min_validity=60, **OAUTH) == ["ya29.token-2"]


@pytest.mark.parametrize(
    "terms, kwargs, words",
    [
        ((), {"client_id": "cid"}, "give client_secret, refresh_token"),
        (("not a dict",), {}, "each term must be a dict"),
        (({"client_id": "cid", "scope": "x"},), {}, "unknown keys scope"),
        ((), dict(OAUTH, refresh_token="1//a\nb"), "refresh_token must not contain CR, LF"),
        ((), dict(OAUTH, refresh_token="1//refresh-revoked"), "invalid_grant"),
    ],
)
def test_errors(refreshes, terms, kwargs, words):
    with pytest.raises(AnsibleLookupError, match=words) as err:
        lookup(terms, cache_dir="", **kwargs)
    assert "emulator-client-secret" not in str(err.value)
