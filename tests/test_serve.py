"""The OpenAI-compatible server, exercised with the official ``openai`` client on a local port."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import openai
import pytest
import torch

from llmkb.infer.sampling import SamplingConfig
from llmkb.infer.serve import chat_prompt, make_server
from llmkb.nn import GPT, GPTConfig


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny", positional="rope", max_seq_len=128)).eval()


@pytest.fixture(scope="module")
def base_url(model: GPT) -> Iterator[str]:
    httpd = make_server(model, "127.0.0.1", 0, name="tiny")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=30)


def _greedy_text(model: GPT, prompt: str, n: int) -> str:
    idx = torch.tensor([list(prompt.encode())])
    out = model.generate(idx, n, SamplingConfig(temperature=0.0))[0, idx.shape[1] :]
    return bytes(out.tolist()).decode("utf-8", errors="replace")


def test_models_lists_the_served_model(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["tiny"]


def test_completion_is_the_models_greedy_continuation(client: openai.OpenAI, model: GPT) -> None:
    r = client.completions.create(model="tiny", prompt="The cache ", max_tokens=20, temperature=0)
    assert r.choices[0].text == _greedy_text(model, "The cache ", 20)
    assert r.choices[0].finish_reason == "length"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (len(b"The cache "), 20)


def test_streamed_completion_concatenates_to_the_same_text(client: openai.OpenAI, model: GPT) -> None:
    stream = client.completions.create(
        model="tiny", prompt="héllo", max_tokens=25, temperature=0, stream=True
    )
    chunks = list(stream)
    assert len(chunks) > 2
    assert "".join(c.choices[0].text for c in chunks) == _greedy_text(model, "héllo", 25)
    assert chunks[-1].choices[0].finish_reason == "length"


def test_chat_completion_and_its_stream(client: openai.OpenAI, model: GPT) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why cache keys?"}]
    expected = _greedy_text(model, chat_prompt(messages), 16)
    r = client.chat.completions.create(model="tiny", messages=messages, max_tokens=16, temperature=0)
    assert r.object == "chat.completion" and r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == expected
    stream = client.chat.completions.create(
        model="tiny", messages=messages, max_tokens=16, temperature=0, stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "length"


def test_seeded_sampling_repeats_and_stop_strings_cut(client: openai.OpenAI, model: GPT) -> None:
    kw = {"model": "tiny", "prompt": "abc", "max_tokens": 30, "temperature": 1.0, "seed": 7}
    a, b = client.completions.create(**kw), client.completions.create(**kw)
    assert a.choices[0].text == b.choices[0].text
    full = _greedy_text(model, "abc", 30)
    stop = full[5:7]
    cut = client.completions.create(model="tiny", prompt="abc", max_tokens=30, temperature=0, stop=[stop])
    assert cut.choices[0].text == full[: full.index(stop)] and cut.choices[0].finish_reason == "stop"
    streamed = client.completions.create(
        model="tiny", prompt="abc", max_tokens=30, temperature=0, stop=stop, stream=True
    )
    assert "".join(c.choices[0].text for c in streamed) == cut.choices[0].text


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"prompt": "", "max_tokens": 3}, "prompt"),
        ({"prompt": "x", "max_tokens": -1}, "max_tokens"),
        ({"prompt": "x", "temperature": 3.5}, "temperature"),
        ({"prompt": "x", "n": 2}, "n"),
    ],
)
def test_bad_requests_get_400_with_an_openai_error(client: openai.OpenAI, kwargs: dict, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model="tiny", **kwargs)
    assert info.value.status_code == 400
    assert info.value.body["type"] == "invalid_request_error" and info.value.body["param"] == param


def test_malformed_json_and_empty_chat_are_400(base_url: str, client: openai.OpenAI) -> None:
    req = urllib.request.Request(f"{base_url}/completions", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 400 and "JSON" in json.loads(info.value.read())["error"]["message"]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="tiny", messages=[])


def test_a_prompt_past_learned_positions_is_refused() -> None:
    httpd = make_server(GPT(GPTConfig.preset("tiny")), "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        c = openai.OpenAI(
            base_url=f"http://127.0.0.1:{httpd.server_address[1]}/v1", api_key="x", max_retries=0
        )
        with pytest.raises(openai.BadRequestError, match="exceeds the context of 64"):
            c.completions.create(model="m", prompt="x" * 60, max_tokens=10)
    finally:
        httpd.shutdown()
        httpd.server_close()
