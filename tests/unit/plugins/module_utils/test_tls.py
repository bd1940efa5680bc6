# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The client TLS context: verified certificates and host names, TLS 1.2 at least."""

from __future__ import annotations

import ssl

from ansible_collections.mailops.gmail.plugins.module_utils import _tls


def test_the_context_verifies_certificate_and_host_name():
    context = _tls.make_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_tls_1_2_at_least_where_python_and_openssl_would_allow_less(monkeypatch):
    """Python 3.10+ and Debian's openssl.cnf already refuse TLS 1.0 and 1.1; the hosts' older Pythons
    (3.6 to 3.9) do not. make_context must set the floor itself, whatever the default it gets."""
    real = ssl.create_default_context

    def older_default(*args, **kwargs):
        context = real(*args, **kwargs)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        return context

    monkeypatch.setattr(_tls.ssl, "create_default_context", older_default)
    assert older_default().minimum_version != ssl.TLSVersion.TLSv1_2  # the stand-in really is lower
    assert _tls.make_context().minimum_version == ssl.TLSVersion.TLSv1_2
