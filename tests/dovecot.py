"""
A private Dovecot IMAP server for the mailbox tests (and the mailbox fault scenario).

Started from a folder of its own on a free loopback port, with one user and
a Maildir, and stopped by its PID. Debian's package: dovecot-imapd.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "views", "views-password"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def available() -> bool:
    return Path(DOVECOT).exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Dovecot:
    def __init__(self, root: Path, port: int | None = None):
        self.root = Path(root)
        self.port = port or free_port()
        self.process_id: int | None = None

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> "Dovecot":
        for folder in ("run", "state", "mail"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (self.root / "dovecot.conf").write_text(CONFIG.format(root=self.root, port=self.port))
        # Dovecot's processes run as its own users: they must reach the mail folder.
        os.chmod(self.root, 0o755)  # noqa: S103 - a test server's folder, holding test mail only
        for folder, _, files in os.walk(self.root / "mail"):
            for path in [folder, *(os.path.join(folder, name) for name in files)]:
                shutil.chown(path, "dovecot", "dovecot")
        # A PID file left by a master that was killed would name a dead process: the new
        # master writes its own, and stop() must find that one.
        (self.root / "run" / "master.pid").unlink(missing_ok=True)
        subprocess.run([DOVECOT, "-c", str(self.root / "dovecot.conf")], check=True)
        self.wait_until_listening()
        return self

    def wait_until_listening(self, seconds: float = 10) -> None:
        pid_file = self.root / "run" / "master.pid"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.process_id = int(pid_file.read_text())
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not listen on {self.port}: see {self.root / 'dovecot.log'}")

    def stop(self) -> None:
        """Stop the server and every process it started (its own process group), open sessions included."""
        if self.process_id is None:
            # It may have started without saying so in time.
            self.process_id = self._master_process_id()
            if self.process_id is None:
                return
        try:
            group = os.getpgid(self.process_id)
        except ProcessLookupError:
            self.process_id = None
            return
        # Dovecot's master leads its own process group: signal the whole group,
        # or an IMAP session already open would go on serving after a "stop".
        for sig, wait in ((signal.SIGTERM, 0.3), (signal.SIGKILL, 5)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    os.killpg(group, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        self.process_id = None

    def _master_process_id(self) -> int | None:
        """The master's PID: from its PID file, or else the process whose command line names this server's config."""
        try:
            return int((self.root / "run" / "master.pid").read_text())
        except (OSError, ValueError):
            pass
        config = str(self.root / "dovecot.conf").encode()
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and config in (entry / "cmdline").read_bytes().split(b"\0"):
                    return int(entry.name)
            except OSError:
                continue
        return None

    def client(self):
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            for raw in messages:
                client.append(folder, raw)

    def count(self, folder: str) -> int:
        with self.client() as client:
            if not client.folder_exists(folder):
                return 0
            return client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"]

    def reset_uidvalidity(self) -> None:
        """Make the server give INBOX a new UIDVALIDITY, as a restored or rebuilt mailbox does."""
        self.stop()
        maildir = self.root / "mail" / USER / "Maildir"
        for name in ("dovecot-uidlist", "dovecot.index", "dovecot.index.cache", "dovecot.index.log"):
            (maildir / name).unlink(missing_ok=True)
        time.sleep(1.1)  # UIDVALIDITY is a timestamp in seconds
        self.start()
