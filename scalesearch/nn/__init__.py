"""Turning specs into ``torch.nn.Module`` s: one builder per block kind."""

from scalesearch.nn.builder import Network, build_model

__all__ = ["Network", "build_model"]
