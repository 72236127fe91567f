"""ingest-codegen: OpenAPI specs in, typed ingest clients out.

The data flow, one module per stage: load -> validate -> schemas (prepare) -> pymodels
(datamodel-code-generator) -> build (the service model) -> render (Jinja) -> fmt (ruff) -> tree.
"""
