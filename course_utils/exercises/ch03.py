"""Chapter 03 (MLP fact storage): the exercises and their visible checks.

Ten functions and three conceptual questions:

3.1 and_neuron            3.2 rms_norm                 3.3 swiglu_mlp
3.4 count_parameters      3.5 logit_parts              3.6 mlp_direct_effects
3.7 q_lens_late (choice)  3.8 restoration_score        3.9 q_trace_control (choice)
3.10 add_at_last_position 3.11 rank_one_update         3.12 feature_dimensionality
3.13 q_sparse_sharing (choice)

Each check names the case it tests; known mistakes are recognised and explained. The checks on the
course model compare with the model's own hooks (``blocks.4.ln2.hook_out``, ``blocks.4.hook_mlp_out``)
and with its real parameter count, not with a copy of the answer. The reference solutions are the
chapter source's solution blocks (``course_utils/solutions/ch03.py``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch

from course_utils.exercises import (
    PROPERTY,
    Case,
    Mistake,
    choice,
    exercise,
    expect,
    expect_close,
    expect_whole_number,
)

CHAPTER = "03"
PROMPT = "Michael Jordan plays the sport of"
POLAND = "The capital of Poland is"
silu, gelu = torch.nn.functional.silu, torch.nn.functional.gelu


def _model() -> Any:
    from course_utils.models import load_model

    return load_model()


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def _number(x: Any) -> float | None:
    """``x`` as a float when it is a number or a one-element tensor, else None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if _is_tensor(x) and x.numel() == 1 and x.dtype.is_floating_point:
        return float(x)
    return None


# ---------------------------------------------------------------------------------------------
# Activations of one layer of the course model (computed once, handed out as fresh copies)


@functools.cache
def _layer_run(layer: int, prompt: str) -> dict[str, Any]:
    model = _model()
    names = [f"blocks.{layer}.hook_resid_mid", f"blocks.{layer}.ln2.hook_out", f"blocks.{layer}.hook_mlp_out"]
    with torch.no_grad():
        _, cache = model.run_with_cache(model.to_tokens(prompt), names_filter=names)
        block = model.blocks[layer]
        return {
            "resid_mid": cache[names[0]].detach().float().cpu(),
            "normalized": cache[names[1]].detach().float().cpu(),
            "mlp_out": cache[names[2]].detach().float().cpu(),
            "ln2_weight": block.ln2.w.detach().float().cpu(),
            "eps": float(model.cfg.eps),
            "W_gate": block.mlp.W_gate.detach().float().cpu(),
            "W_in": block.mlp.W_in.detach().float().cpu(),
            "W_out": block.mlp.W_out.detach().float().cpu(),
        }


def layer_activations(layer: int, prompt: str = PROMPT) -> dict[str, Any]:
    """Fresh copies of one layer's MLP inputs, weights and outputs on ``prompt`` (a check must never
    hand out a shared tensor)."""
    return {k: v.clone() if _is_tensor(v) else v for k, v in _layer_run(layer, prompt).items()}


# ---------------------------------------------------------------------------------------------
# 3.1 An AND neuron

and_neuron = exercise("and_neuron", chapter=CHAPTER, number="3.1", title="An AND neuron")


def and_compare(first: torch.Tensor, second: torch.Tensor) -> Callable[[Any, Any], None]:
    """Check the property: fires for both directions, not for one or none, with ReLU and GELU."""
    call = "and_neuron(first, second)"
    inputs = {"both directions": first + second, "first only": first, "second only": second,
              "nothing": torch.zeros_like(first)}

    def compare(got: Any, _: Any) -> None:
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"{call}: expected a pair (w, b), got {type(got).__name__}\nhint: return w, b")
        w, b = got
        expect(_is_tensor(w) and tuple(w.shape) == tuple(first.shape),
               f"{call}: w should be a tensor of shape {tuple(first.shape)} like the directions, got "
               f"{type(w).__name__} {tuple(getattr(w, 'shape', ()))}")
        bias = _number(b)
        expect(bias is not None, f"{call}: b should be a number (a float), got {type(b).__name__}")
        for name, act in (("ReLU", torch.relu), ("GELU", gelu)):
            out = {k: float(act(w.double() @ x.double() + bias)) for k, x in inputs.items()}
            alone = max(out["first only"], out["second only"])
            values = ", ".join(f"{k} {v:.2f}" for k, v in out.items())
            if out["nothing"] >= 0.2:
                raise AssertionError(f"{call}: with {name} the neuron fires with nothing present ({values})\n"
                                     "hint: the bias must be negative, so that w · 0 + b stays below zero")
            if alone >= 0.2 and out["both directions"] > 0.5:
                raise AssertionError(f"{call}: with {name} one direction alone makes the neuron fire ({values}): "
                                     "that is an OR gate\nhint: make the bias negative enough that w · first + b "
                                     "is at most 0, while w · (first + second) + b stays clearly positive")
            if out["both directions"] <= 0.5:
                raise AssertionError(f"{call}: with {name} the neuron does not fire when both directions are present "
                                     f"({values})\nhint: with w = first + second, both directions give w · x = 2; "
                                     "the bias must leave 2 + b above 0.5 (a bias of -2 or less silences it)")
            if alone >= 0.2:
                raise AssertionError(f"{call}: with {name} one direction alone gives {alone:.2f} ({values})\n"
                                     "hint: one direction should give at most 0.2")

    return compare


