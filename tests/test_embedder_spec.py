"""``--embedder SPEC``: what each form builds, and where the key comes from (never the command line)."""

from __future__ import annotations

import pytest

from memactor import InvalidInputError
from memactor.embed import HashEmbedder, OpenAIEmbedder
from memactor.embed.spec import embedder_from_spec
from tests.test_openai_embedder import DIM, Endpoint, endpoint  # noqa: F401 - the fixture


def test_hash_specs() -> None:
    assert isinstance(embedder_from_spec("hash"), HashEmbedder) and embedder_from_spec("hash").dim == 256
    assert embedder_from_spec("hash:64").dim == 64


@pytest.mark.parametrize("model", ["nomic-embed-text:latest", "BAAI/bge-small-en-v1.5", "text-embedding-3-small"])
def test_openai_specs_reach_the_endpoint_with_the_key_from_the_environment(
    endpoint: Endpoint,  # noqa: F811 - the imported fixture
    model: str,
) -> None:
    spec = f"openai:{endpoint.url}:{model}"
    built = embedder_from_spec(spec, {"OPENAI_API_KEY": "sk-openai-env", "MEMACTOR_EMBEDDER_KEY": ""})
    assert isinstance(built, OpenAIEmbedder) and (built.url, built.model, built.dim) == (
        endpoint.url + "/embeddings",
        model,
        DIM,
    )
    assert (endpoint.requests[-1]["model"], endpoint.authorization[-1]) == (model, "Bearer sk-openai-env")
    embedder_from_spec(spec, {"MEMACTOR_EMBEDDER_KEY": "sk-mine", "OPENAI_API_KEY": "sk-openai-env"})
    assert endpoint.authorization[-1] == "Bearer sk-mine"
    embedder_from_spec(spec, {})
    assert endpoint.authorization[-1] is None


@pytest.mark.parametrize(
    "spec", ["", "hashish", "hash:x", "openai:", "openai:http://host:8000", "openai:http://h/v1:", "st:model"]
)
def test_unknown_specs_say_what_is_expected(spec: str) -> None:
    with pytest.raises(InvalidInputError, match=r"expected hash .*openai:BASE_URL:MODEL"):
        embedder_from_spec(spec)
