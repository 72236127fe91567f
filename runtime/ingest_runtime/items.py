"""A body model's fields as a typed dict: the same validation and JSON, without the instance.

A generated method validates its arguments and queues their JSON; the model instance in
between is never used. pydantic builds it all the same (``__dict__``, the fields-set, the
instance itself), about a third of the caller's validate-and-encode time. For a plain model
(fields only: no model validators, computed fields, custom ``__init__`` or root type) this
module builds a typed-dict schema from the model's own field schemas and config, so the errors
(locations, messages, title) and the JSON (aliases, defaults, ``exclude_none``) are the
model's. Measured for modelstat's item: 1.39 us against 2.04 us to validate and encode.

A test checks, for the queued routes of every committed service, that both give the same bytes
or the same errors on valid, invalid and hostile arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
from pydantic_core import SchemaSerializer, SchemaValidator, core_schema

__all__ = ["ItemCodec", "item_codec"]

#: ``(validate(fields) -> item dict, to_json(item, by_alias=, exclude_none=) -> bytes)``
ItemCodec = tuple[Callable[[Any], dict[str, Any]], Callable[..., bytes]]


def item_codec(model: type[pydantic.BaseModel]) -> ItemCodec | None:
    """The typed-dict twin of ``model``, or None when the model is more than its fields (or
    its schema has a shape this module does not know: the model path is always correct)."""
    try:
        return _item_codec(model)
    except Exception:
        return None


def _item_codec(model: type[pydantic.BaseModel]) -> ItemCodec | None:
    schema: Any = model.__pydantic_core_schema__
    definitions = None
    if schema["type"] == "definitions":
        definitions = schema["definitions"]
        schema = schema["schema"]
    if schema["type"] != "model" or schema.get("custom_init") or schema.get("root_model"):
        return None  # model validators wrap the model schema; __init__ or root types change it
    fields_schema = schema["schema"]
    if fields_schema["type"] != "model-fields" or fields_schema.get("computed_fields"):
        return None
    if model.__pydantic_post_init__ is not None:
        return None
    fields: dict[str, core_schema.TypedDictField] = {}
    for name, field in fields_schema["fields"].items():
        inner = field["schema"]
        fields[name] = core_schema.typed_dict_field(
            inner,
            required=inner["type"] != "default",
            validation_alias=field.get("validation_alias"),
            serialization_alias=field.get("serialization_alias"),
            serialization_exclude=field.get("serialization_exclude"),
        )
    config = schema.get("config")
    item: core_schema.CoreSchema = core_schema.typed_dict_schema(
        fields,
        extra_behavior=(config or {}).get("extra_fields_behavior"),
        config=config,
    )
    if definitions is not None:
        item = core_schema.definitions_schema(item, definitions)
    validator = SchemaValidator(item, config)
    serializer = SchemaSerializer(item, config)
    return validator.validate_python, serializer.to_json
