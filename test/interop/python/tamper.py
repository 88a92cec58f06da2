"""Test-only: a service that alters the AgentOps session entry before passing it on, through the
stock baggage API. The TypeScript side must refuse each of these when it verifies signatures.
A real service never does this; the services call it only when a test asks.
"""

import base64

from opentelemetry import baggage
from opentelemetry.context import Context

SESSION_ID = "agentops.session.id"
SESSION_SIG = "agentops.session.sig"


def _flip_last(text: str, alphabet: str) -> str:
    """The same text with its last character replaced by another one of `alphabet`."""
    last = text[-1]
    replacement = alphabet[(alphabet.index(last) + 1) % len(alphabet)] if last in alphabet else alphabet[0]
    return text[:-1] + replacement


def tamper(ctx: Context, how: str | None) -> Context:
    """`how`: None (pass on unchanged), "id" (one hex digit of the session id changed), "sig" (one
    character of the signature's MAC changed), "reencode" (the MAC re-encoded as padded standard
    base64 instead of unpadded base64url: same bytes, other text), "unsigned" (signature removed)."""
    if how is None:
        return ctx
    session_id = baggage.get_baggage(SESSION_ID, ctx)
    signature = baggage.get_baggage(SESSION_SIG, ctx)
    if how == "id" and isinstance(session_id, str):
        return baggage.set_baggage(SESSION_ID, _flip_last(session_id, "0123456789abcdef"), ctx)
    if how == "unsigned":
        return baggage.remove_baggage(SESSION_SIG, ctx)
    if not isinstance(signature, str) or signature.count(".") != 3:
        raise ValueError(f"no v1 signature to tamper with: {signature!r}")
    head, mac = signature.rsplit(".", 1)
    if how == "sig":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        # The first character: all 6 of its bits are in the MAC (the last one carries padding bits).
        return baggage.set_baggage(SESSION_SIG, f"{head}.{_flip_last(mac[:1], alphabet)}{mac[1:]}", ctx)
    if how == "reencode":
        raw = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        return baggage.set_baggage(SESSION_SIG, f"{head}.{base64.standard_b64encode(raw).decode('ascii')}", ctx)
    raise ValueError(f"unknown tampering: {how!r}")
