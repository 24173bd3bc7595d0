"""Every standard enrichment has a shipped config, a README row and tests (DESIGN §5.9)."""

from pathlib import Path

from services.enrich.enrichments.registry import registered
from services.enrich.enrichments.store import DEFAULT_DIR

ROOT = Path(__file__).resolve().parents[4]
OWN = {"etl_tags"}  # the enrich issue's demonstration built-in, documented there


def test_each_enrichment_has_config_docs_and_tests():
    readme = (ROOT / "README.md").read_text()
    tests = " ".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    for name, cls in registered().items():
        if name in OWN:
            continue
        assert (DEFAULT_DIR / f"{name}.json").is_file(), name
        assert f"`{name}`" in readme, name
        assert cls.__name__ in tests, name
        assert cls.__doc__ or __import__(cls.__module__).__doc__, name
