// SPDX-License-Identifier: Apache-2.0
pragma solidity >=0.8.4;

/**
 * @title ICredentialRegistry
 * @notice External interface of {CredentialRegistry}: the directory of accreditation bodies and
 * issuers, their anchoring keys (EVM addresses) and Ed25519 signing keys (credential format v2),
 * batch anchoring, revocation, supersession (corrections and renewals) and the on-chain credential
 * check, with their events and errors.
 *
 * Import this file, not the implementation, to call the registry from another contract or to
 * decode its events and errors. Role management (`grantRole`, `hasRole`, `ACCREDITOR_ROLE`, ...)
 * comes from OpenZeppelin's {IAccessControl}.
 */
interface ICredentialRegistry {
    /// @notice Outcome of {checkCredential}, in order of precedence.
    enum Status {
        Valid,
        UnknownRoot,
        BadProof,
        Revoked,
        IssuerSuspended,
        KeyCompromised
    }

    // ------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------

    /// @notice The registry admin appointed `account` as an accreditation body (granting it
    /// ACCREDITOR_ROLE if it did not hold it), or renamed it: its directory entry is now `name` and
    /// `uri`.
    event AccreditorAppointed(address indexed account, string name, string uri);
    /// @notice An accreditation body admitted an issuer with its first key.
    event IssuerAdmitted(
        uint32 indexed issuerId, address indexed key, address indexed admittedBy, uint32 keyId, string name, string uri
    );
    /// @notice An accreditation body suspended an issuer.
    event IssuerSuspended(uint32 indexed issuerId, address indexed by);
    /// @notice An accreditation body lifted an issuer's suspension.
    event IssuerReinstated(uint32 indexed issuerId, address indexed by);
    /// @notice An issuer's active key changed (rotation by the issuer or assignment by an
    /// accreditation body, `by`). `previousKey` is retired from now on; its batches stay valid.
    event KeyRotated(
        uint32 indexed issuerId, address indexed previousKey, address indexed newKey, uint32 newKeyId, address by
    );
    /// @notice A key was declared compromised: batches it anchored at or after `since` are invalid,
    /// and it can no longer anchor or revoke.
    event KeyCompromised(address indexed key, uint32 indexed issuerId, uint40 since, address by);
    /// @notice A batch root was anchored. `metadataHash` is recorded only here, not in storage.
    event BatchAnchored(bytes32 indexed root, uint32 indexed issuerId, uint32 keyId, uint64 count, bytes32 metadataHash);
    /// @notice Issuer `issuerId` revoked credential `digest` in its own namespace. Deliberately
    /// lean (LOG2, one data word; it is paid once per credential): the reason, time and revoking
    /// key id are in storage, {credentialRevocation}(issuerId, digest).
    event CredentialRevoked(uint32 indexed issuerId, bytes32 digest);
    /// @notice A whole batch was revoked by key `keyId`.
    event BatchRevoked(bytes32 indexed root, uint32 keyId, uint8 reason);
    /// @notice Issuer `issuerId` superseded its credential `digest` with `newDigest`, anchored
    /// under `newRoot` and published with id `newId`; `kind` is 1 (correction) or 2 (renewal).
    /// Emitted right after the {CredentialRevoked} of the same `digest` (reason 2), so readers of
    /// revocations need not know supersessions. The time, block and revoking key id are in
    /// storage, {supersession} and {credentialRevocation}; `newRoot` and `newId` only here.
    event CredentialSuperseded(
        uint32 indexed issuerId, bytes32 indexed digest, bytes32 newDigest, bytes32 newRoot, uint8 kind, string newId
    );
    /// @notice Issuer `issuerId` made `publicKey` (a 32-byte Ed25519 public key) its signing key
    /// from now on; `previous` (zero if none) is retired from now on.
    event SigningKeySet(uint32 indexed issuerId, bytes32 indexed publicKey, bytes32 previous);
    /// @notice Signing key `publicKey` of issuer `issuerId` was declared compromised from `since`:
    /// signatures of batches anchored at or after `since` no longer count.
    event SigningKeyCompromised(bytes32 indexed publicKey, uint32 indexed issuerId, uint40 since, address by);

    // ------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------

