"""Checking tool arguments against a tool's JSON Schema.

The model writes tool arguments, so they are untrusted input. The official servers cast them
unchecked, which surfaces as errors like ``chat undefined is not allowlisted``; checking the
schema first gives the model a message it can act on. Only the keywords tool schemas use are
supported; an unknown keyword is ignored rather than guessed at.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import SchemaError

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    if name == "null":
        return value is None
    return True


def validate(value: Any, schema: dict[str, Any], where: str = "arguments") -> None:
    """Raise :class:`SchemaError` for the first way ``value`` breaks ``schema``."""
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_is_type(value, n) for n in names):
            wanted = " or ".join(_TYPE_NAMES.get(str(n), str(n)) for n in names)
            raise SchemaError(f"{where} must be {wanted}")
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(repr(c) for c in schema["enum"])
        raise SchemaError(f"{where} must be one of {choices}")
    if "const" in schema and value != schema["const"]:
        raise SchemaError(f"{where} must be {schema['const']!r}")
    if isinstance(value, str):
        _check_string(value, schema, where)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{where} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{where} must be at most {schema['maximum']}")
    elif isinstance(value, list):
        _check_array(value, schema, where)
    elif isinstance(value, dict):
        _check_object(value, schema, where)


def _check_string(value: str, schema: dict[str, Any], where: str) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise SchemaError(f"{where} must be at least {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise SchemaError(f"{where} must be at most {schema['maxLength']} characters")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        raise SchemaError(f"{where} must match {schema['pattern']}")


def _check_array(value: list[Any], schema: dict[str, Any], where: str) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        raise SchemaError(f"{where} must have at least {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise SchemaError(f"{where} must have at most {schema['maxItems']} items")
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            validate(item, items, f"{where}[{index}]")


def _check_object(value: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    properties: dict[str, Any] = schema.get("properties", {})
    prefix = "" if where == "arguments" else f"{where}."
    for name in schema.get("required", []):
        if name not in value or value[name] is None:
            raise SchemaError(f"'{prefix}{name}' is required")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            validate(item, properties[name], f"'{prefix}{name}'")
        elif extra is False:
            raise SchemaError(f"'{prefix}{name}' is not an accepted argument")
        elif isinstance(extra, dict):
            validate(item, extra, f"'{prefix}{name}'")


# --------------------------------------------------------------------------- building schemas
# Tool schemas are mostly the same few shapes; these keep each tool's declaration to what is
# particular to it.


def string(description: str | None = None, **keywords: Any) -> dict[str, Any]:
    """A string property (``keywords`` add e.g. ``enum`` or ``default``)."""
    return _described({"type": "string", **keywords}, description)


def string_list(description: str | None = None) -> dict[str, Any]:
    return _described({"type": "array", "items": {"type": "string"}}, description)


def integer(description: str | None = None, *, minimum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    return _described(schema, description)


def object_schema(
    required: dict[str, dict[str, Any]] | None = None, optional: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An object with ``required`` properties (in order) and ``optional`` ones after them."""
    schema: dict[str, Any] = {"type": "object", "properties": {**(required or {}), **(optional or {})}}
    if required:
        schema["required"] = list(required)
    return schema


def _described(schema: dict[str, Any], description: str | None) -> dict[str, Any]:
    if description is not None:
        schema["description"] = description
    return schema
