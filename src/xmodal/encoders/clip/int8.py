"""Int8 quantisation of exported clip towers (``#onnx-int8``) with one scale per row.

Every matrix product with a constant weight (``MatMul``, and ``Gemm`` rewritten as ``MatMul``
plus ``Add``) becomes an integer product:

- the weight is stored as int8 with one scale per output column, fixed when quantising;
- the input is quantised as the model runs, each row (one token of one item) with its own
  scale, ``max|row| / 127``, as uint8 around a fixed zero point of 128, which takes ONNX
  Runtime's fast uint8 x int8 kernels (int8 x int8 ran six times slower);
- the int32 product is scaled back by row scale times column scale.

ONNX Runtime's own dynamic quantisation takes one input scale for the whole batch, so an item's
vector moved with the other items in its batch; here no value crosses rows, so it does not.
Convolutions (MobileCLIP's image towers) stay float: int8 convolutions ran slower than float
ones in ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

#: bump when the quantised graphs change meaning, so stale int8 copies are redone
QUANTIZE_VERSION = 2
#: where the version is kept: the quantised model's own metadata
VERSION_KEY = "xmodal.int8_version"
#: a row or column whose largest magnitude is below this quantises to zeros
_TINY = 1e-12
_LEVELS = "xmodal.int8/levels"
_TINY_NAME = "xmodal.int8/tiny"
_ZERO_POINT = "xmodal.int8/zero_point"
_ZERO_POINT_FLOAT = "xmodal.int8/zero_point_float"
_LAST_AXIS = "xmodal.int8/last_axis"


def _op(kind: str, inputs: list[str], output: str, **attrs: Any) -> onnx.NodeProto:
    from onnx import helper

    return helper.make_node(kind, inputs, [output], name=output, **attrs)


def gemms_to_matmuls(graph: onnx.GraphProto) -> None:
    """Rewrite each plain ``Gemm(A, W, C)`` whose weight ``W`` is a constant used nowhere else
    as ``MatMul(A, W) + C``; the exporters emit attention output projections as Gemm, about a
    twelfth of a transformer's weight products."""
    from onnx import helper, numpy_helper

    weights = {t.name: t for t in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    rewritten: list[onnx.NodeProto] = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
        w = weights.get(node.input[1]) if node.op_type == "Gemm" else None
        if w is None or not plain or attrs.get("transA", 0) or uses[w.name] != 1:
            rewritten.append(node)
            continue
        if attrs.get("transB", 0):
            w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w).T.copy(), w.name))
        out = node.output[0]
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        product = f"{out}/matmul" if bias else out
        rewritten.append(_op("MatMul", [node.input[0], w.name], product))
        if bias:
            rewritten.append(_op("Add", [product, bias], out))
    del graph.node[:]
    graph.node.extend(rewritten)


def _shared_constants(graph: onnx.GraphProto) -> None:
    from onnx import numpy_helper

    for name, value in (
        (_LEVELS, np.array(127.0, dtype=np.float32)),
        (_TINY_NAME, np.array(_TINY, dtype=np.float32)),
        (_ZERO_POINT, np.array(128, dtype=np.uint8)),
        (_ZERO_POINT_FLOAT, np.array(128.0, dtype=np.float32)),
        (_LAST_AXIS, np.array([-1], dtype=np.int64)),
    ):
        graph.initializer.append(numpy_helper.from_array(value, name))


def _integer_matmul(
    graph: onnx.GraphProto, node: onnx.NodeProto, w: onnx.TensorProto, opset: int
) -> list[onnx.NodeProto]:
    """The nodes that compute ``node`` (``x @ w``) as an int8 product with row scales."""
    from onnx import TensorProto, numpy_helper

    x, out = node.input[0], node.output[0]
    p = f"{out}/int8"
    weight = numpy_helper.to_array(w).astype(np.float32)
    col_scale = (np.maximum(np.abs(weight).max(axis=0), _TINY) / 127.0).astype(np.float32)
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.round(weight / col_scale).astype(np.int8), f"{p}/w"),
            numpy_helper.from_array(col_scale, f"{p}/w_scale"),
        ]
    )
    # ReduceMax took its axes as an attribute until opset 18 (the TorchScript exporter's 17)
    if opset >= 18:
        peak = _op("ReduceMax", [f"{p}/abs", _LAST_AXIS], f"{p}/max", keepdims=1)
    else:
        peak = _op("ReduceMax", [f"{p}/abs"], f"{p}/max", axes=[-1], keepdims=1)
    return [
        _op("Abs", [x], f"{p}/abs"),
        peak,
        _op("Max", [f"{p}/max", _TINY_NAME], f"{p}/peak"),
        _op("Div", [f"{p}/peak", _LEVELS], f"{p}/scale"),
        _op("Div", [x, f"{p}/scale"], f"{p}/scaled"),
        _op("Round", [f"{p}/scaled"], f"{p}/rounded"),
        _op("Add", [f"{p}/rounded", _ZERO_POINT_FLOAT], f"{p}/shifted"),
        _op("Cast", [f"{p}/shifted"], f"{p}/x", to=TensorProto.UINT8),
        _op("MatMulInteger", [f"{p}/x", f"{p}/w", _ZERO_POINT], f"{p}/int32"),
        _op("Cast", [f"{p}/int32"], f"{p}/float", to=TensorProto.FLOAT),
        _op("Mul", [f"{p}/float", f"{p}/scale"], f"{p}/rows"),
        _op("Mul", [f"{p}/rows", f"{p}/w_scale"], out),
    ]


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def quantized_model(src: Path) -> onnx.ModelProto:
    """``src`` with its weight products quantised to int8 and ``QUANTIZE_VERSION`` recorded."""
    import onnx

    model = onnx.load(src)
    graph = model.graph
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    gemms_to_matmuls(graph)
    _shared_constants(graph)
    weights = {t.name: t for t in graph.initializer}
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        w = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if w is None or w.data_type != onnx.TensorProto.FLOAT or len(w.dims) != 2:
            nodes.append(node)
            continue
        nodes.extend(_integer_matmul(graph, node, w, opset))
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused_initializers(graph)
    entry = model.metadata_props.add()
    entry.key, entry.value = VERSION_KEY, str(QUANTIZE_VERSION)
    return model
