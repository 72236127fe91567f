"""A few real specs written by others, end to end: generate, count, import, ruff, mypy --strict.

The whole corpus runs with `make corpus`; these cover odd names (leading digits, dots, spaces,
keywords), discriminators without a mapping, multi-file $refs, form bodies, header and cookie
parameters.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.harness import CORPUS, check_spec

SUBSET = [
    "apisguru-modelpubsub",  # property names with spaces, hyphens, a leading digit
    "apisguru-vtex-msgcenter",  # schema names 200_OK, 401_Unauthorized
    "apisguru-twilio-fax",  # dotted schema names, property `from`
    "apisguru-json2video",  # discriminator without mapping over allOf
    "apisguru-mercure",  # form-urlencoded body, header and cookie parameters
    "mixpanel-ingestion",  # relative $refs into ./common/
    "honeycomb",  # readOnly properties, one an allOf override of a property the base requires
]


@pytest.mark.parametrize("name", SUBSET)
def test_real_spec_generates_every_operation_and_type_checks(name: str, tmp_path: Path) -> None:
    if not (CORPUS / name).is_dir():
        pytest.skip(f"corpus entry {name} not available")
    row = check_spec(CORPUS / name, tmp_path)
    assert row.generated, row.notes
    assert row.methods == row.operations, row
    assert row.classes >= row.schemas, row
    assert row.imported and row.ruff and row.typed, row.notes