    /// @notice {admitIssuer} or {onboardAccreditor} was given an empty name.
    error EmptyName();
    /// @notice {admitIssuer} or {onboardAccreditor} was given an empty uri.
    error EmptyUri();
    /// @notice {onboardAccreditor} was given the zero address.
    error InvalidAccreditor(address account);
    /// @notice {admitIssuer} or {onboardAccreditor} was given a `uri` that is not a DID in
    /// canonical form (e.g. a bare domain, a URL, upper case or a trailing dot in a did:web host,
    /// a byte outside ASCII): see `CanonicalDid` in CredentialRegistry.sol. Canonicalise it off
    /// chain (registry/core/identity.py) and use the canonical form.
    error NonCanonicalUri(string uri);
    /// @notice Issuer `issuerId` was already admitted with `uri`.
    error UriAlreadyRegistered(string uri, uint32 issuerId);
    /// @notice `key` is the zero address.
    error InvalidKey(address key);
    /// @notice `key` is already registered as a key (keys are never reused).
    error KeyAlreadyRegistered(address key);
    /// @notice No issuer has id `issuerId`.
    error UnknownIssuer(uint32 issuerId);
    /// @notice `key` is not a registered key.
    error UnknownKey(address key);
    /// @notice `key` was retired by a rotation or assignment and can no longer act as the active key.
    error KeyRetired(address key);
    /// @notice `key` was declared compromised: it can no longer anchor, revoke or rotate.
    error CompromisedKey(address key);
    /// @notice Issuer `issuerId` is suspended.
    error SuspendedIssuer(uint32 issuerId);
    /// @notice Issuer `issuerId` is not suspended, so it cannot be reinstated.
    error IssuerNotSuspended(uint32 issuerId);
    /// @notice `since` is zero or in the future.
    error InvalidCompromiseTime(uint40 since);
    /// @notice `key` is already compromised from `compromisedAt`, at or before the declared time.
    error KeyAlreadyCompromised(address key, uint40 compromisedAt);
    /// @notice `sender` may not declare `key` compromised.
    error UnauthorizedCompromiseDeclaration(address sender, address key);
    /// @notice A batch needs a non-zero `root` and `count`.
    error InvalidBatch(bytes32 root, uint64 count);
    /// @notice `root` is already anchored.
    error RootAlreadyAnchored(bytes32 root);
    /// @notice `root` is not anchored.
    error UnknownRoot(bytes32 root);
    /// @notice `sender` is not a key of the issuer that anchored `root`.
    error NotBatchIssuer(address sender, bytes32 root);
    /// @notice Issuer `issuerId` already revoked credential `digest` (or `digest` appears twice).
    error CredentialAlreadyRevoked(uint32 issuerId, bytes32 digest);
    /// @notice The batch `root` is already revoked.
    error BatchAlreadyRevoked(bytes32 root);
    /// @notice {revokeCredentials} was given no digests.
    error NoDigests();
    /// @notice {setSigningKey} was given the zero public key.
    error InvalidSigningKey(bytes32 publicKey);
    /// @notice `publicKey` is already registered as a signing key, by issuer `issuerId` (signing
    /// keys are never reused, not even by the issuer whose current key it is).
    error SigningKeyAlreadyRegistered(bytes32 publicKey, uint32 issuerId);
    /// @notice `publicKey` is not a registered signing key.
    error UnknownSigningKey(bytes32 publicKey);
    /// @notice Signing key `publicKey` is already compromised from `compromisedSince`, at or
    /// before the declared time.
    error SigningKeyAlreadyCompromised(bytes32 publicKey, uint40 compromisedSince);
    /// @notice `sender` may not declare signing key `publicKey` compromised.
    error UnauthorizedSigningKeyCompromise(address sender, bytes32 publicKey);
    /// @notice {supersedeCredential} was given a `kind` other than 1 (correction) or 2 (renewal),
    /// a zero `newDigest`, a `newDigest` equal to `digest`, or a `newId` empty or over 256 bytes.
    error InvalidSupersession(bytes32 digest, bytes32 newDigest);
    /// @notice {supersedeCredential}'s successor is not a live credential of the caller's issuer:
    /// `newRoot` is not anchored, was anchored by another issuer or is revoked, or the proof does
    /// not prove `newDigest` in it.
    error SuccessorNotAnchored(bytes32 newRoot, bytes32 newDigest);
    /// @notice {supersedeCredential}'s successor `newDigest` is already revoked (or superseded) by
    /// the caller's issuer: a lineage may not end in a dead credential.
    error SuccessorRevoked(uint32 issuerId, bytes32 newDigest);

