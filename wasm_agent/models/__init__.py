"""Models: the `Model` interface, the scripted model, and provider clients."""

from .base import Model
from .scripted import ScriptedModel

__all__ = ["Model", "ScriptedModel"]
