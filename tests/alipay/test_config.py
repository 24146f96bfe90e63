"""The client configuration refuses what cannot work and never shows a key."""

import pytest

from payments.alipay.config import ClientConfig, key_from
from payments.alipay.exceptions import ConfigError
from payments.alipay.signing import KeyConfigError

URL = "https://globalmapi.alipay.com/gateway.do"


def test_repr_never_shows_keys(make_config, demo_rsa_keys):
    for sign_type in ("MD5", "RSA2"):
        text = repr(make_config(sign_type)) + str(make_config(sign_type))
        assert "PRIVATE" not in text and "PUBLIC" not in text
        assert "entrada-test-md5-key" not in text and "2088000000000001" in text


@pytest.mark.parametrize(
    "partner", ["", "1000000000000000", "208800000000001", "20880000000000012"]
)
def test_partner_must_be_16_digits_starting_2088(partner):
    with pytest.raises(ConfigError):
        ClientConfig(gateway_url=URL, partner=partner, sign_type="MD5", md5_key="k")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sign_type": "md5", "md5_key": "k"},
        {"sign_type": "MD5"},
        {"sign_type": "RSA2"},
        {"sign_type": "MD5", "md5_key": "k", "gateway_url": "ftp://x/gateway.do"},
        {"sign_type": "MD5", "md5_key": "k", "read_timeout": 0},
        {"sign_type": "MD5", "md5_key": "k", "input_charset": "GBK"},
    ],
)
def test_unusable_configuration_is_refused_at_start(kwargs):
    with pytest.raises(KeyConfigError):
        ClientConfig(**{"gateway_url": URL, "partner": "2088000000000001", **kwargs})


def test_key_from_prefers_text_then_file(tmp_path):
    path = tmp_path / "key.pem"
    path.write_text("from-file\n")
    assert key_from("  from-text ", path) == "from-text"
    assert key_from("", path) == "from-file"
    assert key_from("", "") == ""
    with pytest.raises(ConfigError):
        key_from("", tmp_path / "missing.pem")


def test_from_mapping_reads_key_files_only_for_the_sign_type(tmp_path, demo_rsa_keys):
    (tmp_path / "private.pem").write_text(demo_rsa_keys["merchant_private"])
    (tmp_path / "public.pem").write_text(demo_rsa_keys["alipay_public"])
    settings_like = {
        "GATEWAY_URL": URL,
        "PARTNER_ID": "2088000000000001",
        "SIGN_TYPE": "rsa2",
        "MD5_KEY_FILE": str(tmp_path / "absent"),  # not read: RSA2 needs no MD5 key
        "PRIVATE_KEY_FILE": str(tmp_path / "private.pem"),
        "ALIPAY_PUBLIC_KEY_FILE": str(tmp_path / "public.pem"),
        "READ_TIMEOUT": 3,
    }
    config = ClientConfig.from_mapping(settings_like)
    assert config.sign_type == "RSA2" and config.timeout == (5.0, 3.0)
    assert config.private_key_pem == demo_rsa_keys["merchant_private"].strip()
    assert config.signer().sign({"a": "1"})
