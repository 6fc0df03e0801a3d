"""The lab's own certificate authority, kept on the host (``<state>/server/pki``, root only).

Nothing secret is baked into an image: each lab makes its CA on first use, a
server certificate for the company's names, and one client certificate per
seat (its VPN identity). The files go into the guests through the guest agent.
``openssl`` does the work; ``openssl ca`` keeps the index, so a certificate can
be revoked and the CRL the VPN gateway reads stays true.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, HostError

COMPANY_DOMAIN = "corp.lab"
SERVER_NAMES = ("vpn.corp.lab", "intranet.corp.lab", "files.corp.lab", "server.corp.lab")
CLIENT_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")

_CA_CONF = """\
[ ca ]
default_ca = lab_ca

[ lab_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
certificate = $dir/ca.crt
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 825
default_crl_days = 3650
unique_subject = no
copy_extensions = copy
policy = lab_policy

[ lab_policy ]
commonName = supplied
organizationName = optional

[ req ]
distinguished_name = req_dn
prompt = no

[ req_dn ]
CN = placeholder

[ ca_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ server_ext ]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = {san}

[ client_ext ]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = clientAuth
"""


@dataclass(frozen=True)
class Issued:
    cert: bytes
    key: bytes


class LabPki:
    """A lab's CA under ``folder``; every method is idempotent."""

    def __init__(self, folder: Path):
        self.folder = folder

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def crl(self) -> Path:
        return self.folder / "crl.pem"

    def _openssl(self, *args: str, input: bytes | None = None) -> bytes:
        try:
            proc = subprocess.run(["openssl", *args], input=input, capture_output=True)
        except FileNotFoundError:
            raise HostError("openssl is not installed", hint="apt-get install openssl") from None
        if proc.returncode != 0:
            raise HostError(f"openssl {args[0]} failed: {proc.stderr.decode(errors='replace').strip()[-400:]}")
        return proc.stdout

    def _conf(self) -> Path:
        return self.folder / "ca.cnf"

    def ensure(self) -> None:
        """Make the CA, the server certificate and an empty CRL if they are missing.

        Built in a temporary folder and renamed into place: a failure half-way
        leaves no half-made CA behind.
        """
        if (self.folder / "server.crt").is_file() and self.crl.is_file():
            return
        if self.folder.exists() and self.ca_cert.is_file():
            raise HostError(f"{self.folder}: the lab's CA is incomplete (no server certificate or CRL)",
                            hint="`labctl server destroy` then start it again makes a new CA")
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        work = self.folder.with_name(self.folder.name + ".part")
        if work.exists():
            import shutil
            shutil.rmtree(work)
        work.mkdir(mode=0o700)
        try:
            (work / "issued").mkdir()
            (work / "index.txt").write_text("")
            (work / "serial").write_text("1000\n")
            (work / "crlnumber").write_text("1000\n")
            san = ",".join(f"DNS:{n}" for n in SERVER_NAMES)
            (work / "ca.cnf").write_text(_CA_CONF.format(dir=self.folder, san=san))
            tmp_conf = work / "ca.tmp.cnf"
            tmp_conf.write_text(_CA_CONF.format(dir=work, san=san))
            self._genkey(work / "ca.key")
            self._openssl("req", "-new", "-x509", "-config", str(tmp_conf), "-key", str(work / "ca.key"),
                          "-subj", "/O=corp.lab/CN=corp.lab lab CA", "-days", "3650", "-extensions", "ca_ext",
                          "-out", str(work / "ca.crt"))
            self._issue(tmp_conf, work, "server", "vpn.corp.lab", "server_ext")
            self._openssl("ca", "-batch", "-config", str(tmp_conf), "-gencrl", "-out", str(work / "crl.pem"))
            tmp_conf.unlink()
            for p in work.rglob("*"):
                if p.is_file():
                    p.chmod(0o600)
            os.rename(work, self.folder)
        except BaseException:
            import shutil
            shutil.rmtree(work, ignore_errors=True)
            raise

    def _genkey(self, path: Path) -> None:
        # The key file exists, root-only, before openssl writes into it. Not os.umask: it is
        # process-wide, and seats are made in threads; a folder another thread made meanwhile
        # came out 0700 (a rescue machine's folder, which libvirt's QEMU user then could not enter).
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.chmod(path, 0o600)
        self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))

    def _issue(self, conf: Path, folder: Path, stem: str, cn: str, ext: str, days: int = 825) -> None:
        key, csr, crt = folder / f"{stem}.key", folder / f"{stem}.csr", folder / f"{stem}.crt"
        self._genkey(key)
        self._openssl("req", "-new", "-config", str(conf), "-key", str(key), "-subj", f"/O=corp.lab/CN={cn}",
                      "-out", str(csr))
        # Valid from yesterday: a guest whose clock lags a little still accepts it.
        start = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() - 86400))
        self._openssl("ca", "-batch", "-config", str(conf), "-in", str(csr), "-out", str(crt), "-extensions", ext,
                      "-startdate", start, "-days", str(days), "-notext")
        csr.unlink()
        crt.chmod(0o600)

    def server(self) -> Issued:
        self.ensure()
        return Issued((self.folder / "server.crt").read_bytes(), (self.folder / "server.key").read_bytes())

    def client(self, name: str) -> Issued:
        """The VPN identity of seat ``name`` (CN=name), issued once and kept."""
        if not CLIENT_RE.match(name):
            raise ConfigError(f"client certificate name {name!r} is not valid")
        self.ensure()
        folder = self.folder / "clients"
        folder.mkdir(mode=0o700, exist_ok=True)
        crt, key = folder / f"{name}.crt", folder / f"{name}.key"
        if not (crt.is_file() and key.is_file()):
            self._issue(self._conf(), folder, name, name, "client_ext")
        return Issued(crt.read_bytes(), key.read_bytes())

    def revoke(self, name: str) -> None:
        """Revoke seat ``name``'s certificate and rewrite the CRL (the next issue makes a new one)."""
        folder = self.folder / "clients"
        crt = folder / f"{name}.crt"
        if not crt.is_file():
            return
        self._openssl("ca", "-batch", "-config", str(self._conf()), "-revoke", str(crt))
        self._openssl("ca", "-batch", "-config", str(self._conf()), "-gencrl", "-out", str(self.crl))
        self.crl.chmod(0o600)
        crt.unlink()
        (folder / f"{name}.key").unlink(missing_ok=True)
