"""Email over SMTP (smtplib), configured by MAIL_* settings."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from app.notifications.channels import Outgoing, Result, delivered, permanent, technical, temporary


class Smtp:
    provider = "smtp"

    def __init__(self, config: dict):
        self.host = config["MAIL_SERVER"]
        self.port = int(config.get("MAIL_PORT") or 25)
        self.username = config.get("MAIL_USERNAME") or ""
        self.password = config.get("MAIL_PASSWORD") or ""
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.use_ssl = bool(config.get("MAIL_USE_SSL"))
        self.sender = config.get("MAIL_FROM") or "Balai <noreply@balai.local>"
        self.timeout = 20
        self._server: smtplib.SMTP | None = None
        self._keep = False

    def message(self, out: Outgoing) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = out.to
        msg["Subject"] = f"{out.title} · Balai"
        domain = self.sender.rpartition("@")[2].strip(">") or "balai.local"
        msg["Message-ID"] = make_msgid(idstring=out.reference, domain=domain)
        msg["X-Balai-Reference"] = out.reference
        msg.set_content(f"{out.text}\n\n{out.url}\n")
        return msg

    @contextlib.contextmanager
    def connection(self):
        """Keep one SMTP connection open for several messages (a batch), closed at the end."""
        self._keep = True
        try:
            yield self
        finally:
            self._keep = False
            server, self._server = self._server, None
            if server is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    server.quit()

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            server = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.use_tls:
            server.starttls(context=ssl.create_default_context())
        if self.username:
            server.login(self.username, self.password)
        return server

    def send(self, out: Outgoing) -> Result:
        """Send one message, on the batch's open connection when there is one."""
        msg = self.message(out)
        try:
            if self._server is None:
                server = self._connect()
                if self._keep:
                    self._server = server
            else:
                server = self._server
            try:
                server.send_message(msg)
            finally:
                if server is not self._server:
                    server.quit()
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(400 <= c < 500 for c in codes):
                return temporary(f"SMTP {codes[0]}: penerima ditolak sementara")
            return permanent(f"SMTP {codes[0] if codes else ''}: alamat ditolak")
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            return technical(f"SMTP {exc.smtp_code}: login gagal")
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error.decode(errors='replace')[:100]}"
            return temporary(text) if 400 <= exc.smtp_code < 500 else permanent(text)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()  # a broken connection: the next message opens a fresh one
            return technical(f"SMTP tidak terjangkau: {type(exc).__name__}")
        return delivered(msg["Message-ID"])

    def _drop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                server.close()
