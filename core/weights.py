"""The checkpoint store: named, reproducible, safely loaded weights.

A checkpoint has a name, an architecture + config, a recipe (data, steps, seed) and a
recorded metric. ``load(name)`` looks in order:

1. ``models/`` — shipped with the repo, sha256-checked against ``models/manifest.json``;
2. the user cache (``$HERO_CACHE``, default ``~/.cache/pytorch-zero-to-hero``);
3. an online source, only when the recipe has one and the caller allows it;
4. training from the recipe (progress reported), then an atomic save to the user cache.

Files are safetensors with the architecture, config and recipe in their metadata, so a
file alone is enough to rebuild its model. Uploaded files are read with the same code:
safetensors directly, anything pickled only through ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pickle
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from core import nets
from core.errors import HeroError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DIR = ROOT / "models"
MANIFEST = SHIPPED_DIR / "manifest.json"
FORMAT_VERSION = "1"
_UMASK = os.umask(0o022)
os.umask(_UMASK)               # read once at import: os.umask can only be read by setting it
MAX_UPLOAD_BYTES = 20 * 2**20   # no demo model comes near this; bigger uploads are refused unread


def cache_dir() -> Path:
    return Path(os.environ.get("HERO_CACHE") or Path.home() / ".cache" / "pytorch-zero-to-hero")


# --------------------------------------------------------------------------- recipes

@dataclass(frozen=True)
class Recipe:
    """How to reproduce a checkpoint from scratch."""
    name: str
    arch: str
    config: dict
    dataset: str
    dataset_options: dict = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    seed: int = 0
    val_fraction: float = 0.2
    metric: str = "val_acc"
    online: Callable[[], dict] | None = None   # returns a state_dict from the internet (opt-in)
    # A model that ``fit`` on (X, y) arrays cannot train (a GPT on text, a diffusion model):
    # ``trainer(recipe, on_progress, device, stop_event) -> (model, meta)``, meta as train_recipe's.
    trainer: Callable | None = None

    def fingerprint(self) -> str:
        """Short hash of everything that changes the trained weights."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("online", "trainer")}
        if self.trainer is not None:   # the trainer's name, not its address, so the hash is stable
            fields["trainer"] = f"{self.trainer.__module__}.{self.trainer.__qualname__}"
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def meta(self, value: float, seconds: float, dataset: str, **extra) -> dict:
        """The metadata stored with a checkpoint trained from this recipe (``train_recipe`` and every
        ``trainer`` return it): the measured ``metric`` value, training seconds, torch and data."""
        return {"recipe": self.name, "recipe_fingerprint": self.fingerprint(),
                "metric": {"name": self.metric, "value": round(float(value), 4)},
                "train_seconds": round(seconds, 1), "torch": torch.__version__, "dataset": dataset, **extra}


RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    RECIPES[recipe.name] = recipe
    return recipe


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise HeroError("weights.unknown", name=name, known=", ".join(sorted(RECIPES)))
    return RECIPES[name]


# --------------------------------------------------------------------------- file format

@dataclass
class Checkpoint:
    state_dict: dict[str, torch.Tensor]
    meta: dict = field(default_factory=dict)   # arch, config, recipe, metric... (empty for bare files)
    format: str = "safetensors"                # or "pickle" for a weights_only torch.save file


