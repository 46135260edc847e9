"""The one adapter that talks to an EVM node, split by job.

``rpc`` JSON-RPC plumbing (one HTTP session); ``abi`` call encoding, event decoding and reverts
as the :class:`~registry.chain.abi.Revert` enum; ``model`` the typed records and role ids;
``reads`` typed reads and the one snapshot (``headcache`` its per-head-block cache); ``history``
log paging and block headers; ``calls`` typed registry calls; ``sender`` signing and
crash-safe sending; ``writes`` typed writes; ``adapter`` all of it as one :class:`Chain`;
``admin`` connect/deploy through the deployments file.

Also what belongs to a chain rather than to a user path: compiled artifacts, keys, network
profiles and the local anvil manager.
"""