    // ------------------------------------------------------------------------------------------
    // Accreditation bodies
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Appoints `account` as an accreditation body with a directory entry, or updates the
     * entry of one already appointed. Grants ACCREDITOR_ROLE when `account` does not hold it. A
     * body granted the role with plain `grantRole` has no entry (reports show its address) until
     * it is appointed. Revoking the role keeps the entry, so the issuers the body admitted stay
     * nameable; appointing it again grants the role back.
     * @param name Public display name (e.g. "Agencia Nacional de Evaluación").
     * @param uri DID of the body in canonical form, under the same rules as {admitIssuer}'s `uri`
     * (e.g. "did:web:aneca.example"). Not unique: two addresses of one body may share it.
     * @param account Address of the accreditation body (the one that signs its admissions).
     *
     * Requirements:
     * - the caller has the admin role of ACCREDITOR_ROLE (DEFAULT_ADMIN_ROLE);
     * - `account` is not the zero address;
     * - `name` and `uri` are not empty;
     * - `uri` is a DID in canonical form (see {admitIssuer}).
     *
     * Emits {IAccessControl-RoleGranted} when the role is newly granted, then {AccreditorAppointed}.
     */
    function onboardAccreditor(string calldata name, string calldata uri, address account) external;

    // ------------------------------------------------------------------------------------------
    // Issuer directory
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Admits an issuer with its first anchoring key.
     * @param name Public display name of the issuer (e.g. "University of Example").
     * @param uri DID identifying the issuer, in canonical form ("did:web:uni.example",
     * "did:web:localhost%3A8443", "did:key:z6Mk..."). Only canonical spellings are admitted, so
     * comparing URIs byte for byte compares identities: `uni.example`, `https://uni.example` or
     * `did:web:UNI.example` are refused, not treated as new identities.
     * @param key First active anchoring key of the issuer.
     * @return issuerId Sequential id of the new issuer, starting at 1.
     *
     * Requirements:
     * - the caller has ACCREDITOR_ROLE (recorded as `admittedBy`);
     * - `name` and `uri` are not empty;
     * - `uri` is a DID in canonical form: `did:`, a method name in [a-z0-9]+, `:`, a non-empty
     *   method-specific id; for did:web only [a-z0-9.-:] and upper-case `%XX` escapes, with no
     *   empty segment and no label starting or ending with `.`; for other methods DID Core
     *   idchars, `:` and `%XX`, not ending with `:`; no whitespace, no byte >= 0x80;
     * - no issuer has been admitted with the same `uri`;
     * - `key` is not the zero address and has never been registered as a key.
     *
     * Emits {IssuerAdmitted}.
     */
    function admitIssuer(string calldata name, string calldata uri, address key) external returns (uint32 issuerId);

    /**
     * @notice Suspends an issuer: it can no longer anchor, and {checkCredential} reports its
     * credentials as `IssuerSuspended` while the suspension lasts.
     * @param issuerId Issuer to suspend.
     *
     * Requirements:
     * - the caller has ACCREDITOR_ROLE (recorded in the event);
     * - the issuer exists and is not suspended.
     *
     * Emits {IssuerSuspended}.
     */
    function suspendIssuer(uint32 issuerId) external;

    /**
     * @notice Lifts an issuer's suspension.
     * @param issuerId Issuer to reinstate.
     *
     * Requirements:
     * - the caller has ACCREDITOR_ROLE (recorded in the event);
     * - the issuer exists and is suspended.
     *
     * Emits {IssuerReinstated}.
     */
    function reinstateIssuer(uint32 issuerId) external;

    // ------------------------------------------------------------------------------------------
    // Keys
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Replaces the caller, an issuer's active key, with `newKey`. The caller is retired:
     * it can no longer anchor, but the batches it anchored stay valid and it may still revoke them.
     * @param newKey New active key of the caller's issuer.
     *
     * Requirements:
     * - the caller is the active (not retired), non-compromised key of an issuer;
     * - `newKey` is not the zero address and has never been registered as a key.
     *
     * Emits {KeyRotated} with `by` set to the caller.
     */
    function rotateKey(address newKey) external;