def _orthonormal_pair(d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    q, _ = torch.linalg.qr(torch.randn(d, 2, generator=_gen(seed)))
    return q[:, 0].contiguous(), q[:, 1].contiguous()


@and_neuron.check("8 dimensions, two random perpendicular unit directions (ReLU and GELU)")
def _() -> Case:
    first, second = _orthonormal_pair(8, 0)
    return Case(args=(first, second), call="and_neuron(first, second) in 8 dimensions", expected=PROPERTY,
                compare=and_compare(first, second))


@and_neuron.check("576 dimensions, the width of the course model")
def _() -> Case:
    first, second = _orthonormal_pair(576, 1)
    return Case(args=(first, second), call="and_neuron(first, second) in 576 dimensions", expected=PROPERTY,
                compare=and_compare(first, second))


# ---------------------------------------------------------------------------------------------
# 3.2 RMSNorm

rms_norm = exercise("rms_norm", chapter=CHAPTER, number="3.2", title="RMSNorm")


def norm_mistakes(x: torch.Tensor, weight: torch.Tensor, eps: float) -> list[Mistake]:
    ms = lambda: x.pow(2).mean(-1, keepdim=True)  # noqa: E731
    return [
        Mistake("the epsilon goes inside the square root: sqrt(mean(x²) + eps), not sqrt(mean(x²)) + eps",
                lambda: x / (ms().sqrt() + eps) * weight),
        Mistake("you forgot to multiply by the norm's learned weight", lambda: x / (ms() + eps).sqrt()),
        Mistake("you forgot the square root: divide by sqrt(mean(x²) + eps)", lambda: x / (ms() + eps) * weight),
        Mistake("that is a LayerNorm (it subtracts the mean); RMSNorm divides by the root mean square only",
                lambda: (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True, unbiased=False) + eps).sqrt() * weight),
        Mistake("you divided by the mean of |x|; RMSNorm uses the root of the mean of the squares",
                lambda: x / (x.abs().mean(-1, keepdim=True) + eps) * weight),
        Mistake("you divided by the vector's length (its L2 norm); the root *mean* square is the length / sqrt(d)",
                lambda: x / (x.pow(2).sum(-1, keepdim=True) + eps).sqrt() * weight),
        Mistake("the mean must be over the last dimension (each vector on its own): mean(dim=-1, keepdim=True)",
                lambda: x / (x.pow(2).mean(0, keepdim=True) + eps).sqrt() * weight),
    ]


@rms_norm.check("layer 4 of the course model on the chapter's prompt, compared with blocks.4.ln2.hook_out")
def _() -> Case:
    acts = layer_activations(4)
    return Case(args=(acts["resid_mid"], acts["ln2_weight"], acts["eps"]), call="rms_norm(layer 4's resid_mid)",
                expected=acts["normalized"], atol=1e-5, rtol=1e-4,
                mistakes=norm_mistakes(acts["resid_mid"], acts["ln2_weight"], acts["eps"]))


@rms_norm.check("random [2, 3, 8] input and weight, eps 1e-5")
def _() -> Case:
    g = _gen(2)
    x, weight = 3 * torch.randn(2, 3, 8, generator=g), torch.rand(8, generator=g) + 0.5
    return Case(args=(x, weight, 1e-5), call="rms_norm(x, weight, 1e-5)", mistakes=norm_mistakes(x, weight, 1e-5))


@rms_norm.check("tiny vectors, where the epsilon matters: entries about 0.001, eps 1e-4")
def _() -> Case:
    g = _gen(3)
    x, weight = 1e-3 * torch.randn(4, 6, generator=g), torch.rand(6, generator=g) + 0.5
    return Case(args=(x, weight, 1e-4), call="rms_norm(tiny x, weight, 1e-4)", atol=1e-6,
                mistakes=norm_mistakes(x, weight, 1e-4))


# ---------------------------------------------------------------------------------------------
# 3.3 The SwiGLU MLP

