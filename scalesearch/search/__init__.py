"""Search: spaces of candidate networks, objectives and studies."""