    /**
     * @notice Assigns a new active key to an issuer, retiring the current one. Used for recovery,
     * e.g. when the issuer's only key is lost or compromised.
     * @param issuerId Issuer whose key is replaced.
     * @param newKey New active key.
     *
     * Requirements:
     * - the caller has ACCREDITOR_ROLE (recorded as `by` in the event);
     * - the issuer exists;
     * - `newKey` is not the zero address and has never been registered as a key.
     *
     * Emits {KeyRotated}.
     */
    function assignKey(uint32 issuerId, address newKey) external;

    /**
     * @notice Declares `key` compromised from `since` on: batches it anchored at or after `since`
     * are reported `KeyCompromised` by {checkCredential}, and the key can no longer anchor or
     * revoke. A later declaration may move `since` earlier, never later.
     * @param key A registered key (active or retired).
     * @param since Unix time from which the key is considered compromised.
     *
     * Requirements:
     * - `key` is registered;
     * - the caller has ACCREDITOR_ROLE, or is the active, non-compromised key of the same issuer
     *   and not `key` itself;
     * - `0 < since <= block.timestamp`;
     * - `key` is not already compromised at or before `since`.
     *
     * Emits {KeyCompromised}.
     */
    function declareKeyCompromised(address key, uint40 since) external;

    // ------------------------------------------------------------------------------------------
    // Signing keys (credential format v2: the issuer's Ed25519 key, bound to the directory)
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Makes `publicKey` the caller's issuer's signing key from now on: the Ed25519 key
     * whose Data Integrity signatures (eddsa-rdfc-2022) count for the batches the issuer anchors
     * while it is current. The issuer's previous signing key, if any, is retired from now on
     * (`until` = now); signatures of batches anchored before stay valid.
     * @param publicKey The raw 32-byte Ed25519 public key.
     *
     * Requirements:
     * - the caller may anchor: the active (not retired), non-compromised key of a non-suspended
     *   issuer (the same errors as {anchor}, in the same order);
     * - `publicKey` is not zero;
     * - `publicKey` has never been registered as a signing key, by any issuer (so setting the
     *   current key again reverts too).
     *
     * Emits {SigningKeySet}.
     */
    function setSigningKey(bytes32 publicKey) external;

    /**
     * @notice Declares signing key `publicKey` compromised from `since` on: its signatures no
     * longer count for batches anchored at or after `since`. A later declaration may move `since`
     * earlier, never later. The key stays its issuer's current key until replaced with
     * {setSigningKey}.
     * @param publicKey A registered signing key (current or retired).
     * @param since Unix time from which the key is considered compromised.
     *
     * Requirements:
     * - `publicKey` is registered;
     * - the caller has ACCREDITOR_ROLE, or is the active, non-compromised anchoring key of the
     *   issuer that registered `publicKey` (as for {declareKeyCompromised});
     * - `0 < since <= block.timestamp`;
     * - `publicKey` is not already compromised at or before `since`.
     *
     * Emits {SigningKeyCompromised}.
     */
    function declareSigningKeyCompromised(bytes32 publicKey, uint40 since) external;

    // ------------------------------------------------------------------------------------------
    // Anchoring and revocation
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Anchors the Merkle root of a batch of `count` credentials for the caller's issuer.
     * One transaction per batch, whatever its size.
     * @param root StandardMerkleTree root over the credential digests.
     * @param count Number of credentials in the batch.
     * @param metadataHash Hash of off-chain batch metadata; emitted, not stored.
     *
     * Requirements:
     * - the caller is the active (not retired), non-compromised key of a non-suspended issuer;
     * - `root` and `count` are not zero;
     * - `root` has never been anchored.
     *
     * Emits {BatchAnchored}.
     */
    function anchor(bytes32 root, uint64 count, bytes32 metadataHash) external;