swiglu_mlp = exercise("swiglu_mlp", chapter=CHAPTER, number="3.3", title="The SwiGLU MLP")


def mlp_mistakes(x: torch.Tensor, W_gate: torch.Tensor, W_in: torch.Tensor, W_out: torch.Tensor) -> list[Mistake]:
    gate, up = (lambda: x @ W_gate), (lambda: x @ W_in)
    return [
        Mistake("you used ReLU on the gate; the course model uses SiLU, x · sigmoid(x) "
                "(torch.nn.functional.silu)", lambda: (torch.relu(gate()) * up()) @ W_out),
        Mistake("you used GELU on the gate; the course model uses SiLU, x · sigmoid(x)",
                lambda: (gelu(gate()) * up()) @ W_out),
        Mistake("you used sigmoid on the gate; SiLU is x · sigmoid(x)", lambda: (torch.sigmoid(gate()) * up()) @ W_out),
        Mistake("SiLU goes on the gate (x @ W_gate), not on the up part (x @ W_in)",
                lambda: (gate() * silu(up())) @ W_out),
        Mistake("SiLU goes on the gate only; the up part stays linear", lambda: (silu(gate()) * silu(up())) @ W_out),
        Mistake("the up part is missing: multiply SiLU(x @ W_gate) by x @ W_in before W_out",
                lambda: silu(gate()) @ W_out),
        Mistake("the gate is missing: the neurons' activations are SiLU(x @ W_gate) * (x @ W_in)",
                lambda: silu(up()) @ W_out),
    ]


def _mlp_case(layer: int) -> Case:
    acts = layer_activations(layer)
    return Case(args=(acts["normalized"], acts["W_gate"], acts["W_in"], acts["W_out"]),
                call=f"swiglu_mlp(layer {layer}'s normalised input and weights)", expected=acts["mlp_out"],
                atol=1e-4, rtol=1e-4,
                mistakes=mlp_mistakes(acts["normalized"], acts["W_gate"], acts["W_in"], acts["W_out"]))


@swiglu_mlp.check("layer 4 of the course model, compared with blocks.4.hook_mlp_out")
def _() -> Case:
    return _mlp_case(4)


@swiglu_mlp.check("layer 20, so that nothing about layer 4 can be built in")
def _() -> Case:
    return _mlp_case(20)


@swiglu_mlp.check("random weights: d_model 6, d_mlp 10, input [2, 3, 6]")
def _() -> Case:
    g = _gen(4)
    x, W_gate, W_in, W_out = (torch.randn(*shape, generator=g) for shape in ((2, 3, 6), (6, 10), (6, 10), (10, 6)))
    return Case(args=(x, W_gate, W_in, W_out), call="swiglu_mlp(random x and weights)",
                mistakes=mlp_mistakes(x, W_gate, W_in, W_out))


# ---------------------------------------------------------------------------------------------
# 3.4 Counting parameters

count_parameters = exercise("count_parameters", chapter=CHAPTER, number="3.4", title="Counting parameters")
COUNT_KEYS = ("embedding", "attention", "mlp", "norms", "unembedding", "total")
GPT3 = {"d_model": 12_288, "n_layers": 96, "n_heads": 96, "n_key_value_heads": 96, "d_head": 128,
        "d_mlp": 4 * 12_288, "gated_mlp": False, "d_vocab": 50_257, "tied_embeddings": False, "params_per_norm": 0}


def course_config() -> dict[str, Any]:
    """The course model's configuration in the exercise's format."""
    cfg = _model().cfg
    return {"d_model": cfg.d_model, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads,
            "n_key_value_heads": cfg.n_key_value_heads, "d_head": cfg.d_head, "d_mlp": cfg.d_mlp,
            "gated_mlp": bool(cfg.gated_mlp), "d_vocab": cfg.d_vocab, "tied_embeddings": bool(cfg.tie_word_embeddings),
            "params_per_norm": cfg.d_model}


