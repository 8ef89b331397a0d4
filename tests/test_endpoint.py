import pytest

from labkit import endpoint
from labkit.errors import MalformedURL


@pytest.mark.parametrize("text, url", [
    ("vc.example.com", "https://vc.example.com/sdk"),
    ("https://vc.example.com", "https://vc.example.com/sdk"),
    ("https://vc.example.com:8443/sdk/", "https://vc.example.com:8443/sdk"),
    ("http://127.0.0.1:8989/sdk", "http://127.0.0.1:8989/sdk"),
    ("https://[::1]:9443/sdk", "https://[::1]:9443/sdk"),
    ("10.0.0.5", "https://10.0.0.5/sdk"),
])
def test_accepted_forms(text, url):
    assert endpoint.parse(text).url == url


def test_credentials_in_url_are_split_off_and_hidden():
    ep = endpoint.parse("https://admin%40vsphere.local:p%40ss@vc.example.com/sdk")
    assert ep.user == "admin@vsphere.local" and ep.password == "p@ss"
    assert "p@ss" not in repr(ep) and "p@ss" not in ep.url


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("   ", "empty"),
    ("https://", "names no host"),
    ("ftp://vc.example.com", "ftp://"),
    ("https://vc.example.com:99999/sdk", "invalid port"),
    ("https://vc.example.com:abc", "invalid port"),
    ("https://vc.example.com:0", "port 0"),
    ("vc example com", "spaces"),
    ("https://vc..example.com", "not a valid host"),
    ("https:/vc.example.com", "'://'"),
])
def test_malformed_urls_say_what_to_write(text, words):
    with pytest.raises(MalformedURL) as e:
        endpoint.parse(text)
    msg = str(e.value)
    assert words in msg
    assert "https://vcenter.example.com/sdk" in msg


def test_malformed_url_message_masks_a_password():
    with pytest.raises(MalformedURL) as e:
        endpoint.parse("https://bob:hunter2@vc.example.com:99999")
    assert "hunter2" not in str(e.value)


def test_loopback_detection():
    assert endpoint.parse("127.0.0.1").is_loopback
    assert endpoint.parse("localhost").is_loopback
    assert endpoint.parse("[::1]").is_loopback
    assert not endpoint.parse("vc.example.com").is_loopback
