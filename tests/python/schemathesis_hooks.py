"""How schemathesis makes valid binary projection bodies for `shimkit serve`.

The OpenAPI document describes the JSON projection of every served shim exactly (one
path per name, with its input dimension in the schema). The binary encodings share one
generic path, `/v1/shims/{name}/project`: a raw body is `X-Shimkit-Rows` x `X-Shimkit-Dim`
little-endian float32 values, an Arrow body an IPC stream, and no JSON Schema can tie a
body's length to a header or a shim. A generated case that is meant to be valid gets a body
that is: the shim's input dimension (read from `GET /v1/shims` once), the rows its header
asks for, finite values not all zero. schemathesis revalidates a case after this hook, so
cases meant to be invalid stay invalid and are still checked for rejection.

Loaded with SCHEMATHESIS_HOOKS=tests.python.schemathesis_hooks (the test sets it) and
SHIMKIT_URL (the server), SHIMKIT_KEY (a read key, when the server has keys).
"""

import io
import json
import os
import struct
import urllib.request

import schemathesis
from schemathesis.generation.modes import GenerationMode

OCTET = "application/octet-stream"
ARROW = "application/vnd.apache.arrow.stream"
_dims = None


def shim_dims():
    """Input dimension of every served name (shims and aliases)."""
    global _dims
    if _dims is None:
        request = urllib.request.Request(os.environ["SHIMKIT_URL"] + "/v1/shims")
        key = os.environ.get("SHIMKIT_KEY")
        if key:
            request.add_header("Authorization", "Bearer " + key)
        with urllib.request.urlopen(request, timeout=10) as answer:
            listing = json.load(answer)
        _dims = {s["name"]: s["source_dim"] for s in listing["shims"]}
        for alias in listing["aliases"]:
            if alias["target"] in _dims:
                _dims[alias["alias"]] = _dims[alias["target"]]
    return _dims


def rows_of(case):
    """The rows the case asks for, at most 64 (a valid count, and a small body)."""
    try:
        rows = int(case.headers.get("x-shimkit-rows", 1))
    except (TypeError, ValueError):
        return None
    return min(rows, 64) if rows >= 1 else None


def values(rows, dim, seed):
    """rows x dim finite float32 values, none of the rows all zeros."""
    return [((seed + 7 * i) % 13 + 1) / 13.0 for i in range(rows * dim)]


def arrow_stream(rows, dim, flat):
    import pyarrow as pa

    vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), dim)
    table = pa.table({"id": [str(i) for i in range(rows)], "embedding": vectors})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if case.operation.path != "/v1/shims/{name}/project" or meta is None:
        return case
    if meta.generation.mode != GenerationMode.POSITIVE:
        return case
    dim = shim_dims().get(case.path_parameters.get("name"))
    rows = rows_of(case)
    if dim is None or rows is None:
        return case
    seed = len(case.body) if isinstance(case.body, (bytes, bytearray)) else 0
    flat = values(rows, dim, seed)
    if case.media_type == OCTET:
        case.headers["x-shimkit-rows"] = str(rows)
        case.headers["x-shimkit-dim"] = str(dim)
        case.body = struct.pack(f"<{len(flat)}f", *flat)
    elif case.media_type == ARROW:
        case.query.pop("column", None)
        case.body = arrow_stream(rows, dim, flat)
    return case
