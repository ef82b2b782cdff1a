"""Turning specs into ``torch.nn.Module`` s: one builder per block kind."""

from scalesearch.nn.builder import Network, build_model, zero_init_residuals

__all__ = ["Network", "build_model", "zero_init_residuals"]
