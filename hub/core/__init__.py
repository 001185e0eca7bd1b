"""The hub's core: bus, states, services, entities and the Hub that wires them.

Nothing here imports the adapters (api, storage, recorder, integrations): a test can build
a Hub in memory with no server at all.
"""