    /**
     * @notice Revokes credential `digest` of the caller's issuer. Revocations live in the issuer's
     * own namespace, keyed by (issuerId, digest): a digest is unique per credential (salted), and
     * another issuer's write lands in that issuer's namespace, never in this one. No batch is read:
     * revoking a digest the issuer never anchored is accepted and harmless (it verifies nothing).
     * @param digest Credential digest (the tree value, not the leaf hash).
     * @param reason Application-defined reason code (0 = unspecified); stored, not emitted.
     *
     * Requirements:
     * - the caller is a registered (active or retired), non-compromised key (a suspended issuer
     *   may still revoke);
     * - the credential is not already revoked by the caller's issuer.
     *
     * Emits {CredentialRevoked}. Errors, in order: `UnknownKey`, `CompromisedKey`,
     * `CredentialAlreadyRevoked`.
     */
    function revokeCredential(bytes32 digest, uint8 reason) external;

    /**
     * @notice Revokes several credentials of the caller's issuer in one transaction, with the same
     * rules as {revokeCredential}.
     * @param digests Credential digests; all or nothing.
     * @param reason Reason code applied to every credential.
     *
     * Requirements:
     * - `digests` is not empty;
     * - the caller is a registered (active or retired), non-compromised key (a suspended issuer
     *   may still revoke);
     * - no digest in `digests` is already revoked by the caller's issuer, and none appears twice.
     *
     * Emits one {CredentialRevoked} per digest.
     */
    function revokeCredentials(bytes32[] calldata digests, uint8 reason) external;

    /**
     * @notice Revokes a whole batch: every credential under `root` is reported `Revoked`.
     * @param root Anchored batch root.
     * @param reason Application-defined reason code (0 = unspecified).
     *
     * Requirements:
     * - `root` is anchored;
     * - the caller is a registered (active or retired), non-compromised key of the issuer that
     *   anchored `root` (a suspended issuer may still revoke);
     * - the batch is not already revoked.
     *
     * Emits {BatchRevoked}.
     */
    function revokeBatch(bytes32 root, uint8 reason) external;

    /**
     * @notice Supersedes credential `digest` of the caller's issuer with its successor `newDigest`
     * (a corrected or renewed credential, already anchored by the same issuer): revokes `digest`
     * exactly as {revokeCredential} with reason 2 ("superseded by a new credential") and records
     * the link, so a verifier of the old credential can name its successor and a verifier of the
     * new one can confirm what it replaces.
     * @param digest Digest of the superseded credential (the tree value).
     * @param newRoot Anchored batch root of the successor.
     * @param newDigest Digest of the successor (the tree value).
     * @param proof StandardMerkleTree proof of `newDigest` under `newRoot`, as for {checkCredential}.
     * @param kind 1 = correction, 2 = renewal.
     * @param newId Public id of the successor credential (1 to 256 bytes); emitted, not stored.
     *
     * Requirements:
     * - the caller is a registered (active or retired), non-compromised key (a suspended issuer
     *   may still supersede, as it may revoke);
     * - `kind` is 1 or 2; `newDigest` is not zero and differs from `digest`; `newId` is 1 to 256
     *   bytes long;
     * - `newRoot` was anchored by the caller's issuer, its batch is not revoked, and `proof`
     *   proves `newDigest` in it;
     * - `newDigest` is not revoked (nor superseded) by the caller's issuer;
     * - `digest` is not already revoked by the caller's issuer.
     *
     * Emits {CredentialRevoked}, then {CredentialSuperseded}. Errors, in order: `UnknownKey`,
     * `CompromisedKey`, `InvalidSupersession`, `SuccessorNotAnchored`, `SuccessorRevoked`,
     * `CredentialAlreadyRevoked`.
     */
    function supersedeCredential(
        bytes32 digest,
        bytes32 newRoot,
        bytes32 newDigest,
        bytes32[] calldata proof,
        uint8 kind,
        string calldata newId
    ) external;

