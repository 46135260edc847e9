"""The one adapter that talks to an EVM node: RPC plumbing, typed reads, history, typed writes.

Also what belongs to a chain rather than to a user path: compiled artifacts, keys, network
profiles and the local anvil manager.
"""