def _count_hint(key: str, got: int, config: dict[str, Any], got_all: dict[str, Any]) -> str:
    """Why the count of ``key`` is wrong, when it matches a known mistake."""
    d, n_layers, d_head = config["d_model"], config["n_layers"], config["d_head"]
    heads, kv, d_vocab = config["n_heads"], config["n_key_value_heads"], config["d_vocab"]
    matrices = 3 if config["gated_mlp"] else 2
    if key == "mlp":
        if config["gated_mlp"] and got == n_layers * 2 * d * config["d_mlp"]:
            return "a gated MLP has three matrices (gate, up and down), not two"
        if not config["gated_mlp"] and got == n_layers * 3 * d * config["d_mlp"]:
            return "this MLP is not gated: it has two matrices (in and out)"
        if got == matrices * d * config["d_mlp"]:
            return "that is one layer's MLP: multiply by n_layers"
        if got == n_layers * matrices * d * config["d_mlp"] + n_layers * (config["d_mlp"] + d):
            return "count weight matrices only, no biases"
    if key == "attention":
        if kv != heads and got == n_layers * d * d_head * 4 * heads:
            return "W_K and W_V have n_key_value_heads heads, not n_heads (grouped-query attention)"
        if got == d * d_head * (2 * heads + 2 * kv):
            return "that is one layer's attention: multiply by n_layers"
        if got == n_layers * d * d_head * (heads + kv):
            return "an attention layer has four matrices: W_Q and W_O (n_heads) and W_K and W_V (n_key_value_heads)"
    if key == "unembedding":
        if config["tied_embeddings"] and got == d_vocab * d:
            return "the embeddings are tied: the unembedding is the embedding matrix itself, stored once, so count 0"
        if not config["tied_embeddings"] and got == 0:
            return "the embeddings are not tied: the unembedding is a matrix of its own, d_vocab × d_model"
    if key == "norms" and config["params_per_norm"]:
        if got == 2 * n_layers * config["params_per_norm"]:
            return "there is one more norm after the last block: 2 × n_layers + 1 norms"
        if got == 0:
            return "count params_per_norm numbers for each norm: two per block and a final one"
        if got == n_layers * config["params_per_norm"]:
            return "each block has two norms (before attention and before the MLP), plus a final one"
    if key == "total":
        parts = [got_all.get(k) for k in COUNT_KEYS[:-1]]
        if all(isinstance(p, int) for p in parts) and got != sum(parts):
            return "total must be the sum of the other five entries"
    if key == "embedding" and got == 2 * d_vocab * d:
        return "count the embedding once here; the unembedding has its own entry"
    return ""


def count_compare(call: str, config: dict[str, Any], *, real_total: int | None = None) -> Callable[[Any, Any], None]:
    def compare(got: Any, want: dict[str, int]) -> None:
        expect(isinstance(got, dict), f"{call}: expected a dict with the keys {', '.join(COUNT_KEYS)}, "
                                      f"got {type(got).__name__}")
        missing = [k for k in COUNT_KEYS if k not in got]
        if missing:
            raise AssertionError(f"{call}: the dict has no entry {missing[0]!r} (expected the keys "
                                 f"{', '.join(COUNT_KEYS)})")
        extra = [k for k in got if k not in COUNT_KEYS]
        if extra:
            raise AssertionError(f"{call}: unexpected entry {extra[0]!r} (expected only {', '.join(COUNT_KEYS)})")
        values = {k: expect_whole_number(got[k], f"{call}[{k!r}]", hint="parameter counts are whole numbers: "
                                         "use integers (int(...)) throughout") for k in COUNT_KEYS}
        for key in COUNT_KEYS:
            if values[key] != want[key]:
                hint = _count_hint(key, values[key], config, values)
                raise AssertionError(f"{call}[{key!r}]: expected {want[key]:,}, got {values[key]:,}"
                                     + (f"\nhint: {hint}" if hint else ""))
        if real_total is not None:
            expect(values["total"] == real_total, f"{call}: total {values['total']:,} differs from the model's "
                                                  f"real count {real_total:,}")

    return compare


@count_parameters.check("GPT-3 as the video counts it: 175,181,291,520 in all, 115,964,116,992 in the MLPs")
def _() -> Case:
    config = dict(GPT3)
    call = "count_parameters(GPT-3)"

    def compare(got: Any, want: dict[str, int]) -> None:
        count_compare(call, config)(got, want)
        expect(want["total"] == 175_181_291_520 and want["mlp"] == 115_964_116_992,
               "internal: the reference does not give GPT-3's published count")

    return Case(args=(config,), call=call, compare=compare)


@count_parameters.check("the course model: the total must equal sum(p.numel() for p in model.parameters())")
def _() -> Case:
    config = course_config()
    real = sum(p.numel() for p in _model().parameters())
    call = "count_parameters(the course model's config)"
    return Case(args=(config,), call=call, compare=count_compare(call, config, real_total=real))


@count_parameters.check("a small configuration: 5 layers, 4 query and 2 key/value heads, gated, tied")
def _() -> Case:
    config = {"d_model": 64, "n_layers": 5, "n_heads": 4, "n_key_value_heads": 2, "d_head": 16, "d_mlp": 160,
              "gated_mlp": True, "d_vocab": 1000, "tied_embeddings": True, "params_per_norm": 64}
    call = "count_parameters(small config)"
    return Case(args=(config,), call=call, compare=count_compare(call, config))


# ---------------------------------------------------------------------------------------------
# 3.5 The parts of a logit