    // ------------------------------------------------------------------------------------------
    // Verification
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Checks one credential against the registry. Callable by other contracts.
     * @param root Batch root named in the credential's proof.
     * @param digest Credential digest (the tree value).
     * @param proof StandardMerkleTree proof (sibling hashes, leaf to root).
     * @return status The first failing check, in this order: `UnknownRoot`, `BadProof`,
     * `Revoked` (batch or credential), `KeyCompromised` (batch anchored at or after the anchoring
     * key's compromise time), `IssuerSuspended` (issuer suspended now); `Valid` otherwise.
     *
     * Requirements: none; it never reverts on well-formed calldata.
     */
    function checkCredential(bytes32 root, bytes32 digest, bytes32[] calldata proof)
        external
        view
        returns (Status status);

    // ------------------------------------------------------------------------------------------
    // Views (never revert; zero values mean "unknown")
    // ------------------------------------------------------------------------------------------

    /// @notice Number of issuers admitted so far; ids run from 1 to this number.
    /// Requirements: none.
    function issuerCount() external view returns (uint32);

    /// @notice Number of keys registered so far; key ids run from 1 to this number.
    /// Requirements: none.
    function keyCount() external view returns (uint32);

    /// @notice Directory entry of issuer `issuerId` (all zero/empty if unknown).
    /// Requirements: none.
    function issuer(uint32 issuerId)
        external
        view
        returns (
            string memory name,
            string memory uri,
            address admittedBy,
            uint40 admittedAt,
            uint40 suspendedAt,
            address activeKey
        );

    /// @notice Directory entry of accreditation body `account`: empty name and uri and
    /// `appointedAt` 0 for an unnamed body (granted the role with plain `grantRole`) or an address
    /// that was never appointed. `appointedAt` is the time of the latest {onboardAccreditor} for
    /// it. The entry outlives a revocation of the role; see `hasRole` for the role itself.
    /// Requirements: none.
    function accreditor(address account)
        external
        view
        returns (string memory name, string memory uri, uint40 appointedAt);

    /// @notice Id of the issuer admitted with exactly this `uri`, or 0. Pass the canonical DID:
    /// any other spelling of an admitted identity reads 0.
    /// Requirements: none.
    function issuerIdByUri(string calldata uri) external view returns (uint32);

    /// @notice Record of anchoring key `key` (issuerId 0 if unknown). `issuerSuspended` is the
    /// issuer's current suspension state.
    /// Requirements: none.
    function keyInfo(address key)
        external
        view
        returns (
            uint32 issuerId,
            uint32 keyId,
            uint40 activatedAt,
            uint40 retiredAt,
            uint40 compromisedAt,
            bool issuerSuspended
        );

    /// @notice Address of key `keyId` (zero if unknown).
    /// Requirements: none.
    function keyAddress(uint32 keyId) external view returns (address);

    /// @notice Batch record of `root` (anchoredAt 0 if unknown).
    /// Requirements: none.
    function batch(bytes32 root)
        external
        view
        returns (
            uint32 issuerId,
            uint32 keyId,
            uint40 anchoredAt,
            uint40 blockNumber,
            uint64 count,
            uint40 revokedAt,
            uint8 revocationReason
        );

    /// @notice Revocation of credential `digest` by issuer `issuerId` (revokedAt 0 if not revoked).
    /// `keyId` is the revoking key. Does not reflect a revocation of a whole batch; see {batch}.
    /// Requirements: none.
    function credentialRevocation(uint32 issuerId, bytes32 digest)
        external
        view
        returns (uint40 revokedAt, uint8 reason, uint32 keyId);

    /// @notice Supersession of credential `digest` by issuer `issuerId` (all zero if none): the
    /// successor's digest, when and in which block it was recorded (the block holds the
    /// {CredentialSuperseded} event with the successor's root and id) and its kind (1 =
    /// correction, 2 = renewal). A superseded credential is also revoked with reason 2; see
    /// {credentialRevocation}.
    /// Requirements: none.
    function supersession(uint32 issuerId, bytes32 digest)
        external
        view
        returns (bytes32 newDigest, uint40 supersededAt, uint40 blockNumber, uint8 kind);

    /// @notice Record of Ed25519 signing key `publicKey` (all zero if unknown): the issuer that
    /// registered it, when it became the issuer's signing key (`since`), when a newer one replaced
    /// it (`until`, 0 while current) and the declared compromise time (`compromisedSince`, 0 if
    /// none). It counts for a batch anchored at `t` when `since <= t`, `until == 0 || t < until`
    /// and `compromisedSince == 0 || t < compromisedSince`.
    /// Requirements: none.
    function signingKey(bytes32 publicKey)
        external
        view
        returns (uint32 issuerId, uint40 since, uint40 until, uint40 compromisedSince);

    /// @notice The current Ed25519 signing key of issuer `issuerId` (zero if it never set one,
    /// or the issuer is unknown). It may have been declared compromised: see {signingKey}.
    /// Requirements: none.
    function signingPublicKeyFor(uint32 issuerId) external view returns (bytes32 publicKey);
}
