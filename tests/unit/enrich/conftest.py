import pytest

from tests.unit.enrich import support


@pytest.fixture(scope="session")
def test_registry(tmp_path_factory):
    """A registry of test-only schemas (com.acme), beside the Iglu Central copy."""
    root = tmp_path_factory.mktemp("acme-registry")
    support.write_schema(root, "com.acme", "checkout", "1-0-0", {
        "type": "object", "properties": {"sku": {"type": "string", "maxLength": 10}, "qty": {"type": "integer"}},
        "required": ["sku"], "additionalProperties": False})
    support.write_schema(root, "com.acme", "old", "1-0-0", {"type": "object"}, **{"$supersededBy": "1-0-1"})
    support.write_schema(root, "com.acme", "old", "1-0-1", {"type": "object"})
    return root


@pytest.fixture(scope="session")
def iglu(iglu_central_dir, test_registry):
    # The project's embedded registry too, as the default resolver has it (the io.minilab.enrichments configs).
    return support.client(iglu_central_dir, test_registry, support.PROJECT_REGISTRY)


@pytest.fixture(scope="session")
def badrow_checker(iglu_central_dir):
    return support.client(iglu_central_dir)


@pytest.fixture
def pipe(iglu):
    return support.pipeline(iglu)
