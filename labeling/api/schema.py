"""The OpenAPI schema as the browser app's contract (its types are generated from it: frontend/src/api/).

* Every API error has the shape `labeling.api.errors` gives it, so the schema declares it once (`Error`) and
  attaches it to each operation as its `4XX` response (an operation naming its own 4xx codes gets it there too).
* A response body always carries every field of its serializer (DRF leaves out only a declared field that is
  not required and has no value), so response components list those fields as required: generated types are
  `T`, not `T | undefined`, for what the server always sends.
* A body that is one of several kinds (`PolymorphicProxySerializer`) is `anyOf`: the kinds overlap (a
  demonstration has every field a dialogue has), so JSON Schema's exclusive `oneOf` would be false.
"""

from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance
from drf_spectacular.settings import spectacular_settings


class AutoSchema(openapi.AutoSchema):
    def _map_basic_serializer(self, serializer, direction):
        result = super()._map_basic_serializer(serializer, direction)
        if direction != "response" or not spectacular_settings.COMPONENT_SPLIT_REQUEST:
            return result
        serializer = force_instance(serializer)
        declared = getattr(serializer, "_declared_fields", {})
        required = set(result.get("required", []))
        for name, field in serializer.fields.items():
            if name not in result.get("properties", {}):
                continue
            if name in declared and field._kwargs.get("required") is False:  # "may be left out" (annotations)
                required.discard(name)
            elif field.required or name not in declared:  # a model field: always sent
                required.add(name)
        if required:
            result["required"] = sorted(required)
        else:
            result.pop("required", None)
        return result


ERROR_ITEM = {
    "type": "object",
    "description": "One thing wrong with the request: its message, and the field (a path such as "
    "`messages[0].content`) or the line of an uploaded file it concerns.",
    "properties": {
        "message": {"type": "string"},
        "field": {"type": "string"},
        "line": {"type": "integer"},
    },
    "required": ["message"],
}

ERROR = {
    "type": "object",
    "description": "Every 4xx answer: a sentence for people (`detail`), a stable `code` for programs, and the "
    "individual problems (`errors`, empty when the detail says it all).",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorItem"}},
        "retry_after": {
            "type": "integer",
            "description": "Seconds to wait before trying again (sign-in lockouts; also in Retry-After).",
        },
    },
    "required": ["detail", "code", "errors"],
}

ERROR_RESPONSE = {
    "description": "An error in the API's one shape (see the `Error` schema).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: add the `Error` component and each operation's 4xx answers."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorItem"] = ERROR_ITEM
    schemas["Error"] = ERROR
    for schema in schemas.values():
        if "oneOf" in schema and "discriminator" not in schema:
            schema["anyOf"] = schema.pop("oneOf")
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code in [c for c in responses if str(c).startswith("4")]:
                responses[code] = ERROR_RESPONSE
            responses["4XX"] = ERROR_RESPONSE
    return result
