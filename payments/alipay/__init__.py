"""Alipay's overseas offline (MAPI) protocol: signing, requests, XML replies, the gateway client.

Pure Python over requests, cryptography and xmltodict; imports no Django (ALIPAY.md).
"""
