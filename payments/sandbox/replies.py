"""The XML the sandbox answers with, in Alipay's shapes (docs/alipay.md "XML shapes" and "Signing").

Accepted requests: is_success=T, the request's parameters echoed in <request>, the business answer
in <response><alipay>, and a signature over those children only. Rejected requests: is_success=F
with a top-level <error> and no signature. The prolog declares the request's charset (GBK when the
request named none), as Alipay's does, so clients must honour the declared encoding.

A reply is signed in the sign type of the request it answers, as Alipay does: a merchant that
signs with MD5 holds only the MD5 key and must be able to verify the answer with it. The
merchant's configured sign type governs what the sandbox sends unasked (notifications).
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

from django.http import HttpResponse

from payments.alipay.signing import Signer, presign_string

from .models import SandboxMerchant

DEFAULT_CHARSET = "GBK"


def _xml_response(body: str, charset: str) -> HttpResponse:
    text = f'<?xml version="1.0" encoding="{charset}"?>\n{body}'
    # Characters GBK cannot carry become character references, which every XML parser reads.
    payload = text.encode(charset, errors="xmlcharrefreplace")
    return HttpResponse(payload, content_type=f"text/xml; charset={charset}")


def rejected(error: str, charset: str = DEFAULT_CHARSET) -> HttpResponse:
    """The is_success=F shape: our request was refused before any business happened; unsigned."""
    return _xml_response(
        f"<alipay><is_success>F</is_success><error>{escape(error)}</error></alipay>", charset
    )


def reply_signer(merchant: SandboxMerchant, sign_type: str = "") -> Signer:
    """Signs as Alipay for this merchant: in `sign_type`, else in the merchant's configured one."""
    return Signer(
        sign_type=sign_type or merchant.sign_type,
        md5_key=merchant.md5_key,
        private_key_pem=merchant.sandbox_private_key_pem,
    )


def accepted(
    signer: Signer,
    request_params: Mapping[str, str],
    fields: Mapping[str, object],
    *,
    charset: str = DEFAULT_CHARSET,
    break_signature: bool = False,
) -> HttpResponse:
    """The is_success=T shape with a signed business answer (empty fields are left out)."""
    answer = {k: str(v) for k, v in fields.items() if v is not None and str(v) != ""}
    signed_text = presign_string(answer)
    if break_signature:
        # A well-formed signature over something else: the client must refuse to believe it.
        signed_text += "&tampered=1"
    signature = signer.sign_text(signed_text)
    request_xml = "".join(
        f"<param name={quoteattr(k)}>{escape(v)}</param>" for k, v in request_params.items()
    )
    response_xml = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in sorted(answer.items()))
    body = (
        "<alipay><is_success>T</is_success>"
        f"<request>{request_xml}</request>"
        f"<response><alipay>{response_xml}</alipay></response>"
        f"<sign>{escape(signature)}</sign><sign_type>{signer.sign_type}</sign_type></alipay>"
    )
    return _xml_response(body, charset)