logit_parts = exercise("logit_parts", chapter=CHAPTER, number="3.5", title="The parts of a logit")


def logit_parts_compare(call: str, h: torch.Tensor, w: torch.Tensor) -> Callable[[Any, Any], None]:
    h_len, w_len = h.norm(), w.norm(dim=0)
    dots = h @ w

    def compare(got: Any, want: Any) -> None:
        expect(isinstance(got, (tuple, list)) and len(got) == 3,
               f"{call}: expected three things, (h_length, w_lengths, cosines), got {type(got).__name__}"
               + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""))
        length = _number(got[0])
        expect(length is not None, f"{call}: h_length should be a number (a float), got {type(got[0]).__name__} "
                                   f"{tuple(getattr(got[0], 'shape', ()))}\nhint: float(h.norm())")
        expect_close(length, float(want[0]), name=f"{call}: h_length", atol=1e-4, rtol=1e-4,
                     mistakes=[Mistake("that is the squared length; take the square root (h.norm())",
                                       lambda: float(h_len ** 2))])
        expect_close(got[1], want[1], name=f"{call}: w_lengths", atol=1e-5, rtol=1e-4, mistakes=[
            Mistake(".norm() without dim= gives one length for the whole matrix; the tokens are columns: "
                    "w.norm(dim=0)", lambda: w.norm().expand(w.shape[1])),
        ])
        expect_close(got[2], want[2], name=f"{call}: cosines", atol=1e-5, rtol=1e-4, mistakes=[
            Mistake("these are the dot products (the logits): divide by |h| and by each column's length",
                    lambda: dots),
            Mistake("you divided by |h| only; divide by each column's length too", lambda: dots / h_len),
            Mistake("you divided by the columns' lengths only; divide by |h| too", lambda: dots / w_len),
            Mistake("you divided by the squared lengths; use the lengths (norms) themselves",
                    lambda: dots / (h_len ** 2 * w_len ** 2)),
        ])

    return compare


@functools.cache
def _final_vector(prompt: str) -> torch.Tensor:
    model = _model()
    with torch.no_grad():
        _, cache = model.run_with_cache(model.to_tokens(prompt), names_filter=["ln_final.hook_out"])
    return cache["ln_final.hook_out"][0, -1].detach().float().cpu()


@logit_parts.check("the final vector of the chapter's prompt, columns of ' basketball', ' football', ' soccer'")
def _() -> Case:
    model = _model()
    h = _final_vector(PROMPT).clone()
    ids = [model.to_single_token(t) for t in (" basketball", " football", " soccer")]
    w = model.W_U[:, ids].detach().float().cpu().clone()
    call = "logit_parts(h, W_U[:, [basketball, football, soccer]])"
    return Case(args=(h, w), call=call, compare=logit_parts_compare(call, h, w))


@logit_parts.check("random h of length about 20 and 5 columns of very different lengths")
def _() -> Case:
    g = _gen(5)
    h = 3 * torch.randn(40, generator=g)
    w = torch.randn(40, 5, generator=g) * torch.tensor([0.1, 1.0, 3.0, 0.5, 8.0])
    call = "logit_parts(h, w)"
    return Case(args=(h, w), call=call, compare=logit_parts_compare(call, h, w))


# ---------------------------------------------------------------------------------------------
# 3.6 Direct effect of each MLP

mlp_direct_effects = exercise("mlp_direct_effects", chapter=CHAPTER, number="3.6", title="Direct effect of each MLP")


def _effects_mistakes(outs: torch.Tensor, scale: float, weight: torch.Tensor, column: torch.Tensor) -> list[Mistake]:
    return [
        Mistake("you did not divide by the final norm's scale: the norm divides the whole residual stream, "
                "each part included, by final_scale", lambda: (outs * weight) @ column),
        Mistake("you multiplied by final_scale; the norm divides by it", lambda: (outs * scale * weight) @ column),
        Mistake("you forgot the final norm's weight: multiply entry by entry by ln_weight",
                lambda: (outs / scale) @ column),
        Mistake("you summed over the layers; return one number per layer",
                lambda: ((outs / scale * weight) @ column).sum()),
    ]


@functools.cache
def _poland_parts() -> dict[str, Any]:
    model = _model()
    n = model.cfg.n_layers
    names = [f"blocks.{l}.hook_mlp_out" for l in range(n)] + ["ln_final.hook_scale"]
    with torch.no_grad():
        _, cache = model.run_with_cache(model.to_tokens(POLAND), names_filter=names)
    return {"outs": torch.stack([cache[f"blocks.{l}.hook_mlp_out"][0, -1] for l in range(n)]).float().cpu(),
            "scale": float(cache["ln_final.hook_scale"][0, -1]),
            "weight": model.ln_final.w.detach().float().cpu(),
            "column": model.W_U[:, model.to_single_token(" Warsaw")].detach().float().cpu()}


