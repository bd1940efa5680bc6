# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Test CA and server certificates (cryptography), and the server TLS contexts."""
from __future__ import annotations

import datetime
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = [
    "smtp.gmail.com", "imap.gmail.com", "pop.gmail.com", "oauth2.googleapis.com",
    "smtp-relay.gmail.com", "localhost", "127.0.0.1", "::1",
]
WRONG_NAME = "wrong.example.net"


def _write(path: str, data: bytes, mode: int) -> None:
    """Write atomically with the final mode from the start (keys are never world-readable)."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailops.gmail emulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(subject, issuer, public_key, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


class EmulatorCA:
    """A CA in `directory` (ca.pem, ca.key; reused when present) and its server certificates."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_file = os.path.join(directory, "ca.pem")
        key_file = os.path.join(directory, "ca.key")
        if os.path.exists(self.ca_file) and os.path.exists(key_file):
            with open(self.ca_file, "rb") as fh:
                self.cert = x509.load_pem_x509_certificate(fh.read())
            with open(key_file, "rb") as fh:
                self.key = serialization.load_pem_private_key(fh.read(), password=None)
            return
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = _name("mailops.gmail emulator test CA")
        self.cert = (_builder(name, name, self.key.public_key(), 3650)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))
        _write(key_file, _key_pem(self.key), 0o600)
        _write(self.ca_file, self.cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def issue(self, stem: str, names: list) -> tuple:
        """Issue a server certificate for `names`; return (cert file, key file)."""
        key = ec.generate_private_key(ec.SECP256R1())
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        cert = (_builder(_name(names[0]), self.cert.subject, key.public_key(), 825)
                .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(aki, critical=False)
                .sign(self.key, hashes.SHA256()))
        cert_file = os.path.join(self.directory, f"{stem}.pem")
        key_file = os.path.join(self.directory, f"{stem}.key")
        _write(key_file, _key_pem(key), 0o600)
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return cert_file, key_file


def server_contexts(ca: EmulatorCA, extra_names: list, wrong_cert) -> ssl.SSLContext:
    """The context every TLS listener uses; `wrong_cert()` is read at each handshake (SNI callback)."""
    names = list(dict.fromkeys(SERVER_NAMES + list(extra_names)))
    good = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    good.load_cert_chain(*ca.issue("server", names))
    wrong = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    wrong.load_cert_chain(*ca.issue("wrong", [WRONG_NAME]))

    def pick(sock, server_name, _ctx):
        # Called for every ClientHello, with or without SNI, so the switch works at runtime.
        # The name the client asked for tells smtp.gmail.com from smtp-relay.gmail.com on one address.
        sock.mailops_server_name = server_name
        if wrong_cert():
            sock.context = wrong
    good.sni_callback = pick
    return good