def checkpoint_bytes(model: nn.Module, **meta) -> bytes:
    """Serialise ``model`` as safetensors with its architecture and config in the metadata."""
    header = {"hero_format": FORMAT_VERSION, "arch": nets.arch_name(model),
              "config": json.dumps(nets.config_dict(model))}
    header.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})
    # clone: tied weights (a GPT's embedding and output layer) share storage, which safetensors refuses
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    return st_save(state, metadata=header)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` so readers see the old file or the new one, never a half-written one.

    The bytes go to a temporary file in the same directory, are fsynced, then renamed over
    the target (``os.replace`` is atomic on POSIX and Windows). Two visitors saving the same
    checkpoint at once each rename a complete file; the last one wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _safetensors_metadata(data: bytes) -> dict:
    """Parse the safetensors header (8-byte little-endian length + JSON) without trusting it."""
    if len(data) < 8:
        raise HeroError("weights.not_safetensors")
    (n,) = struct.unpack("<Q", data[:8])
    if n <= 0 or 8 + n > len(data):
        raise HeroError("weights.not_safetensors")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HeroError("weights.not_safetensors") from None
    if not isinstance(header, dict):
        raise HeroError("weights.not_safetensors")
    meta = header.get("__metadata__") or {}
    return {k: _maybe_json(v) for k, v in meta.items()}


def _maybe_json(value: str):
    try:
        return json.loads(value)
    except (TypeError, json.JSONDecodeError):
        return value


def _looks_like_safetensors(data: bytes) -> bool:
    """safetensors: an 8-byte little-endian header length, then that many bytes of JSON. Its first
    byte is the length's low byte, so it can be 0x80 like a pickle's: tell them apart by the header."""
    if len(data) < 10:
        return False
    n = int.from_bytes(data[:8], "little")
    return 0 < n <= len(data) - 8 and data[8:9] == b"{"


def read_checkpoint(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> Checkpoint:
    """Read untrusted checkpoint bytes. Never executes code from the file.

    safetensors is parsed directly. A ``torch.save`` file (zip or raw pickle) is only
    opened with ``weights_only=True``, which refuses any object but tensors and plain
    containers — a pickle carrying code is rejected with ``weights.unsafe_pickle``.
    """
    if len(data) > max_bytes:
        raise HeroError("weights.too_large", size_mb=round(len(data) / 2**20, 1),
                        limit_mb=round(max_bytes / 2**20, 1))
    if not data:
        raise HeroError("weights.empty")
    if not _looks_like_safetensors(data) and (data[:4] == b"PK\x03\x04" or data[:1] == b"\x80"):
        # a torch.save zip, or a bare pickle stream (protocol 2+ starts with 0x80)
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError):
            raise HeroError("weights.unsafe_pickle") from None
        if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
            obj = obj["state_dict"]
        if not (isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values())):
            raise HeroError("weights.not_state_dict")
        return Checkpoint(state_dict=dict(obj), meta={}, format="pickle")
    meta = _safetensors_metadata(data)
    try:
        state = st_load(data)
    except Exception:  # safetensors raises its own error types for every malformation
        raise HeroError("weights.not_safetensors") from None
    return Checkpoint(state_dict=state, meta=meta)


def state_dict_problems(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> list[str]:
    """Why ``state_dict`` does not fit ``model``: missing/unexpected keys, shape mismatches."""
    expected = model.state_dict()
    problems = [f"missing: {k}" for k in expected if k not in state_dict]
    problems += [f"unexpected: {k}" for k in state_dict if k not in expected]
    problems += [f"{k}: file {tuple(state_dict[k].shape)} ≠ model {tuple(v.shape)}"
                 for k, v in expected.items() if k in state_dict and state_dict[k].shape != v.shape]
    return problems


def model_from_checkpoint(ckpt: Checkpoint, template: nn.Module | None = None,
                          expected_arch: str | None = None) -> nn.Module:
    """Rebuild the model a checkpoint describes and load its weights.

    A file written by this project names its architecture; ``expected_arch`` refuses others.
    A bare state_dict (no metadata) needs a ``template`` model to load into (a fresh copy is used).
    """
    arch = ckpt.meta.get("arch")
    if expected_arch and arch and arch != expected_arch:
        raise HeroError("weights.wrong_arch", detail=f"{arch} ≠ {expected_arch}")
    if arch:
        try:
            model = nets.build(arch, ckpt.meta.get("config") or {})
        except (HeroError, TypeError, ValueError) as exc:
            raise HeroError("weights.wrong_arch", detail=str(exc)) from None
    elif template is not None:
        import copy
        model = copy.deepcopy(template)
    else:
        raise HeroError("weights.no_metadata")
    if template is not None and arch:
        problems = state_dict_problems(template, ckpt.state_dict)
        if problems:
            raise HeroError("weights.wrong_arch", detail="; ".join(problems[:4]))
    problems = state_dict_problems(model, ckpt.state_dict)
    if problems:
        raise HeroError("weights.wrong_arch", detail="; ".join(problems[:4]))
    model.load_state_dict(ckpt.state_dict)
    return model.eval()


# --------------------------------------------------------------------------- the store

@dataclass
class Loaded:
    model: nn.Module
    meta: dict
    source: str                 # "shipped", "cache", "online" or "trained"
    notes: list[str] = field(default_factory=list)   # e.g. a shipped file failing its checksum


def read_manifest() -> dict:
    if not MANIFEST.exists():
        return {"version": 1, "checkpoints": {}}
    return json.loads(MANIFEST.read_text())


def verify_shipped(name: str) -> Path:
    """Path of a shipped checkpoint after checking its sha256 against the manifest."""
    entry = read_manifest()["checkpoints"].get(name)
    if entry is None:
        raise HeroError("weights.not_shipped", name=name)
    path = SHIPPED_DIR / entry["file"]
    if not path.exists():
        raise HeroError("weights.not_shipped", name=name)
    if sha256_file(path) != entry["sha256"]:
        raise HeroError("weights.tampered", name=name)
    return path


def _load_file(path: Path, recipe: Recipe) -> tuple[nn.Module, dict]:
    ckpt = read_checkpoint(path.read_bytes(), max_bytes=1 << 34)
    return model_from_checkpoint(ckpt, expected_arch=recipe.arch), ckpt.meta


_train_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(name: str) -> threading.Lock:
    with _locks_guard:
        return _train_locks.setdefault(name, threading.Lock())


def load(name: str, *, allow_online: bool = False, allow_train: bool = True,
         prefer_cache: bool = False, on_progress: Callable[[dict], None] | None = None,
         device: str = "cpu") -> Loaded:
    """The checkpoint ``name`` as an eval-mode model, from the first source that has it."""
    recipe = get_recipe(name)
    notes: list[str] = []
    cached = cache_dir() / f"{name}.safetensors"

    def from_cache() -> Loaded | None:
        if not cached.exists():
            return None
        try:
            model, meta = _load_file(cached, recipe)
        except HeroError as err:
            notes.append(f"cache unreadable ({err.code}); ignored")
            return None
        if meta.get("recipe_fingerprint") != recipe.fingerprint():
            notes.append("cache was trained from an older recipe; ignored")
            return None
        return Loaded(model, meta, "cache", notes)

    if prefer_cache and (hit := from_cache()):
        return hit
    try:
        model, meta = _load_file(verify_shipped(name), recipe)
        return Loaded(model, meta, "shipped", notes)
    except HeroError as err:
        if err.code == "weights.tampered":
            notes.append("shipped file failed its sha256 check; not used")
    if not prefer_cache and (hit := from_cache()):
        return hit
    if allow_online and recipe.online is not None:
        try:
            model = nets.build(recipe.arch, recipe.config)
            model.load_state_dict(recipe.online())
            return Loaded(model.eval(), {"arch": recipe.arch, "recipe": name}, "online", notes)
        except Exception as exc:  # network errors of every kind: fall back to training
            notes.append(f"online source failed ({type(exc).__name__}); trained locally instead")
    if not allow_train:
        raise HeroError("weights.unavailable", name=name)
    with _lock_for(name):  # a second visitor in this process waits, then reads the fresh cache
        if hit := from_cache():
            return hit
        model, meta = train_recipe(recipe, on_progress=on_progress, device=device)
        atomic_write(cached, checkpoint_bytes(model, **meta))
    return Loaded(model.eval(), meta, "trained", notes)


def train_recipe(recipe: Recipe, on_progress: Callable[[dict], None] | None = None,
                 device: str = "cpu", stop_event: threading.Event | None = None) -> tuple[nn.Module, dict]:
    """Train ``recipe`` from scratch; return the model and the metadata to store with it."""
    if recipe.trainer is not None:
        return recipe.trainer(recipe, on_progress, device, stop_event)
    from core import data as datasets
    from core.device import seed_everything
    from core.train import NaNGuard, fit, make_optimizer

    seed_everything(recipe.seed)
    ds = datasets.load(recipe.dataset, **recipe.dataset_options)
    split = datasets.split(ds, recipe.val_fraction, seed=recipe.seed)
    model = nets.build(recipe.arch, recipe.config)
    opt = make_optimizer(recipe.optimizer, model.parameters(), recipe.lr, recipe.weight_decay)
    started = time.perf_counter()
    last: dict = {}
    for event in fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val), optimizer=opt,
                     epochs=recipe.epochs, batch_size=recipe.batch_size, device=device, seed=recipe.seed,
                     callbacks=[NaNGuard()], stop_event=stop_event):
        last = event
        if on_progress is not None:
            on_progress(event)
    if last.get("reason") not in ("completed",):
        raise HeroError("weights.training_failed", reason=last.get("reason", "?"))
    meta = recipe.meta(last.get(recipe.metric, float("nan")), time.perf_counter() - started, ds.source)
    return model.cpu().eval(), meta


from core import recipes as _recipes  # noqa: E402,F401  (registers the project's recipes)