@mlp_direct_effects.check("'The capital of Poland is' and ' Warsaw': all 30 MLPs of the course model")
def _() -> Case:
    parts = {k: v.clone() if _is_tensor(v) else v for k, v in _poland_parts().items()}
    args = (parts["outs"], parts["scale"], parts["weight"], parts["column"])
    return Case(args=args, call="mlp_direct_effects(Poland's MLP outputs, scale, ln_weight, W_U[:, Warsaw])",
                atol=1e-4, mistakes=_effects_mistakes(*args))


@mlp_direct_effects.check("random: 4 layers, d_model 6, final_scale 2.5")
def _() -> Case:
    g = _gen(6)
    outs, weight, column = torch.randn(4, 6, generator=g), torch.rand(6, generator=g) + 0.5, torch.randn(6, generator=g)
    return Case(args=(outs, 2.5, weight, column), call="mlp_direct_effects(random, 2.5, ...)",
                mistakes=_effects_mistakes(outs, 2.5, weight, column))


# ---------------------------------------------------------------------------------------------
# 3.7 Why so late?

choice(
    "q_lens_late", chapter=CHAPTER, number="3.7", title="Why so late?",
    options={
        "a": "the model only learns that Warsaw is Poland's capital in its last layer",
        "b": "the plain lens reads the last position through a readout trained for the last layer; a view "
             "through the last two blocks finds the answer earlier, so the information is there before the "
             "plain lens can read it",
        "c": "RMSNorm hides the answer in the middle layers, and compatibility mode would reveal it",
        "d": "tied embeddings make the middle layers' vectors random",
    },
    explanation="the plain lens shows when the answer is readable by the final readout, not when the model "
                "has the information.",
    feedback={
        "a": "the view through the last two blocks finds ' Warsaw' several layers earlier: the information is "
             "there before the last layer",
        "c": "the folding check showed that compatibility mode gives exactly the same ranks",
        "d": "the middle layers' vectors are far from random: two blocks turn them into the right answer",
    },
)


# ---------------------------------------------------------------------------------------------
# 3.8 The restoration score

restoration_score = exercise("restoration_score", chapter=CHAPTER, number="3.8", title="The restoration score")


def _score_mistakes(p: torch.Tensor, clean: float, corrupted: float) -> list[Mistake]:
    return [
        Mistake("you divided by p_clean alone; measure both from the corrupted run: "
                "(p_restored - p_corrupted) / (p_clean - p_corrupted)", lambda: (p - corrupted) / clean),
        Mistake("that is p_restored / p_clean: it counts what survives the noise anyway as restored; "
                "subtract p_corrupted from both", lambda: p / clean),
        Mistake("you forgot to divide by p_clean - p_corrupted, the probability the noise took away",
                lambda: p - corrupted),
        Mistake("that is 1 minus the score: the probability still missing, not the part restored",
                lambda: (clean - p) / (clean - corrupted)),
    ]


@restoration_score.check("random probabilities [3, 4], p_clean 0.4, p_corrupted 0.05")
def _() -> Case:
    p = 0.05 + 0.35 * torch.rand(3, 4, generator=_gen(7))
    return Case(args=(p, 0.4, 0.05), call="restoration_score(p_restored, 0.4, 0.05)",
                mistakes=_score_mistakes(p, 0.4, 0.05))


@restoration_score.check("restoring everything gives 1, restoring nothing gives 0")
def _() -> Case:
    p = torch.tensor([[0.3, 0.02], [0.02, 0.3]])
    return Case(args=(p, 0.3, 0.02), call="restoration_score([[p_clean, p_corrupted], ...], 0.3, 0.02)",
                expected=torch.tensor([[1.0, 0.0], [0.0, 1.0]]), mistakes=_score_mistakes(p, 0.3, 0.02))


# ---------------------------------------------------------------------------------------------
# 3.9 What the corrupted run is for

choice(
    "q_trace_control", chapter=CHAPTER, number="3.9", title="What the corrupted run is for",
    options={
        "a": "the noise level: it tells us whether the noise was too strong",
        "b": "how much of the answer the model still gives without knowing the subject (from the rest of the "
             "prompt alone); a restoration counts only for what it adds beyond that",
        "c": "the <|endoftext|> token at position 0",
        "d": "the model's randomness: each run of the model gives a different answer",
    },
    explanation="the corrupted run is the baseline: the answer's probability from the prompt without its "
                "subject; restorations are measured against it.",
    feedback={
        "a": "it does show how much the noise removed, but its role in the score is the baseline subtracted from "
             "every restored run",
        "c": "position 0 is never corrupted, so it is the same in every run",
        "d": "the model is deterministic; only the noise is random, and it is seeded",
    },
)


