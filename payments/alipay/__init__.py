"""Alipay's overseas offline (MAPI) protocol: signing, requests, XML replies, the gateway client.

Pure Python over requests, cryptography and the standard library's XML parser; imports no Django.
"""
