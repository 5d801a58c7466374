"""Loaders cached once per server process, handed out so no visitor can change another's copy.

``st.cache_resource`` objects are shared by every visitor. Models therefore come out of
here as deep copies: a page may train, ``.train()`` or fine-tune what it gets without
touching the shared original.
"""
from __future__ import annotations

import copy

import streamlit as st
from torch import nn

from core import data as datasets
from core import weights


@st.cache_resource(show_spinner=False)
def _shared_checkpoint(name: str) -> weights.Loaded:
    return weights.load(name)


def checkpoint(name: str) -> tuple[nn.Module, weights.Loaded]:
    """A private copy of checkpoint ``name`` (eval mode) plus where it came from."""
    shared = _shared_checkpoint(name)
    return copy.deepcopy(shared.model).eval(), shared


@st.cache_resource(show_spinner=False)
def dataset(name: str, **options) -> datasets.ArrayDataset:
    """Datasets are immutable (frozen dataclass of arrays), so sharing them is safe."""
    ds = datasets.load(name, **options)
    ds.X.setflags(write=False)
    ds.y.setflags(write=False)
    return ds
