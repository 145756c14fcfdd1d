"""Named serving endpoints from what users export: a Keras 3 model, a ``tf.function``, a ``tf.Module``.

:func:`build_endpoints` describes each signature to save: its key, its inputs (a chosen lower_snake
key, the user's own name for it, a ``tf.TensorSpec``) and a Python function that takes the inputs
positionally and returns a dict of named outputs. :mod:`tfspark.toolkit.export` hands these to
``keras.export.ExportArchive``, which tracks every variable the functions use; that is what TF's
C++ loader (TF Java, TF Serving) needs, and what ``tf.saved_model.save(keras_model)`` misses.

Names: a Keras model's inputs take its ``Input`` names, its outputs the names of a dict output or of
their layers, all in lower_snake (``Petal Length`` and ``petalLength`` become ``petal_length``). A
single output whose layer Keras named itself (``dense_3``) is called ``prediction``. A function's
inputs take their ``TensorSpec`` names, else the parameter names. ``input_names`` and
``output_names`` override the defaults of ``serving_default``, in order.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import tensorflow as tf

from python_trainer.errors import ExportError, ModelNotExportableError

AUTO_GENERATED_NAME = re.compile(r"^(keras_tensor(_\d+)?|input_layer(_\d+)?|output_\d+|input_\d+|args_\d+)$")
"""Tensor keys that Keras and TF make up; the model contract refuses them (keys are names a user chose)."""
LOWER_SNAKE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
"""The form of every signature input and output key: lower_snake_case."""
DEFAULT_SIGNATURE = "serving_default"
SINGLE_OUTPUT = "prediction"


@dataclass(frozen=True)
class EndpointInput:
    """One signature input: its key in the SignatureDef, the name the user knows it by, its spec."""

    key: str
    given_name: str
    spec: tf.TensorSpec


@dataclass(frozen=True)
class Endpoint:
    """One signature: ``call(*tensors)`` in ``inputs`` order returns ``{output key: tensor}``."""

    key: str
    inputs: list[EndpointInput]
    call: Callable[..., dict]

    def input_signature(self) -> list[tf.TensorSpec]:
        """The specs to trace with; each is named after its key, which becomes the SignatureDef's input key."""
        return [tf.TensorSpec(i.spec.shape, i.spec.dtype, name=i.key) for i in self.inputs]