# ---------------------------------------------------------------------------------------------
# 3.10 Adding a vector at the last position

add_at_last_position = exercise("add_at_last_position", chapter=CHAPTER, number="3.10",
                                title="Adding a vector at the last position")


def _add_mistakes(resid: torch.Tensor, vector: torch.Tensor) -> list[Mistake]:
    def at(position: int, value: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], torch.Tensor]:
        def compute() -> torch.Tensor:
            out = resid.clone()
            out[:, position] = value(out[:, position])
            return out
        return compute

    return [
        Mistake("you added the vector at every position; add it at the last one only (resid[:, -1])",
                lambda: resid + vector),
        Mistake("you added the vector at the first position; the last one is resid[:, -1]",
                at(0, lambda r: r + vector)),
        Mistake("you subtracted the vector; add it", at(-1, lambda r: r - vector)),
        Mistake("you replaced the last position by the vector; add it to what is there",
                at(-1, lambda r: vector.expand_as(r))),
    ]


@add_at_last_position.check("batch 3, 5 positions, d_model 8")
def _() -> Case:
    g = _gen(8)
    resid, vector = torch.randn(3, 5, 8, generator=g), torch.randn(8, generator=g)
    return Case(args=(resid, vector), call="add_at_last_position(resid, vector)", mistakes=_add_mistakes(resid, vector))


@add_at_last_position.check("the course model's width: batch 2, 7 positions, d_model 576")
def _() -> Case:
    g = _gen(9)
    resid, vector = torch.randn(2, 7, 576, generator=g), 5 * torch.randn(576, generator=g)
    return Case(args=(resid, vector), call="add_at_last_position(resid, vector)", mistakes=_add_mistakes(resid, vector))


# ---------------------------------------------------------------------------------------------
# 3.11 The rank-one update

rank_one_update = exercise("rank_one_update", chapter=CHAPTER, number="3.11", title="The rank-one update")


def _update_mistakes(W: torch.Tensor, key: torch.Tensor, change: torch.Tensor, direction: torch.Tensor) -> list[Mistake]:
    return [
        Mistake("you forgot to divide by direction · key; without it the key's output moves by (u · k*) d, not d",
                lambda: W + torch.outer(direction, change)),
        Mistake("divide by direction · key (u · k*), not key · key", lambda: W + torch.outer(direction, change) / (key @ key)),
        Mistake("the outer product uses the direction u, not the key: W + outer(direction, change) / (direction · key)",
                lambda: W + torch.outer(key, change) / (direction @ key)),
        Mistake("you used the key instead of the direction throughout: that is the update with u = k*, not the "
                "direction you were given", lambda: W + torch.outer(key, change) / (key @ key)),
        Mistake("you subtracted the change; add it", lambda: W - torch.outer(direction, change) / (direction @ key)),
        Mistake("you returned only the change of the matrix; add it to W_out", lambda: torch.outer(direction, change)
                / (direction @ key)),
    ]


def _update_inputs(seed: int, d_mlp: int, d_model: int) -> tuple[torch.Tensor, ...]:
    g = _gen(seed)
    W = torch.randn(d_mlp, d_model, generator=g)
    key = torch.rand(d_mlp, generator=g) + 0.2  # positive, so that direction · key is far from 0
    direction = key + 0.3 * torch.randn(d_mlp, generator=g)
    return W, key, torch.randn(d_model, generator=g), direction


@rank_one_update.check("random W_out [10, 4], key, change and a direction different from the key")
def _() -> Case:
    W, key, change, direction = _update_inputs(10, 10, 4)
    return Case(args=(W, key, change, direction), call="rank_one_update(W_out, key, change, direction)",
                mistakes=_update_mistakes(W, key, change, direction))


@rank_one_update.check("the key's output moves by exactly the change: key @ W' = key @ W_out + change")
def _() -> Case:
    W, key, change, direction = _update_inputs(11, 12, 5)
    call = "rank_one_update(W_out, key, change, direction)"

    def moves_by_change(got: Any, _: Any) -> None:
        expect(_is_tensor(got) and tuple(got.shape) == tuple(W.shape),
               f"{call}: expected a tensor of shape {tuple(W.shape)}, got {type(got).__name__} "
               f"{tuple(getattr(got, 'shape', ()))}\nhint: torch.outer(direction, change) is [d_mlp, d_model], "
               "like W_out")
        expect_close(key @ got - key @ W, change, name=f"{call}: key @ W' - key @ W_out", atol=1e-4, mistakes=[
            Mistake(m.hint, (lambda m=m: key @ m.compute() - key @ W)) for m in _update_mistakes(W, key, change, direction)])

    return Case(args=(W, key, change, direction), call=call, expected=PROPERTY, compare=moves_by_change)


