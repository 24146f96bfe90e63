"""Reading the gateway's XML: declared encoding honoured, signature checked before belief.

Three shapes (docs/alipay.md, "XML shapes"): accepted (is_success=T, signed <response><alipay>),
rejected (is_success=F with a top-level <error>, unsigned), and a business failure inside an
accepted reply.
An HTML page or anything unparsable is a transport failure; a missing or wrong signature on an
accepted reply means the outcome is unknown (RETRYABLE): the lifecycle must query, never guess.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field, replace
from xml.etree import ElementTree

from payments.alipay.codes import TRANSPORT_MESSAGES, classify_answer, classify_rejection
from payments.alipay.results import GatewayResult, Outcome, SignatureVerdict, Transport
from payments.alipay.signing import Verifier

MAX_REPLY_BYTES = 1_000_000
_PROLOG = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.S)
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")
# GB18030 is a superset of GBK and GB2312: the safe codec for what Alipay labels GBK.
_DECLARATION = re.compile(r"<!(DOCTYPE|ENTITY)", re.I)
_CODEC_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030"}


class ReplyError(Exception):
    """The bytes are not an Alipay reply we can read: carries the transport classification."""

    def __init__(self, transport: Transport, detail: str) -> None:
        super().__init__(detail)
        self.transport = transport


@dataclass(frozen=True)
class Reply:
    """A parsed reply. `fields` are believed only when `signature` is VALID."""

    is_success: bool
    text: str
    error: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    signature: SignatureVerdict = SignatureVerdict.UNSIGNED
    request: dict[str, str] = field(default_factory=dict)
    sign: str = ""
    sign_type: str = ""


def decode(body: bytes) -> str:
    """Bytes -> text by the prolog's declared encoding (UTF-8 when none); the prolog removed."""
    if len(body) > MAX_REPLY_BYTES:
        raise ReplyError(Transport.MALFORMED, "reply too large")
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    head = body[:512].lstrip().lower()
    looks_xml = head.startswith((b"<?xml", b"<alipay"))
    # An XHTML error page starts like XML: its <html> element gives it away.
    if (
        head.startswith(b"<!doctype html")
        or b"<html" in head
        or (not looks_xml and b"<body" in head)
    ):
        raise ReplyError(Transport.HTML, "an HTML page instead of XML")
    encoding = "utf-8"
    prolog = _PROLOG.match(body)
    if prolog:
        declared = _ENCODING.search(prolog.group(0))
        if declared:
            encoding = declared.group(1).decode("ascii").lower()
        body = body[prolog.end() :]
    try:
        codec = codecs.lookup(_CODEC_ALIASES.get(encoding, encoding)).name
        return body.decode(codec)
    except (LookupError, UnicodeDecodeError) as exc:
        raise ReplyError(Transport.MALFORMED, f"cannot decode as {encoding}") from exc


def parse(body: bytes) -> Reply:
    """Parse without verifying: structure only. Raises ReplyError for HTML or garbage."""
    text = decode(body)
    if _DECLARATION.search(text):
        # No DTDs, hence no entities: the XXE and entity-expansion doors stay shut.
        raise ReplyError(Transport.MALFORMED, "a DTD or entity declaration in the reply")
    try:
        # The C ElementTree parser: 3x faster than xmltodict here, and without a DTD it
        # resolves nothing external (Python docs, "XML vulnerabilities").
        root = ElementTree.fromstring(text)  # noqa: S314 - DTDs refused just above
    except ElementTree.ParseError as exc:
        raise ReplyError(Transport.MALFORMED, "not well-formed XML") from exc
    if root.tag != "alipay":
        raise ReplyError(Transport.MALFORMED, "the root element is not <alipay>")
    top = _children(root)
    flag = _text(top.get("is_success"))
    if flag not in ("T", "F"):
        raise ReplyError(Transport.MALFORMED, "is_success is neither T nor F")
    request = _request_params(top.get("request"))
    if flag == "F":
        return Reply(is_success=False, text=text, error=_text(top.get("error")), request=request)
    response = top.get("response")
    inner = _children(response).get("alipay") if response is not None else None
    if inner is None:
        raise ReplyError(Transport.MALFORMED, "an accepted reply without <response><alipay>")
    fields = {name: _text(child) for name, child in _children(inner).items()}
    return Reply(
        is_success=True,
        text=text,
        fields=fields,
        request=request,
        sign=_text(top.get("sign")).strip(),
        sign_type=_text(top.get("sign_type")).strip().upper(),
    )


def verify(reply: Reply, verifier: Verifier) -> Reply:
    """Check the top-level <sign> over <response><alipay>'s children; fields kept only if VALID."""
    if not reply.is_success:
        return reply
    # A reply signed with another sign type than ours is not believed either.
    valid = reply.sign_type == verifier.sign_type and verifier.verify(reply.fields, reply.sign)
    if not valid:
        return replace(reply, fields={}, signature=SignatureVerdict.INVALID)
    return replace(reply, signature=SignatureVerdict.VALID)


def read_reply(service: str, body: bytes, verifier: Verifier) -> GatewayResult:
    """Bytes from the gateway -> a classified GatewayResult (no request, latency or HTTP data)."""
    try:
        reply = verify(parse(body), verifier)
    except ReplyError as exc:
        raw = body[:65536].decode("utf-8", "replace")
        return transport_failure(service, exc.transport, raw=raw)
    if not reply.is_success:
        outcome, code, message = classify_rejection(reply.error)
        return GatewayResult(service, outcome, code, message, raw=reply.text)
    if reply.signature is not SignatureVerdict.VALID:
        return transport_failure(
            service, Transport.BAD_SIGNATURE, raw=reply.text, signature=SignatureVerdict.INVALID
        )
    outcome, code, message = classify_answer(service, reply.fields)
    transport = Transport.MALFORMED if code == Transport.MALFORMED.value else Transport.OK
    return GatewayResult(
        service,
        outcome,
        code,
        message,
        transport=transport,
        signature=reply.signature,
        fields=dict(reply.fields),
        raw=reply.text,
    )


def transport_failure(
    service: str,
    transport: Transport,
    *,
    raw: str = "",
    signature: SignatureVerdict = SignatureVerdict.UNSIGNED,
) -> GatewayResult:
    """Nothing believable came back: the outcome is unknown, so the lifecycle retries or queries."""
    return GatewayResult(
        service,
        Outcome.RETRYABLE,
        transport.value,
        TRANSPORT_MESSAGES[transport],
        transport=transport,
        signature=signature,
        raw=raw,
    )


def _children(element: ElementTree.Element) -> dict[str, ElementTree.Element]:
    """Child elements by name; a repeated name is malformed (which one would be believed?)."""
    children: dict[str, ElementTree.Element] = {}
    for child in element:
        if child.tag in children:
            raise ReplyError(Transport.MALFORMED, f"<{child.tag}> appears more than once")
        children[child.tag] = child
    return children


def _text(element: ElementTree.Element | None) -> str:
    """A text-only element's exact text ('' when absent or empty); nested content is malformed."""
    if element is None:
        return ""
    if len(element):
        raise ReplyError(Transport.MALFORMED, f"<{element.tag}> is not a text element")
    return element.text or ""


def _request_params(request: ElementTree.Element | None) -> dict[str, str]:
    """<request><param name="...">value</param>...</request> echoed by Alipay (not signed)."""
    if request is None:
        return {}
    return {
        param.get("name", ""): param.text or ""
        for param in request.iter("param")
        if param.get("name")
    }