def lower_snake(name: str) -> str:
    """A name in lower_snake: ``"Petal Length"``, ``"petalLength"``, ``"petal-length"`` → ``"petal_length"``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def check_key(key: str, *, what: str, hint: str) -> str:
    """Returns ``key`` if it is a chosen lower_snake name; raises :class:`ExportError` saying what to do."""
    if not LOWER_SNAKE_NAME.match(key) or AUTO_GENERATED_NAME.match(key):
        raise ExportError(f"{what} would be called '{key}'; expected a chosen lower_snake name: {hint}", got=key)
    return key


def build_endpoints(
    model,
    *,
    signatures: Mapping[str, Callable] | None,
    input_names: Sequence[str] | None,
    output_names: Sequence[str] | None,
) -> tuple[list, list[Endpoint]]:
    """The objects to track and the endpoints to save for ``model``.

    Raises
    ------
    ModelNotExportableError
        ``model`` is none of the supported kinds, a Keras model has no ``Input``s, or a function
        has no input signature.
    ExportError
        A name is auto-generated or not lower_snake, or names and inputs/outputs differ in number.
    """
    import keras

    endpoints, tracked = [], []
    if isinstance(model, keras.Model | keras.layers.Layer):
        tracked.append(model)
        endpoints.append(_keras_endpoint(model, input_names=input_names, output_names=output_names))
    elif isinstance(model, tf.types.experimental.GenericFunction):
        if signatures is None:
            signatures = {DEFAULT_SIGNATURE: model}
    elif isinstance(model, tf.Module):
        tracked.append(model)
        if signatures is None:
            call = model.__call__ if callable(model) else None
            if not isinstance(call, tf.types.experimental.GenericFunction) or call.input_signature is None:
                raise ModelNotExportableError(
                    f"{type(model).__name__} is a tf.Module without a tf.function __call__ that has an "
                    "input_signature; pass signatures={'serving_default': module.serve}",
                    got=type(model).__name__,
                )
            signatures = {DEFAULT_SIGNATURE: call}
    else:
        raise ModelNotExportableError(
            f"cannot export a {type(model).__name__}; expected a Keras 3 model, a tf.function with an "
            "input_signature, or a tf.Module (with signatures={key: tf.function})",
            got=type(model).__name__,
        )
    for key, fn in (signatures or {}).items():
        if any(e.key == key for e in endpoints):
            raise ExportError(f"signature '{key}' is given twice", signature=key)
        default = key == DEFAULT_SIGNATURE
        endpoints.append(
            _function_endpoint(
                key,
                fn,
                input_names=input_names if default else None,
                output_names=output_names if default else None,
            )
        )
    keys = [e.key for e in endpoints]
    if DEFAULT_SIGNATURE not in keys:
        raise ExportError(
            f"no '{DEFAULT_SIGNATURE}' signature among {keys}; tfspark and TF Serving call it by default",
            expected=DEFAULT_SIGNATURE,
            got=keys,
        )
    for key in keys:
        check_key(key, what=f"signature '{key}'", hint="choose another signatures= key")
    return tracked, endpoints


def _keras_endpoint(model, *, input_names, output_names) -> Endpoint:
    import keras

    try:
        flat_inputs = list(model.inputs)
    except AttributeError:
        flat_inputs = []
    if not flat_inputs:
        raise ModelNotExportableError(
            f"the Keras model '{model.name}' has no Input layers (a subclassed or unbuilt Sequential model); "
            "build it from keras.Input(..., name=...), or export a tf.function with an input_signature that calls it",
            got=type(model).__name__,
        )
    given = [t.name for t in flat_inputs]
    keys = _names(input_names, given, what="input", hint="name it with keras.Input(..., name=...) or pass input_names")
    inputs = [
        EndpointInput(key, name, tf.TensorSpec(tuple(t.shape), t.dtype))
        for key, name, t in zip(keys, given, flat_inputs, strict=True)
    ]
    try:
        structure = model.input
    except (AttributeError, ValueError):
        structure = flat_inputs[0] if len(flat_inputs) == 1 else flat_inputs
    layer_names = [_output_layer_name(t) for t in getattr(model, "outputs", None) or []]

    def call(*tensors):
        args = keras.tree.pack_sequence_as(structure, list(tensors))
        result = model(args, training=False)
        return _named_outputs(result, output_names, layer_names)

    return Endpoint(DEFAULT_SIGNATURE, inputs, call)


def _function_endpoint(key: str, fn, *, input_names, output_names) -> Endpoint:
    if not isinstance(fn, tf.types.experimental.GenericFunction) or fn.input_signature is None:
        raise ModelNotExportableError(
            f"signature '{key}': expected a tf.function with an input_signature "
            "(@tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name='features')]))",
            signature=key,
            got=type(fn).__name__,
        )
    specs = list(fn.input_signature)
    if not all(isinstance(s, tf.TensorSpec) for s in specs):
        raise ModelNotExportableError(
            f"signature '{key}': the input_signature must be a flat list of tf.TensorSpec, one per argument",
            signature=key,
        )
    params = [
        p.name
        for p in inspect.signature(fn.python_function).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    ]
    given = [s.name or (params[i] if i < len(params) else f"input_{i}") for i, s in enumerate(specs)]
    keys = _names(input_names, given, what=f"signature '{key}' input", hint="name its TensorSpec or pass input_names")
    inputs = [EndpointInput(k, g, s) for k, g, s in zip(keys, given, specs, strict=True)]

    def call(*tensors):
        return _named_outputs(fn(*tensors), output_names, [])

    return Endpoint(key, inputs, call)


def _names(chosen: Sequence[str] | None, given: list[str], *, what: str, hint: str) -> list[str]:
    if chosen is not None:
        if len(chosen) != len(given):
            raise ExportError(
                f"{len(chosen)} {what} names given for {len(given)} {what}s {given}",
                expected=len(given),
                got=len(chosen),
            )
        return [
            check_key(str(n), what=f"{what} '{g}'", hint="choose another name")
            for n, g in zip(chosen, given, strict=True)
        ]
    keys = [check_key(lower_snake(n), what=f"{what} '{n}'", hint=hint) for n in given]
    if len(set(keys)) != len(keys):
        raise ExportError(f"{what} names {given} collide in lower_snake as {keys}; {hint}", got=keys)
    return keys


def _output_layer_name(tensor) -> str | None:
    history = getattr(tensor, "_keras_history", None)
    layer = getattr(history, "operation", None)
    if layer is None:
        return None
    auto = re.fullmatch(re.escape(lower_snake(type(layer).__name__)) + r"(_\d+)?", layer.name)
    return None if auto else layer.name


def _named_outputs(result, output_names: Sequence[str] | None, layer_names: list[str | None]) -> dict:
    hint = "pass output_names=[...]"
    if isinstance(result, Mapping):
        items = list(result.items())
        if output_names is not None:
            keys = _names(output_names, [str(k) for k, _ in items], what="output", hint=hint)
        else:
            keys = [check_key(lower_snake(k), what=f"output '{k}'", hint=hint) for k, _ in items]
        return dict(zip(keys, (v for _, v in items), strict=True))
    flat = list(result) if isinstance(result, list | tuple) else [result]
    if output_names is not None:
        return dict(
            zip(_names(output_names, [f"#{i}" for i in range(len(flat))], what="output", hint=hint), flat, strict=True)
        )
    if len(flat) == 1:
        name = layer_names[0] if layer_names and layer_names[0] else SINGLE_OUTPUT
        return {check_key(lower_snake(name), what=f"output '{name}'", hint=hint): flat[0]}
    names = layer_names if len(layer_names) == len(flat) else []
    if not names or None in names:
        raise ExportError(
            f"the model has {len(flat)} outputs and not all are named; {hint} (or name their layers)",
            got=len(flat),
        )
    named = [n for n in names if n is not None]  # all of them: checked above
    keys = [check_key(lower_snake(n), what=f"output '{n}'", hint=hint) for n in named]
    if len(set(keys)) != len(keys):
        raise ExportError(f"output names {names} collide as {keys}; {hint}", got=keys)
    return dict(zip(keys, flat, strict=True))
