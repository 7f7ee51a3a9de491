"""OpenAIEmbedder against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import openai
import pytest

from memvault.errors import InvalidRequest, ModelUnavailable, ServiceUnavailable
from memvault.providers.embeddings import Embedder
from memvault.providers.openai_embeddings import OpenAIEmbedder
from tests.support.openai_server import ScriptedOpenAIServer, embeddings_response, fake_vector


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(embedding_dimension=12) as running:
        yield running


@pytest.fixture
def embedder(server: ScriptedOpenAIServer) -> Iterator[OpenAIEmbedder]:
    model = OpenAIEmbedder(
        "text-embedding-3-small", api_key="sk-test", base_url=server.base_url, max_retries=2
    )
    yield model
    model.close()


def expected(texts: list[str], dimension: int = 12) -> np.ndarray:
    raw = np.array([fake_vector(text, dimension) for text in texts], dtype=np.float32)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def test_embeds_and_normalises(server: ScriptedOpenAIServer, embedder: OpenAIEmbedder) -> None:
    texts = ["likes green tea", "works at Contoso", ""]
    vectors = embedder.embed(texts)

    assert isinstance(embedder, Embedder)
    assert vectors.shape == (3, 12) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(vectors, expected(["likes green tea", "works at Contoso", " "]),
                               atol=1e-6)
    [request] = server.requests
    assert (request.method, request.path, request.route) == ("POST", "/v1/embeddings", "embeddings")
    assert request.json["model"] == "text-embedding-3-small"
    assert request.json["input"] == ["likes green tea", "works at Contoso", " "]
    assert request.headers["authorization"] == "Bearer sk-test"
    assert embedder.dimension == 12  # learnt from the call, no probe
    assert len(server.requests) == 1


def test_float_responses_out_of_order_are_put_back_in_order(
    server: ScriptedOpenAIServer, embedder: OpenAIEmbedder
) -> None:
    body = embeddings_response([[0, 3.0], [4.0, 0]], "m")
    body["data"][0]["index"], body["data"][1]["index"] = 1, 0  # float format, reversed
    server.enqueue("embeddings", body=body)
    vectors = embedder.embed(["first", "second"])
    np.testing.assert_allclose(vectors, [[1.0, 0.0], [0.0, 1.0]])


def test_dimension_is_probed_once_when_not_given(
    server: ScriptedOpenAIServer, embedder: OpenAIEmbedder
) -> None:
    assert embedder.dimension == 12
    assert embedder.dimension == 12
    assert len(server.requests) == 1
    assert embedder.embed([]).shape == (0, 12)
    assert len(server.requests) == 1


def test_given_dimension_is_trusted_and_checked(server: ScriptedOpenAIServer) -> None:
    model = OpenAIEmbedder("m", dimension=7, base_url=server.base_url, max_retries=0)
    try:
        assert model.dimension == 7 and server.requests == []
        with pytest.raises(ServiceUnavailable, match="12-dimensional"):
            model.embed(["x"])
    finally:
        model.close()


def test_batches_long_inputs(server: ScriptedOpenAIServer) -> None:
    texts = [f"text {i}" for i in range(5)]
    model = OpenAIEmbedder("m", api_key="k", base_url=server.base_url, batch_size=2)
    try:
        vectors = model.embed(texts)
    finally:
        model.close()
    assert [len(r.json["input"]) for r in server.requests] == [2, 2, 1]
    np.testing.assert_allclose(vectors, expected(texts), atol=1e-6)


def test_429_then_200_is_retried(server: ScriptedOpenAIServer, embedder: OpenAIEmbedder) -> None:
    server.enqueue("embeddings", status=429, headers={"retry-after-ms": "10"})
    vectors = embedder.embed(["retry me"])
    assert len(server.requests) == 2
    np.testing.assert_allclose(vectors, expected(["retry me"]), atol=1e-6)


def test_retries_are_bounded(server: ScriptedOpenAIServer, embedder: OpenAIEmbedder) -> None:
    for _ in range(3):
        server.enqueue("embeddings", status=503, headers={"retry-after-ms": "10"})
    with pytest.raises(ServiceUnavailable, match="503"):
        embedder.embed(["x"])
    assert len(server.requests) == 3  # 1 + max_retries


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, ModelUnavailable), (404, ModelUnavailable), (400, InvalidRequest)],
)
def test_client_errors_are_not_retried(
    server: ScriptedOpenAIServer, embedder: OpenAIEmbedder, status: int, error: type
) -> None:
    server.enqueue("embeddings", status=status)
    with pytest.raises(error):
        embedder.embed(["x"])
    assert len(server.requests) == 1


def test_timeout(server: ScriptedOpenAIServer) -> None:
    server.enqueue("embeddings", delay=2.0)
    model = OpenAIEmbedder("m", api_key="k", base_url=server.base_url, timeout=0.2, max_retries=0)
    try:
        with pytest.raises(ServiceUnavailable, match="timed out"):
            model.embed(["slow"])
    finally:
        model.close()


def test_unreachable_server() -> None:
    with ScriptedOpenAIServer() as gone:
        url = gone.base_url
    model = OpenAIEmbedder("m", api_key="k", base_url=url, timeout=1, max_retries=0)
    try:
        with pytest.raises(ServiceUnavailable, match="cannot reach"):
            model.embed(["x"])
    finally:
        model.close()


def test_azure_deployment_path(server: ScriptedOpenAIServer) -> None:
    model = OpenAIEmbedder(
        "my-embedding-deployment",
        azure_endpoint=server.azure_endpoint,
        api_key="azure-key",
        api_version="2024-10-21",
    )
    try:
        vectors = model.embed(["hello azure"])
    finally:
        model.close()
    [request] = server.requests
    assert request.path == "/openai/deployments/my-embedding-deployment/embeddings"
    assert request.deployment == "my-embedding-deployment"
    assert request.query["api-version"] == "2024-10-21"
    assert request.headers["api-key"] == "azure-key"
    assert request.json["input"] == ["hello azure"]
    np.testing.assert_allclose(vectors, expected(["hello azure"]), atol=1e-6)


def test_uses_a_client_it_is_given(server: ScriptedOpenAIServer) -> None:
    client = openai.OpenAI(api_key="given", base_url=server.base_url)
    model = OpenAIEmbedder("m", client=client)
    model.embed(["x"])
    model.close()  # not ours to close
    model.embed(["still open"])
    client.close()
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer given"] * 2


def test_missing_credentials_are_a_model_error() -> None:
    with pytest.raises(ModelUnavailable):
        OpenAIEmbedder("text-embedding-3-small")


def test_scripted_server_serves_chat_completions(server: ScriptedOpenAIServer) -> None:
    from tests.support.openai_server import chat_completion

    server.enqueue("chat.completions", body=chat_completion("Paris", model="gpt-4o-mini"))
    client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
    try:
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France?"}]
        )
        assert reply.choices[0].message.content == "Paris"
        with pytest.raises(openai.InternalServerError):  # nothing scripted: loud failure
            client.chat.completions.create(model="gpt-4o-mini", messages=[])
    finally:
        client.close()
    assert [r.route for r in server.requests] == ["chat.completions"] * 2
    assert server.requests_to("chat.completions")[0].json["messages"][0]["content"] == (
        "Capital of France?"
    )