# ---------------------------------------------------------------------------------------------
# 3.12 Dimensions per feature

feature_dimensionality = exercise("feature_dimensionality", chapter=CHAPTER, number="3.12",
                                  title="Dimensions per feature")


def dimensionality_mistakes(W: torch.Tensor) -> list[Mistake]:
    lengths = W.norm(dim=0)
    alive = lengths > 1e-6
    unit = W / lengths.clamp_min(1e-9)

    def safe(values: torch.Tensor) -> torch.Tensor:
        return torch.where(alive, values, torch.zeros_like(values))

    return [
        Mistake("in the denominator, scale W_i to length 1 (Ŵ_i · W_j), not W_i · W_j",
                lambda: safe(lengths ** 2 / ((W.T @ W) ** 2).sum(-1).clamp_min(1e-12))),
        Mistake("square the overlaps: the denominator is the sum of (Ŵ_i · W_j)²",
                lambda: safe(lengths ** 2 / (unit.T @ W).abs().sum(-1).clamp_min(1e-12))),
        Mistake("the numerator is the squared length ||W_i||², not the length",
                lambda: safe(lengths / ((unit.T @ W) ** 2).sum(-1).clamp_min(1e-12))),
        Mistake("sum over j, the other features (the last dimension of Ŵᵀ W), for each feature i",
                lambda: safe(lengths ** 2 / ((unit.T @ W) ** 2).sum(0).clamp_min(1e-12))),
        Mistake("the sum must include j = i, the feature itself", lambda: safe(
            lengths ** 2 / (((unit.T @ W) ** 2).sum(-1) - lengths ** 2).clamp_min(1e-12))),
    ]


def _dims_compare(call: str, W: torch.Tensor) -> Callable[[Any, Any], None]:
    def compare(got: Any, want: Any) -> None:
        if _is_tensor(got) and got.dtype.is_floating_point and torch.isnan(got).any():
            raise AssertionError(f"{call}: the result contains NaN\nhint: a feature that is not represented has a "
                                 "zero column, and 0 / 0 is NaN: return 0 there (torch.where on the column's length)")
        expect_close(got, want, name=call, atol=1e-4, rtol=1e-3, mistakes=dimensionality_mistakes(W))

    return compare


@feature_dimensionality.check("a feature of its own (1), an antipodal pair (1/2 each) and a dropped feature (0)")
def _() -> Case:
    W = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.8, -0.8, 0.0]])
    call = "feature_dimensionality([[1, 0, 0, 0], [0, 0.8, -0.8, 0]])"
    return Case(args=(W,), call=call, expected=torch.tensor([1.0, 0.5, 0.5, 0.0]), compare=_dims_compare(call, W))


@feature_dimensionality.check("a pentagon: five unit vectors 72° apart get 0.4 each")
def _() -> Case:
    angles = torch.arange(5) * 2 * math.pi / 5
    W = torch.stack([torch.cos(angles), torch.sin(angles)])
    call = "feature_dimensionality(pentagon)"
    return Case(args=(W,), call=call, expected=torch.full((5,), 0.4), compare=_dims_compare(call, W))


@feature_dimensionality.check("random W [3, 6] with columns of different lengths")
def _() -> Case:
    W = torch.randn(3, 6, generator=_gen(12)) * torch.tensor([0.3, 1.0, 2.0, 0.5, 1.5, 0.8])
    call = "feature_dimensionality(random W)"
    return Case(args=(W,), call=call, compare=_dims_compare(call, W))


# ---------------------------------------------------------------------------------------------
# 3.13 Why five features fit in two dimensions

choice(
    "q_sparse_sharing", chapter=CHAPTER, number="3.13", title="Why five features fit in two dimensions",
    options={
        "a": "the sparse model finds five exactly perpendicular directions in the plane",
        "b": "sparse features are rarely active together, so their overlap rarely costs anything, and the ReLU "
             "with a negative bias removes the small overlap when one feature is active alone",
        "c": "the importance weights make the less important features small enough to ignore",
        "d": "sparse features carry less information, so each needs fewer than two numbers",
    },
    explanation="sparsity makes interference rare, and the negative bias filters what is left: superposition.",
    feedback={
        "a": "a plane holds only two exactly perpendicular directions; the five arrows are 72° apart",
        "c": "in the sparsest model all five features are represented, with columns of about the same length",
        "d": "each feature is still one number that must come back out; what changes is how often features "
             "are active together",
    },
)
