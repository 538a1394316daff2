"""Recipes: small coroutines and classes for wiring daemons, built on the public core.

Each recipe lives in its own module and is imported from there, for example
``from tickwork.recipes.fanout import tee``. This package re-exports nothing, so every
recipe has exactly one import path:

- routing: :mod:`~tickwork.recipes.fanout` (``tee``), :mod:`~tickwork.recipes.merge`,
  :mod:`~tickwork.recipes.load_balance`, :mod:`~tickwork.recipes.worker_pool`
- coordination: :mod:`~tickwork.recipes.select`, :mod:`~tickwork.recipes.batcher`,
  :mod:`~tickwork.recipes.cooperative_every`
- state: :mod:`~tickwork.recipes.latest`, :mod:`~tickwork.recipes.lossy`
- hosting: :mod:`~tickwork.recipes.supervisor_host`, :mod:`~tickwork.recipes.sync_bridge`

See docs/recipes.md for when to use each one and what it guarantees.
"""
